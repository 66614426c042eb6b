"""The executor on a fake transport: ordering, batches, retries, policies, interruption.

No SSH here: :class:`~octavia_upgrade.testing.FakeTransport` stands in for
each host and answers like a systemd host running Octavia would. The
end-to-end tests over real sshd nodes are in tests/engine/.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.errors import Refused
from octavia_upgrade.executor import Executor, Previous, RunResult
from octavia_upgrade.flavors import load_flavor
from octavia_upgrade.inventory import load_inventory
from octavia_upgrade.loader import load_runbook
from octavia_upgrade.plan import LOCAL, Plan, PlannedStep, build_plan, resolve_params, run_contexts
from octavia_upgrade.steps.base import Approval, Outcome
from octavia_upgrade.testing import FakePool, FakeTransport, result
from octavia_upgrade.transport import HostUnreachable

RUN_ID = "20261205-120000-beef"
HOSTS = {
    "ctl1": ["api", "worker", "db-migrate"],
    "ctl2": ["api", "worker"],
    "ctl3": ["api", "worker"],
    "hm1": ["health-manager", "housekeeping"],
}
CLOCK = itertools.count()


class Host(FakeTransport):
    """A fake control-plane node: systemd units that stop and start."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.active = {"octavia-api", "octavia-worker", "octavia-health-manager",
                       "octavia-housekeeping", "octavia-driver-agent"}
        self.order: list[tuple[int, str]] = []
        self.on(r"^systemctl stop ", self._stop)
        self.on(r"^systemctl start ", self._start)
        self.on(r"^systemctl is-active ", self._is_active)

    def run(self, command: str, **kw: Any) -> Any:  # type: ignore[override]
        self.order.append((next(CLOCK), command))
        return super().run(command, **kw)

    def _stop(self, command: str) -> Any:
        self.active.discard(command.split()[-1])
        return result(0)

    def _start(self, command: str) -> Any:
        self.active.add(command.split()[-1])
        return result(0)

    def _is_active(self, command: str) -> Any:
        return result(0 if command.split()[-1] in self.active else 3)


