"""The session logic without SSH: ``api.plan``/``run``/``resume`` over scripted hosts.

Hosts are :class:`~octavia_upgrade.testing.FakeTransport` (through
:class:`~octavia_upgrade.testing.FakePool`); the state is a real SQLite
database in ``tmp_path``. Covered: preparation errors, what ``resume``
decides about unknown outcomes, the plan comparison (same plan, a changed
command, a plan from an older tool) and an interrupted run coming back to the
caller as data instead of ending the process.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from octavia_upgrade import api
from octavia_upgrade.plan import PLAN_SCHEMA_VERSION
from octavia_upgrade.cli.wording import describe
from octavia_upgrade.config import Settings
from octavia_upgrade.console import Console
from octavia_upgrade.errors import (InvalidInput, ParamSyntaxError, PlanChanged,
                                    PlanSchemaChanged, SecretParamsMissing, UnknownHosts,
                                    UnknownOutcome)
from octavia_upgrade.plandiff import differences
from octavia_upgrade.session import parse_param_args, prepare, previous_state
from octavia_upgrade.state import open_store
from octavia_upgrade.testing import FakePool, FakeTransport, result

SECRET = "tok-5ecret-value"


class RecordingStore:
    """The real SQLite store, remembering the options and commands a run hands it.

    ``create_run(options=...)`` and ``record_end(commands=...)`` are passed on
    when the store takes them.
    """

    def __init__(self, real: Any) -> None:
        object.__setattr__(self, "real", real)
        object.__setattr__(self, "options", [])
        object.__setattr__(self, "commands", [])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.real, name, value)

    def create_run(self, **kw: Any) -> Any:
        self.options.append(kw.get("options"))
        return self.real.create_run(**_accepted(self.real.create_run, kw, "options"))

    def record_end(self, *args: Any, **kw: Any) -> Any:
        self.commands.append(kw.get("commands"))
        return self.real.record_end(*args, **_accepted(self.real.record_end, kw, "commands"))


def _accepted(method: Any, kw: dict[str, Any], name: str) -> dict[str, Any]:
    return kw if name in inspect.signature(method).parameters else {
        k: v for k, v in kw.items() if k != name}


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.work = root / "work"
        self.work.mkdir()
        self.settings = Settings(state_dir=root / "state")
        self.store = RecordingStore(open_store(None, self.settings.state_dir))
        self.out = io.StringIO()
        self.write_runbook()
        self.write_inventory("hello")

    def write_runbook(self, steps: list[dict[str, Any]] | None = None) -> Path:
        steps = steps or [
            {"id": "greet", "kind": "command", "targets": {"roles": ["api"]},
             "with": {"command": "echo {{ vars.greeting }} {{ params.token }}"},
             "idempotent": True},
            {"id": "migrate", "kind": "command", "targets": {"roles": ["api"]},
             "with": {"command": "migrate-now"}},
        ]
        doc = {"apiVersion": "octavia-upgrade/v1", "kind": "Runbook",
               "metadata": {"name": "rb", "from": "dalmatian", "to": "epoxy", "revision": 1,
                            "description": "session test"},
               "parameters": {"token": {"type": "string", "secret": True, "required": True},
                              "mode": {"type": "string", "default": "fast"}},
               "steps": steps}
        path = self.work / "rb.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def write_inventory(self, greeting: str) -> Path:
        doc = {"apiVersion": "octavia-upgrade/v1", "kind": "Inventory",
               "deployment": "unit", "flavor": "deb", "vars": {"greeting": greeting},
               "hosts": {"ctl1": {"address": "192.0.2.11", "roles": ["api", "db-migrate"]},
                         "ctl2": {"address": "192.0.2.12", "roles": ["api"]}}}
        path = self.work / "inv.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def console(self) -> Console:
        return Console(stream=self.out)

    def run(self, pool: FakePool, **kw: Any) -> api.RunResult:
        kw.setdefault("params", {"token": SECRET})
        return api.run("rb.yaml", "inv.yaml", detect=False, settings=self.settings,
                       store=self.store, console=self.console(), pool=pool, **kw)

    def resume(self, run_id: str, pool: FakePool | None = None, **kw: Any) -> api.RunResult:
        kw.setdefault("params", {"token": SECRET})
        return api.resume(run_id, settings=self.settings, store=self.store,
                          console=self.console(), pool=pool or FakePool(), **kw)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    w = World(tmp_path)
    monkeypatch.chdir(w.work)  # the run is started with relative paths
    yield w
    w.store.real.close()


def failing_migrate() -> FakePool:
    return FakePool(ctl1=FakeTransport("ctl1").on(r"^migrate-now", result(1, stderr="boom")))


# --------------------------------------------------------------------------- preparation


def test_prepare_errors_carry_their_data_and_the_cli_words_them(world: World) -> None:
    with pytest.raises(UnknownHosts) as limit:
        prepare("rb.yaml", "inv.yaml", {"token": "x"}, limit="ctl1,ctl9")
    assert limit.value.names == ["ctl9"]
    assert {"ctl1", "ctl2"} <= set(limit.value.known)  # hosts, and roles as groups
    assert "--" not in str(limit.value)
    assert describe(limit.value).startswith("--limit: no host or group named ctl9")

    with pytest.raises(ParamSyntaxError) as syntax:
        parse_param_args(["token"])
    assert syntax.value.item == "token" and "--" not in str(syntax.value)
    assert describe(syntax.value) == "--param 'token': expected NAME=VALUE"

    with pytest.raises(InvalidInput, match="unknown parameter"):
        prepare("rb.yaml", "inv.yaml", {"token": "x", "nope": "1"})
    assert prepare("rb.yaml", "inv.yaml", {"token": "x"}, limit="ctl2").inventory.hosts[0].name \
        == "ctl2"


# --------------------------------------------------------------------------- run and resume


def test_a_run_records_absolute_paths_and_resumes_from_another_directory(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    first = world.run(failing_migrate(), params={"token": SECRET, "mode": "slow"}, yes=True)
    assert first.status == "failed" and first.failed == {"ctl1": "migrate"}
    run = world.store.get_run(first.run_id)
    assert run.runbook_path == str(world.work / "rb.yaml")
    assert run.inventory_path == str(world.work / "inv.yaml")
    assert run.plan["schema_version"] == PLAN_SCHEMA_VERSION
    from octavia_upgrade.identity import current

    assert world.store.options == [{"detect": False, "limit": None, "yes": True,
                                    "preflight": True,
                                    "params": {"token": "***", "mode": "slow"},
                                    "operator": current().name}]
    assert SECRET not in json.dumps(run.plan) + json.dumps(run.params) + world.out.getvalue()

    elsewhere = world.root / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(SecretParamsMissing) as missing:
        world.resume(first.run_id, params={})
    assert missing.value.names == ["token"] and "--param token=..." in describe(missing.value)

    pool = FakePool()
    again = world.resume(first.run_id, pool=pool)
    assert (again.status, again.run_id, again.executed) == ("succeeded", first.run_id, True)
    # greet succeeded on both hosts before: only the failed (step, host) runs again
    assert pool.get("ctl1").commands == ["migrate-now"]
    assert pool.get("ctl2").commands == []
    done = world.resume(first.run_id)
    assert (done.executed, done.message) == (False, "already finished successfully; "
                                                    "nothing to resume")


def test_the_sink_hands_the_commands_sent_to_the_store(world: World) -> None:
    from octavia_upgrade.plan import PlannedStep
    from octavia_upgrade.session import RunSink
    from octavia_upgrade.steps.base import Outcome

    prep = prepare("rb.yaml", "inv.yaml", {"token": SECRET})
    run = world.store.real.create_run(
        runbook_name="rb", runbook_path="/rb.yaml", runbook_sha256="0" * 64, runbook_revision=1,
        from_release="dalmatian", to_release="epoxy", deployment="unit")
    lines: list[tuple[str, dict[str, Any]]] = []

    class Log:
        def info(self, event: str, **data: Any) -> None:
            lines.append((event, data))

    from octavia_upgrade.logs import Redactor

    sink = RunSink(world.store, run.id, Log(), world.console(), prep.plan,
                   redact=Redactor([SECRET]).redact)
    step: PlannedStep = prep.plan.step("greet")
    token = sink.attempt_started(step, "ctl1", 1)
    sent = [{"key": "greet/0", "planned": f"echo hello {SECRET}",
             "sent": f"echo hello {SECRET}"}]
    sink.attempt_finished(token, step, "ctl1", 1, Outcome("succeeded", rc=0, commands=sent),
                          0.0, 0.1)
    assert world.store.commands == [sent]
    (_, finished), = [x for x in lines if x[0] == "attempt-finished"]
    assert finished["commands"] == [{"id": "greet/0", "planned": "echo hello ***",
                                     "sent": "echo hello ***"}]


def test_unknown_outcomes_run_again_only_when_idempotent_or_confirmed(world: World) -> None:
    prep = prepare("rb.yaml", "inv.yaml", {"token": SECRET})
    store = world.store.real
    run = store.create_run(
        runbook_name="rb", runbook_path="/rb.yaml", runbook_sha256="0" * 64, runbook_revision=1,
        from_release="dalmatian", to_release="epoxy", deployment="unit")
    store.record_start(run.id, "greet", "ctl1", 1)    # idempotent
    store.record_start(run.id, "migrate", "ctl2", 1)  # not idempotent
    console = world.console()
    asked: list[str] = []

    def refuse(question: str) -> bool:
        asked.append(question)
        return False

    with pytest.raises(UnknownOutcome) as refused:
        previous_state(store, run.id, prep.plan, yes=False, console=console, confirm=refuse)
    assert (refused.value.step_id, refused.value.host) == ("migrate", "ctl2")
    assert len(asked) == 1 and "migrate on ctl2" in asked[0]
    assert "resume with --yes" in describe(refused.value) and "--" not in str(refused.value)

    confirmed = previous_state(store, run.id, prep.plan, yes=False, console=console,
                               confirm=lambda q: True)
    assert confirmed.rerun_unknown == {("greet", "ctl1"), ("migrate", "ctl2")}
    in_advance = previous_state(store, run.id, prep.plan, yes=True, console=console,
                                confirm=refuse)
    assert in_advance.rerun_unknown == confirmed.rerun_unknown and len(asked) == 1
    assert "greet on ctl1: outcome unknown; idempotent, will run again" in world.out.getvalue()


# --------------------------------------------------------------------------- plan comparison


def test_resume_refuses_a_changed_plan_with_a_masked_diff(world: World) -> None:
    first = world.run(failing_migrate())
    world.write_inventory("bonjour")  # same runbook, another command
    with pytest.raises(PlanChanged) as changed:
        world.resume(first.run_id)
    diff = changed.value.diff
    assert "--- recorded: step greet" in diff and "+++ now: step greet" in diff
    assert "-    text: echo hello ***" in diff and "+    text: echo bonjour ***" in diff
    assert "recorded: vars" not in diff and "step migrate" not in diff
    assert SECRET not in str(changed.value)
    assert world.store.get_run(first.run_id).status == "failed"  # nothing ran
    assert world.store.get_lock("unit") is None


def test_a_plan_diff_is_bounded_and_ignores_estimates() -> None:
    step = {"id": "s", "commands": {"h": ["a"]}, "estimate": 3.0}
    base = {"schema_version": 1, "steps": [step]}
    assert differences(base, {**base, "steps": [{**step, "estimate": 9.5}]}) == ""
    big = {**base, "hosts": [{"name": f"h{i}"} for i in range(200)]}
    diff = differences(base, big, max_lines=10)
    assert len(diff.splitlines()) == 11 and diff.endswith("more lines)")


def test_resume_refuses_a_plan_recorded_without_a_schema_version(world: World) -> None:
    first = world.run(failing_migrate())
    db = sqlite3.connect(world.settings.state_dir / "state.db")
    with db:
        db.execute("UPDATE runs SET plan = json_remove(plan, '$.schema_version'), "
                   "tool_version = '0.0.9'")
    db.close()
    with pytest.raises(PlanSchemaChanged) as old:
        world.resume(first.run_id)
    assert (old.value.recorded, old.value.current) == (None, PLAN_SCHEMA_VERSION)
    assert "octavia-upgrade 0.0.9" in str(old.value) and "finish the run with" in str(old.value)


# --------------------------------------------------------------------------- interruption


def _with_a_step_after(world: World) -> None:
    world.write_runbook([
        {"id": "greet", "kind": "command", "targets": {"roles": ["api"]},
         "with": {"command": "echo {{ vars.greeting }}"}, "idempotent": True},
        {"id": "migrate", "kind": "command", "targets": {"hosts": ["ctl1"]},
         "with": {"command": "migrate-now"}},
        {"id": "after", "kind": "command", "targets": {"roles": ["api"]},
         "with": {"command": "after-now"}}])


def _sent(pool: FakePool) -> list[str]:
    return [c for h in ("ctl1", "ctl2") for c in pool.get(h).commands]


def test_a_signal_lets_the_running_command_end_and_records_it(world: World) -> None:
    """The first SIGINT starts nothing further and waits for what runs: its result
    is known, so ``resume`` needs no confirmation and does not run it again."""
    _with_a_step_after(world)

    def interrupt(command: str) -> Any:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)  # still running when the run starts stopping
        return result(0)

    pool = FakePool(ctl1=FakeTransport("ctl1").on(r"^migrate-now", interrupt))
    stopped = world.run(pool)
    assert stopped.status == "interrupted"
    said = world.out.getvalue()
    assert "SIGINT received: stopping; no further step starts" in said
    assert "waiting for migrate on ctl1 (running 0s) to end" in said
    assert [r.status for r in world.store.results(stopped.run_id)
            if r.step_id == "migrate"] == ["succeeded"]
    assert "after-now" not in _sent(pool)
    assert world.store.get_lock("unit") is None
    again = FakePool()
    assert world.resume(stopped.run_id, pool=again).status == "succeeded"
    assert _sent(again) == ["after-now", "after-now"]  # migrate-now never again


def test_a_second_signal_stops_at_once_and_the_attempt_is_unknown(world: World) -> None:
    _with_a_step_after(world)

    def interrupt_twice(command: str) -> Any:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)  # the run stops while this command is still running
        return result(0)

    pool = FakePool(ctl1=FakeTransport("ctl1").on(r"^migrate-now", interrupt_twice))
    stopped = world.run(pool)
    assert stopped.status == "interrupted"  # the process is still here
    assert world.store.get_run(stopped.run_id).status == "interrupted"
    assert world.store.get_lock("unit") is None
    assert "SIGINT received again: stopping at once" in world.out.getvalue()
    with pytest.raises(UnknownOutcome):
        world.resume(stopped.run_id)
    resumed = world.resume(stopped.run_id, yes=True)
    assert resumed.status == "succeeded"


def test_plan_estimates_durations_from_earlier_runs(world: World) -> None:
    assert world.run(FakePool()).status == "succeeded"
    prepared = api.plan("rb.yaml", "inv.yaml", params={"token": SECRET}, detect=False,
                        settings=world.settings)
    assert prepared.warnings == () and prepared.plan.step("greet").estimate is not None
    unusable = Settings(state_dir=world.root / "file")
    (world.root / "file").write_text("not a directory")
    prepared = api.plan("rb.yaml", "inv.yaml", params={"token": SECRET}, detect=False,
                        settings=unusable)
    assert prepared.plan.step("greet").estimate is None
    assert len(prepared.warnings) == 1 and prepared.warnings[0].startswith("no duration")


def test_the_cli_refuses_a_changed_plan_with_exit_3_and_the_diff(
        world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from octavia_upgrade.cli import main

    first = world.run(failing_migrate())
    world.write_inventory("bonjour")
    monkeypatch.setenv("OCTAVIA_UPGRADE_STATE_DIR", str(world.settings.state_dir))
    monkeypatch.setenv("HOME", str(world.root))
    capsys.readouterr()
    assert main(["resume", first.run_id, "-p", f"token={SECRET}"]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"octavia-upgrade: the plan of run {first.run_id} changed")
    assert "+    text: echo bonjour ***" in err and SECRET not in err
    assert main(["resume", first.run_id]) == 2
    assert "give them again: --param token=..." in capsys.readouterr().err


def test_a_run_with_a_limit_resumes_on_the_same_hosts(world: World) -> None:
    """The recorded --limit holds on resume: the plan is rebuilt on the same hosts
    (command steps only, so no whole-control-plane step is split)."""
    first = world.run(failing_migrate(), limit="api:!ctl2", yes=True)
    assert first.status == "failed" and first.failed == {"ctl1": "migrate"}
    assert world.store.get_run(first.run_id).plan["hosts"][0]["name"] == "ctl1"
    again = world.resume(first.run_id)
    assert (again.status, again.run_id) == ("succeeded", first.run_id)


def test_a_run_probes_the_api_of_every_api_host(world: World) -> None:
    """The API probe runs beside the steps: one series per api host, recorded."""
    import http.server
    import threading

    class Quiet(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the handler's name
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.61", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rb = yaml.safe_load((world.work / "rb.yaml").read_text())
        rb["parameters"]["api_port"] = {"type": "integer", "default": server.server_address[1]}
        (world.work / "rb.yaml").write_text(yaml.safe_dump(rb, sort_keys=False))
        inv = yaml.safe_load((world.work / "inv.yaml").read_text())
        inv["hosts"]["ctl1"]["address"] = "127.0.0.61"
        inv["hosts"]["ctl2"]["address"] = "127.0.0.62"  # nothing listens there
        (world.work / "inv.yaml").write_text(yaml.safe_dump(inv, sort_keys=False))
        res = world.run(FakePool())
    finally:
        server.shutdown()
        server.server_close()
    assert res.status == "succeeded"
    series = {s.probe: s for s in world.store.real.probe_series(res.run_id)}
    assert set(series) == {"api@ctl1", "api@ctl2"}
    assert series["api@ctl1"].kind == "api" and series["api@ctl1"].failures == 0
    assert series["api@ctl1"].samples >= 1
    assert series["api@ctl2"].failures == series["api@ctl2"].samples >= 1