@dataclass
class Sink:
    """Records what the executor reports, as the state store would."""

    attempts: list[tuple[str, str, int, Outcome]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    approvals: list[str] = field(default_factory=list)
    tokens: itertools.count = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def step_started(self, step: PlannedStep, hosts: tuple[str, ...]) -> None:
        self.started.append(step.id)

    def attempt_started(self, step: PlannedStep, host: str, attempt: int) -> int:
        return next(self.tokens)

    def attempt_finished(self, token: int, step: PlannedStep, host: str, attempt: int,
                         outcome: Outcome, started: float, ended: float) -> None:
        with self.lock:
            self.attempts.append((step.id, host, attempt, outcome))

    def approval(self, step: PlannedStep, approval: Approval) -> None:
        self.approvals.append(step.id)

    def event(self, kind: str, **data: Any) -> None:
        self.events.append((kind, data))

    def status(self, step_id: str, host: str) -> str:
        return [o.status for s, h, _a, o in self.attempts if (s, h) == (step_id, host)][-1]

    def outcome(self, step_id: str, host: str) -> Outcome:
        return [o for s, h, _a, o in self.attempts if (s, h) == (step_id, host)][-1]


def approve(step: Any, message: str, impact: str | None) -> Approval:
    return Approval("tester", "--yes", time.time())


def make_plan(tmp: Path, steps: list[dict[str, Any]], *, rollback: list[dict[str, Any]] = (),
              final: list[dict[str, Any]] = (), max_failures: int | None = None,
              ) -> tuple[Plan, dict[str, dict[str, Any]]]:
    inv = tmp / "inventory.yaml"
    inv.write_text(yaml.safe_dump({
        "apiVersion": "octavia-upgrade/v1", "kind": "Inventory", "deployment": "test",
        "flavor": "venv",
        "hosts": {n: {"address": f"192.0.2.{10 + i}", "roles": r}
                  for i, (n, r) in enumerate(HOSTS.items())}}))
    doc: dict[str, Any] = {
        "apiVersion": "octavia-upgrade/v2", "kind": "Runbook",
        "metadata": {"name": "unit", "from": "dalmatian", "to": "epoxy", "revision": 1},
        "parameters": {"flag": {"type": "boolean", "default": False}},
        "steps": steps}
    if rollback:
        doc["rollback"] = list(rollback)
    if final:
        doc["finally"] = list(final)
    if max_failures is not None:
        doc["max_failures"] = max_failures
    rb_path = tmp / "unit.yaml"
    rb_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    catalog = load_catalog()
    runbook = load_runbook(rb_path, catalog=catalog)
    inventory = load_inventory(inv)
    flavor = load_flavor(inventory.flavor)
    params = resolve_params(runbook, {})
    plan = build_plan(runbook, inventory, flavor, catalog, params)
    return plan, run_contexts(runbook, inventory, flavor, catalog, params, RUN_ID)


def execute(plan: Plan, contexts: dict[str, dict[str, Any]], pool: FakePool, *,
            previous: Previous | None = None, cancel: threading.Event | None = None,
            force: threading.Event | None = None) -> tuple[RunResult, Sink]:
    sink = Sink()
    for name in HOSTS:
        pool.hosts.setdefault(name, Host(name))
    executor = Executor(plan=plan, contexts=contexts, runners=pool.get, local=pool.get(LOCAL),
                        sink=sink, prompter=approve, previous=previous, cancel=cancel,
                        force=force)
    return executor.execute(), sink


def stop(service: str, **extra: Any) -> dict[str, Any]:
    """A stop step; one attempt unless ``retry`` is given (v2's default retries with backoff)."""
    return {"id": f"stop-{service}", "name": f"Stop {service}", "kind": "service",
            "with": {"action": "stop", "services": [service]}, "retry": {"attempts": 1},
            **extra}


def test_every_command_sent_is_the_plans_and_steps_run_in_order(tmp_path: Path) -> None:
    plan, ctx = make_plan(tmp_path, [
        stop("housekeeping"), stop("api"),
        {"id": "backup", "name": "Back up", "kind": "backup",
         "with": {"dest_dir": "/var/backups/octavia"}},
        {"id": "migrate", "name": "Migrate", "kind": "db_migrate"},
        {"id": "start", "name": "Start", "kind": "service", "with": {"action": "start"},
         "retry": {"attempts": 1}},
    ])
    pool = FakePool()
    heads = load_catalog()
    pool.hosts["ctl1"] = (Host("ctl1").on(r"sha256sum", result(0, "abc123  /x\n2048\n"))
                          .on(r"current$", result(0, heads.get("dalmatian").alembic_head),
                              result(0, heads.get("epoxy").alembic_head + " (head)")))
    res, sink = execute(plan, ctx, pool)
    assert res.status == "succeeded", sink.attempts
    assert sink.started == ["stop-housekeeping", "stop-api", "backup", "migrate", "start"]
    for step_id, host, _attempt, outcome in sink.attempts:
        ps = plan.step(step_id)
        planned = {c.key: c.text for c in ps.commands[host]}
        assert outcome.commands, (step_id, host)
        for sent in outcome.commands:
            assert planned[sent["key"]] == sent["planned"]
    # What the fake hosts received is exactly what was recorded as sent.
    for name, host in pool.hosts.items():
        recorded = [c["sent"] for s, h, _a, o in sink.attempts if h == name for c in o.commands
                    for _ in range(int(c.get("times", 1)))]
        assert sorted(host.commands) == sorted(recorded), name
    # The run id fills the plan's token; the record keeps both.
    dump = sink.outcome("backup", "ctl1").commands[1]
    assert "{{ run.id }}" in dump["planned"] and RUN_ID in dump["sent"]
    assert dump["sent"] == dump["planned"].replace("{{ run.id }}", RUN_ID)
    assert sink.outcome("backup", "ctl1").outputs["path"] == (
        f"/var/backups/octavia/octavia-{RUN_ID}-backup.sql.gz")
    # Without `services`, a service step acts on every service the host runs.
    assert {c["key"] for c in sink.outcome("start", "hm1").commands} == {
        "start:health-manager", "verify:health-manager", "start:housekeeping",
        "verify:housekeeping"}
    assert pool.hosts["hm1"].active >= {"octavia-health-manager", "octavia-housekeeping"}


def test_batches_and_ramps_go_one_after_the_other(tmp_path: Path) -> None:
    plan, ctx = make_plan(tmp_path, [stop("api", serial=[1, "100%"])])
    pool = FakePool()
    res, sink = execute(plan, ctx, pool)
    assert res.status == "succeeded"
    assert [b.hosts for b in plan.step("stop-api").batches] == [("ctl1",), ("ctl2", "ctl3")]
    first_done = max(t for t, _c in pool.hosts["ctl1"].order)
    later = [t for h in ("ctl2", "ctl3") for t, _c in pool.hosts[h].order]
    assert later and min(later) > first_done


def test_once_steps_run_on_one_db_migrate_host(tmp_path: Path) -> None:
    plan, ctx = make_plan(tmp_path, [{"id": "migrate", "name": "Migrate", "kind": "db_migrate",
                                      "with": {"action": "current"}}])
    pool = FakePool()
    res, sink = execute(plan, ctx, pool)
    assert res.status == "succeeded"
    assert [(s, h) for s, h, _a, _o in sink.attempts] == [("migrate", "ctl1")]
    assert not pool.hosts["ctl2"].commands and not pool.hosts["hm1"].commands


def test_retries_back_off_then_succeed(tmp_path: Path) -> None:
    plan, ctx = make_plan(tmp_path, [{
        "id": "flaky", "name": "Flaky", "kind": "command", "targets": {"hosts": ["ctl1"]},
        "retry": {"attempts": 3, "delay": "50ms", "backoff": 2},
        "with": {"command": "probe"}}])
    pool = FakePool(ctl1=Host("ctl1").on(r"^probe", result(1), result(1), result(0)))
    started = time.monotonic()
    res, sink = execute(plan, ctx, pool)
    assert res.status == "succeeded"
    assert [(a, o.status) for _s, _h, a, o in sink.attempts] == [
        (1, "failed"), (2, "failed"), (3, "succeeded")]
    assert time.monotonic() - started >= 0.05 + 0.1  # 50 ms, then 100 ms


def test_an_unreachable_host_is_not_retried_and_drops_out(tmp_path: Path) -> None:
    plan, ctx = make_plan(tmp_path, [
        stop("api", retry={"attempts": 3}, on_failure="continue"), stop("worker")])
    pool = FakePool(ctl2=Host("ctl2").on(r".", HostUnreachable("ctl2: connection refused")))
    res, sink = execute(plan, ctx, pool)
    assert res.status == "failed" and res.failed == {"ctl2": "stop-api"}
    assert [a for s, h, a, _o in sink.attempts if h == "ctl2"] == [1, 1]
    assert sink.status("stop-api", "ctl2") == "unreachable"
    assert sink.status("stop-worker", "ctl2") == "skipped"
    assert sink.status("stop-worker", "ctl3") == "succeeded"


def test_a_connection_lost_mid_command_is_unknown_never_retried_and_told_once(
        tmp_path: Path) -> None:
    from octavia_upgrade.errors import ConnectionLost
    from octavia_upgrade.session.notify import Notifier

    plan, ctx = make_plan(tmp_path, [stop("api", retry={"attempts": 3}), stop("worker")])
    pool = FakePool(ctl2=Host("ctl2").on(r".", ConnectionLost(
        "ctl2: the connection closed before the command reported its exit status; its "
        "outcome is unknown")))
    res, sink = execute(plan, ctx, pool)
    assert res.status == "failed" and res.failed == {"ctl2": "stop-api"}
    # sent once: it may have run, so it is neither retried nor called unreachable
    assert [a for s, h, a, _o in sink.attempts if h == "ctl2"] == [1]
    assert sink.status("stop-api", "ctl2") == "unknown"
    events: list[dict[str, Any]] = []
    notifier = Notifier(plan, {"id": RUN_ID}, [events.append])
    for step_id, host, attempt, outcome in sink.attempts:
        notifier("attempt-finished", {"step_id": step_id, "host": host, "attempt": attempt,
                                      "status": str(outcome.status),
                                      "message": outcome.message})
    failed = [e["data"] for e in events if e["event"] == "step-failed"]
    assert [(d["step_id"], d["host"], d["status"]) for d in failed] == [
        ("stop-api", "ctl2", "unknown")]


def test_a_timed_out_command_aborts_and_finally_still_runs(tmp_path: Path) -> None:
    plan, ctx = make_plan(
        tmp_path, [stop("api"), stop("worker")],
        final=[{"id": "status", "name": "Status", "kind": "service",
                "with": {"action": "status", "services": ["api"]}}])
    pool = FakePool(ctl3=Host("ctl3").on(r"^systemctl stop", result(124, timed_out=True)))
    res, sink = execute(plan, ctx, pool)
    assert res.status == "failed" and "stop-api" in res.message
    assert sink.status("stop-api", "ctl3") == "timed_out"
    assert "stop-worker" not in sink.started
    assert {h for s, h, _a, _o in sink.attempts if s == "status"} == {"ctl1", "ctl2", "ctl3"}


def test_a_stop_that_does_not_take_effect_fails_verification(tmp_path: Path) -> None:
    plan, ctx = make_plan(tmp_path, [stop("housekeeping", **{"with": {
        "action": "stop", "services": ["housekeeping"], "verify_timeout": "300ms"}})])
    stuck = Host("hm1").on(r"^systemctl stop", result(0))  # says yes, keeps running
    res, sink = execute(plan, ctx, FakePool(hm1=stuck))
    assert res.status == "failed"
    out = sink.outcome("stop-housekeeping", "hm1")
    assert "still active" in out.message
    verify = [c for c in out.commands if c["key"] == "verify:housekeeping"]
    assert len(verify) == 1 and verify[0]["times"] >= 2  # polled, recorded once with a count


def test_rollback_runs_in_its_listed_order_after_a_failure(tmp_path: Path) -> None:
    plan, ctx = make_plan(
        tmp_path,
        [{"id": "boom", "name": "Boom", "kind": "command", "targets": {"hosts": ["ctl1"]},
          "on_failure": "rollback", "with": {"command": "false"}},
         stop("api")],
        rollback=[{"id": "first", "name": "First", "kind": "command",
                   "targets": {"hosts": ["ctl1"]}, "with": {"command": "echo first"}},
                  {"id": "second", "name": "Second", "kind": "command",
                   "targets": {"hosts": ["ctl1"]}, "with": {"command": "echo second"}}])
    pool = FakePool(ctl1=Host("ctl1").on(r"^false", result(1)))
    res, sink = execute(plan, ctx, pool)
    assert res.status == "rolled_back"
    assert sink.started == ["boom", "first", "second"]
    assert ("rollback-started", {"step_id": "boom"}) in sink.events


def test_max_failures_stops_a_continue_step_once_exceeded(tmp_path: Path) -> None:
    plan, ctx = make_plan(tmp_path, [stop("api", on_failure="continue"), stop("worker")],
                          max_failures=0)
    pool = FakePool(ctl2=Host("ctl2").on(r"^systemctl stop", result(5)))
    res, sink = execute(plan, ctx, pool)
    assert res.status == "failed"
    assert "stop-worker" not in sink.started
    assert any(kind == "max-failures" for kind, _d in sink.events)


def test_when_false_skips_and_outputs_feed_later_steps(tmp_path: Path) -> None:
    plan, ctx = make_plan(tmp_path, [
        {"id": "skipped", "name": "Skipped", "kind": "command", "when": "params.flag",
         "targets": {"hosts": ["ctl1"]}, "with": {"command": "never"}},
        {"id": "rev", "name": "Revision", "kind": "db_migrate", "with": {"action": "current"}},
        {"id": "echo", "name": "Echo", "kind": "command", "targets": {"hosts": ["ctl2"]},
         "with": {"command": "echo {{ outputs.rev.revision }}"}},
    ])
    pool = FakePool(ctl1=Host("ctl1").on(r"current$", result(0, "fabf4983846b (head)\n")))
    res, sink = execute(plan, ctx, pool)
    assert res.status == "succeeded"
    assert sink.status("skipped", "ctl1") == "skipped" and "never" not in pool.hosts["ctl1"].commands
    echo = sink.outcome("echo", "ctl2").commands[0]
    assert echo["planned"] == "echo {{ outputs.rev.revision }}"
    assert echo["sent"] == "echo fabf4983846b" == pool.hosts["ctl2"].commands[-1]


def _work(retry: dict[str, Any]) -> dict[str, Any]:
    return {"id": "work", "name": "Work", "kind": "command", "targets": {"roles": ["api"]},
            "with": {"command": "work"}, "retry": retry}


def test_a_stop_waits_for_running_commands_and_a_second_stops_at_once(tmp_path: Path) -> None:
    """cancel: the command running on ctl2 is waited for and recorded, also while ctl1
    sits between two attempts (it stops there); force: nothing is waited for."""
    plan, ctx = make_plan(tmp_path, [_work({"attempts": 3, "delay": "5s"}), stop("worker")])

    def slow(command: str) -> Any:
        time.sleep(1.0)
        return result(0)

    pool = FakePool(ctl1=Host("ctl1").on(r"^work", result(1)),
                    ctl2=Host("ctl2").on(r"^work", slow))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    res, sink = execute(plan, ctx, pool, cancel=cancel)
    assert res.status == "interrupted"
    assert sink.status("work", "ctl2") == "succeeded"  # not unknown: it was waited for
    assert [(a, o.status) for s, h, a, o in sink.attempts if (s, h) == ("work", "ctl1")] == \
        [(1, "failed")]  # its retry never started
    assert ("waiting-for-commands", {"in_flight": ["work on ctl2 (running 0s)"]}) in sink.events
    assert "stop-worker" not in sink.started

    release = threading.Event()

    def hang(command: str) -> Any:
        release.wait(5)
        return result(0)

    pool = FakePool(ctl2=Host("ctl2").on(r"^work", hang))
    cancel, force = threading.Event(), threading.Event()
    threading.Timer(0.3, cancel.set).start()
    threading.Timer(0.6, force.set).start()
    started = time.monotonic()
    try:
        res, sink = execute(plan, ctx, pool, cancel=cancel, force=force)
    finally:
        release.set()
    assert time.monotonic() - started < 4
    assert res.status == "interrupted"
    assert sink.status("work", "ctl2") == "unknown"
    assert ("interrupted", {"in_flight": ["work@ctl2"]}) in sink.events


def test_resume_skips_what_is_done_and_refuses_an_unconfirmed_unknown(tmp_path: Path) -> None:
    plan, ctx = make_plan(tmp_path, [stop("api"), stop("worker")])
    done = {("stop-api", h): "succeeded" for h in ("ctl1", "ctl2", "ctl3")}
    pool = FakePool()
    res, sink = execute(plan, ctx, pool, previous=Previous(
        status=done, attempts={k: 1 for k in done}))
    assert res.status == "succeeded"
    assert sink.started == ["stop-worker"]
    assert not any("octavia-api" in c for h in pool.hosts.values() for c in h.commands)

    unknown = {**done, ("stop-worker", "ctl1"): "unknown"}
    with pytest.raises(Refused, match="stop-worker on ctl1"):
        execute(plan, ctx, FakePool(), previous=Previous(status=unknown))
    res, sink = execute(plan, ctx, FakePool(), previous=Previous(
        status=unknown, attempts={("stop-worker", "ctl1"): 1},
        rerun_unknown=frozenset({("stop-worker", "ctl1")})))
    assert res.status == "succeeded"
    assert [(h, a) for s, h, a, _o in sink.attempts if s == "stop-worker"][0] == ("ctl1", 2)


def test_a_kind_cannot_send_a_command_the_plan_does_not_hold(tmp_path: Path) -> None:
    plan, ctx = make_plan(tmp_path, [stop("api")])
    ps = plan.step("stop-api")
    with pytest.raises(KeyError, match="no planned command 'upgrade'"):
        ps.command("ctl1", "upgrade")
