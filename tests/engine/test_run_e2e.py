"""End-to-end engine tests: the real CLI over real SSH to real sshd nodes.

The control plane is simulated (``sim/sim.sh`` through the ``sim`` flavor) so
the engine's behaviour — order, batches, timeouts, retries, failure policies,
rollback, resume, locking, redaction — is observable in ``ops.log``. The real
Octavia services are exercised by the lab tests.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from plancheck import assert_ran_as_planned
from simlab import NODES, Sim
from stoppedrun import stop_named

pytestmark = pytest.mark.lab

SERVICES = ["housekeeping", "health-manager", "api", "worker", "driver-agent"]


def cold_upgrade_steps(backup_dir: Path) -> list[dict]:
    steps: list[dict] = [{
        "id": "upgrade-check", "name": "Pre-upgrade check", "kind": "upgrade_check",
        "with": {"on_error": "approve", "known_error": "simulated crash"},
    }]
    for svc in SERVICES:
        steps.append({"id": f"stop-{svc}", "name": f"Stop {svc}", "kind": "service",
                      "with": {"action": "stop", "services": [svc]}, "idempotent": True})
    steps += [
        {"id": "db-backup", "name": "Back up the database", "kind": "backup",
         "with": {"dest_dir": str(backup_dir)}, "idempotent": True},
        {"id": "upgrade-packages", "name": "Upgrade packages", "kind": "packages",
         "idempotent": True},
        {"id": "db-upgrade", "name": "Migrate the database", "kind": "db_migrate",
         "with": {"action": "upgrade"}},
        {"id": "start-services", "name": "Start services", "kind": "service",
         "with": {"action": "start", "services": ["worker", "health-manager", "housekeeping",
                                                  "api", "driver-agent"]}, "idempotent": True},
    ]
    return steps


def run_json(sim: Sim) -> list[dict]:
    res = sim.cli("runs", "-f", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_cold_upgrade_runs_in_guide_order_and_is_recorded(sim: Sim) -> None:
    rb = sim.runbook("cold", cold_upgrade_steps(sim.tmp / "backups"))
    planned = sim.cli("plan", str(rb), "-i", str(sim.inventory), "-f", "json")
    assert planned.returncode == 0, planned.stderr
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    ops = sim.ops()
    stops = [(h, a[0]) for h, act, a in ops if act == "stop"]
    # every node stops housekeeping before any node stops the health manager, etc.
    order = [unit for _h, unit in stops]
    firsts = [order.index(f"sim-{s}") for s in SERVICES]
    lasts = [len(order) - 1 - order[::-1].index(f"sim-{s}") for s in SERVICES]
    assert all(lasts[i] < firsts[i + 1] for i in range(len(SERVICES) - 1)), order
    assert sorted(h for h, u in stops if u == "sim-api") == list(NODES)
    acts = [act for _h, act, _a in ops]
    assert acts.index("backup") > max(i for i, a in enumerate(acts) if a == "stop")
    assert acts.index("backup") < acts.index("upgrade")
    db = [i for i, (h, a, _x) in enumerate(ops) if a == "db-upgrade"]
    assert len(db) == 1 and ops[db[0]][0] == "node1"
    assert db[0] > max(i for i, a in enumerate(acts) if a == "upgrade")
    assert db[0] < min(i for i, a in enumerate(acts) if a == "start")
    assert (sim.root / "db-revision").read_text().strip() == "fabf4983846b"
    for n in NODES:
        assert (sim.root / n / "version").read_text().strip().startswith("16.")
    runs = run_json(sim)
    assert [r["status"] for r in runs] == ["succeeded"]
    run_id = runs[0]["id"]
    # the JSON log has an entry for every executed (step, host)
    log = sim.state_dir / "logs" / f"{run_id}.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    finished = {(e["step_id"], e["host"]) for e in events if e["event"] == "attempt-finished"}
    assert ("stop-api", "node2") in finished and ("db-upgrade", "node1") in finished
    shown = sim.cli("show", run_id, "-f", "json")
    assert shown.returncode == 0, shown.stderr
    # what ran is what the plan showed, command for command
    report = sim.cli("report", run_id, "-f", "json")
    assert report.returncode == 0, report.stderr
    assert assert_ran_as_planned(json.loads(planned.stdout), json.loads(report.stdout),
                                 run_id) > 20
    # detect now reports the new release
    det = sim.cli("detect", "-i", str(sim.inventory), "-f", "json")
    assert det.returncode == 0, det.stdout + det.stderr
    assert json.loads(det.stdout)["release"] == "epoxy"
    # and a second run of the same runbook is refused: the deployment is no longer dalmatian
    again = sim.cli("run", str(rb), "-i", str(sim.inventory), "--yes")
    assert again.returncode == 3, again.stdout + again.stderr
    assert "runs epoxy" in again.stderr


def test_dry_run_executes_nothing(sim: Sim) -> None:
    rb = sim.runbook("dry", cold_upgrade_steps(sim.tmp / "backups"))
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "stop-housekeeping" in res.stdout and "nothing was executed" in res.stdout
    assert "sim.sh" in res.stdout  # the exact commands are shown
    assert sim.ops() == []


def test_refuses_when_deployed_release_differs(sim: Sim) -> None:
    (sim.root / "node2" / "version").write_text("14.0.2\n")
    rb = sim.runbook("mixed", cold_upgrade_steps(sim.tmp / "b"))
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--yes")
    assert res.returncode == 3
    assert "mixed releases" in res.stderr and "node2=caracal" in res.stderr
    assert sim.ops() == []


def test_serial_batches_run_one_host_then_the_rest(sim: Sim) -> None:
    marker = sim.root / "serial.log"
    rb = sim.runbook("serial", [{
        "id": "roll", "name": "Rolling", "kind": "command", "serial": [1, "100%"],
        "with": {"command": f"echo start {{{{ host.name }}}} $(date +%s.%N) >> {marker}; sleep 0.5;"
                            f" echo end {{{{ host.name }}}} $(date +%s.%N) >> {marker}"}}])
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [ln.split() for ln in marker.read_text().splitlines()]
    t = {(w, h): float(ts) for w, h, ts in lines}
    assert t[("end", "node1")] <= t[("start", "node2")]
    assert t[("end", "node1")] <= t[("start", "node3")]
    # the second batch ran its two hosts in parallel
    assert t[("start", "node3")] < t[("end", "node2")] and t[("start", "node2")] < t[("end", "node3")]


def test_timeout_really_stops_the_remote_command(sim: Sim) -> None:
    token = uuid.uuid4().hex
    rb = sim.runbook("timeout", [{
        "id": "hang", "name": "Hangs", "kind": "command", "timeout": "2s",
        "targets": {"hosts": ["node1"]},
        "with": {"command": f"sleep 300 & sleep 301; echo {token}"}}])
    t0 = time.monotonic()
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    assert res.returncode == 1, res.stdout + res.stderr
    assert time.monotonic() - t0 < 60
    time.sleep(1)
    left = subprocess.run(["pgrep", "-f", f"echo {token}"], capture_output=True, text=True)
    assert left.stdout.strip() == "", "remote command still running after its timeout"
    shown = json.loads(sim.cli("show", run_json(sim)[0]["id"], "-f", "json").stdout)
    statuses = {r["status"] for r in shown["results"] if r["step_id"] == "hang"}
    assert statuses == {"timed_out"}


def test_retry_with_backoff_until_success(sim: Sim) -> None:
    counter = sim.root / "count"
    rb = sim.runbook("retry", [{
        "id": "flaky", "name": "Flaky", "kind": "command", "targets": {"hosts": ["node2"]},
        "retry": {"attempts": 3, "delay": "100ms", "backoff": 2},
        "with": {"command": f"n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter};"
                            " [ $n -ge 2 ]"}}])
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    assert res.returncode == 0, res.stdout + res.stderr
    shown = json.loads(sim.cli("show", run_json(sim)[0]["id"], "-f", "json").stdout)
    attempts = [(r["attempt"], r["status"]) for r in shown["attempts"] if r["step_id"] == "flaky"]
    assert attempts == [(1, "failed"), (2, "failed"), (3, "succeeded")]


def test_unreachable_host_mid_run_drops_out_others_continue(sim: Sim, lab_nodes) -> None:
    base = lab_nodes.base_dir
    block = (f"{sys.executable} -c 'from octavia_upgrade.lab.nodes import LabNodes; "
             f"LabNodes(\"{base}\").block(\"node3\")'")
    rb = sim.runbook("unreach", [
        {"id": "before", "name": "Before", "kind": "command",
         "with": {"command": f"echo before {{{{ host.name }}}} >> {sim.root}/u.log"}},
        {"id": "cut", "name": "Cut node3", "kind": "local", "with": {"command": block}},
        {"id": "during", "name": "During", "kind": "command", "on_failure": "continue",
         "with": {"command": f"echo during {{{{ host.name }}}} >> {sim.root}/u.log"}},
        {"id": "after", "name": "After", "kind": "command",
         "with": {"command": f"echo after {{{{ host.name }}}} >> {sim.root}/u.log"}},
    ])
    try:
        res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    finally:
        lab_nodes.unblock("node3")
    assert res.returncode == 1, res.stdout + res.stderr
    log = (sim.root / "u.log").read_text().split("\n")
    assert "after node1" in log and "after node2" in log and "after node3" not in log
    shown = json.loads(sim.cli("show", run_json(sim)[0]["id"], "-f", "json").stdout)
    by = {(r["step_id"], r["host"]): r["status"] for r in shown["results"]}
    assert by[("during", "node3")] == "unreachable"
    assert by[("after", "node3")] == "skipped"


def test_rollback_runs_in_reverse_then_finally(sim: Sim) -> None:
    log = sim.root / "rb.log"

    def step(i: str, cmd: str = "true", **kw: object) -> dict:
        return {"id": i, "name": i, "kind": "command", "targets": {"hosts": ["node1"]},
                "with": {"command": f"echo {i} >> {log}; {cmd}"}, **kw}

    rb = sim.runbook("rollback", [step("a"), step("b", "false", on_failure="rollback"), step("c")],
                     rollback=[step("r1"), step("r2")], **{"finally": [step("f")]})
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    assert res.returncode == 1
    assert log.read_text().split() == ["a", "b", "r2", "r1", "f"]
    assert run_json(sim)[0]["status"] == "rolled_back"


def _wait_for(pred, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_kill9_then_resume_does_not_rerun_confirmed_steps(sim: Sim) -> None:
    log = sim.root / "k.log"
    rb = sim.runbook("crash", [
        {"id": "one", "name": "One", "kind": "command",
         "with": {"command": f"echo one {{{{ host.name }}}} >> {log}"}},
        {"id": "two", "name": "Two", "kind": "command", "targets": {"hosts": ["node1"]},
         # the first attempt sleeps a minute, a re-run does not
         "with": {"command": f"echo two >> {log}; [ -e {log}.slept ] || "
                             f"{{ touch {log}.slept; sleep 60; }}; echo two-done >> {log}"}},
        {"id": "three", "name": "Three", "kind": "command",
         "with": {"command": f"echo three {{{{ host.name }}}} >> {log}"}},
    ])
    proc = sim.popen("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    try:
        _wait_for(lambda: log.exists() and "two" in log.read_text())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_id = run_json(sim)[0]["id"]
    # "two" was in flight and is not idempotent: no terminal, no --yes → refused
    res = sim.cli("resume", run_id)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "two" in res.stderr and "unknown" in res.stderr
    # the killed engine's `sleep 60` runs on on node1: confirmed or not, nothing runs
    # again beside it; the refusal names the step, the host and the processes
    res = sim.cli("resume", run_id, "--yes")
    assert res.returncode == 3, res.stdout + res.stderr
    assert "still running" in res.stderr and "step two (attempt 1) on node1" in res.stderr
    assert "sleep 60" in res.stderr, res.stderr
    assert log.read_text().split().count("two") == 1  # the refusal ran nothing
    assert stop_named(res.stderr)  # what an operator does: stop them by their PIDs
    res = sim.cli("resume", run_id, "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no command of the stopped run is still running on node1" in res.stdout
    words = log.read_text().split()
    assert words.count("two-done") == 1  # the re-run's: the first `two` never ended
    assert words.count("one") == 3  # succeeded before the crash: not run again
    assert words.count("two") == 2  # unknown, re-run after confirmation
    assert words.count("three") == 3
    shown = json.loads(sim.cli("show", run_id, "-f", "json").stdout)
    assert any(r["step_id"] == "two" and r["status"] == "unknown" for r in shown["attempts"])
    assert run_json(sim)[0]["status"] == "succeeded"


def test_resume_refuses_a_changed_runbook(sim: Sim) -> None:
    rb = sim.runbook("changed", [{"id": "x", "name": "x", "kind": "command",
                                  "targets": {"hosts": ["node1"]}, "with": {"command": "false"}}])
    assert sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect").returncode == 1
    rb.write_text(rb.read_text().replace("false", "true"))
    res = sim.cli("resume", run_json(sim)[0]["id"])
    assert res.returncode == 3
    assert "changed" in res.stderr and "sha256" in res.stderr


def test_second_run_is_refused_while_the_lock_is_held(sim: Sim) -> None:
    rb = sim.runbook("locked", [{"id": "slow", "name": "Slow", "kind": "command",
                                 "targets": {"hosts": ["node1"]},
                                 "with": {"command": f"touch {sim.root}/started; sleep 6"}},
                                {"id": "next", "name": "Next", "kind": "command",
                                 "targets": {"hosts": ["node1"]},
                                 "with": {"command": f"touch {sim.root}/next-ran"}}])
    first = sim.popen("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    try:
        _wait_for(lambda: (sim.root / "started").exists())
        second = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
        assert second.returncode == 3
        assert "locked by run" in second.stderr and "pid" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=60)
    # SIGTERM: no further step starts; the running command is waited for and recorded
    assert first.returncode == 130, out + err
    assert "waiting for slow on node1" in out + err
    run_id = run_json(sim)[0]["id"]
    assert run_json(sim)[0]["status"] == "interrupted"
    shown = json.loads(sim.cli("show", run_id, "-f", "json").stdout)
    assert [r["status"] for r in shown["results"] if r["step_id"] == "slow"] == ["succeeded"]
    assert not (sim.root / "next-ran").exists()
    # the lock was released, and nothing is left to guess: resume needs no --yes
    again = sim.cli("resume", run_id)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (sim.root / "next-ran").exists()
    shown = json.loads(sim.cli("show", run_id, "-f", "json").stdout)
    assert [r["status"] for r in shown["results"] if r["step_id"] == "slow"] == ["succeeded"]


def test_secret_parameter_never_reaches_logs_or_state(sim: Sim) -> None:
    secret = "s3cr3t-" + uuid.uuid4().hex
    rb = sim.runbook("secret", [{
        "id": "use", "name": "Use the secret", "kind": "command", "targets": {"hosts": ["node1"]},
        "with": {"command": "echo password is {{ params.db_password }}; exit 1"}}],
        parameters={"db_password": {"type": "string", "secret": True}})
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect", "-v",
                  "--param", f"db_password={secret}")
    assert res.returncode == 1
    assert secret not in res.stdout + res.stderr
    assert "password is ***" in res.stdout
    for path in sim.state_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    with sqlite3.connect(sim.state_dir / "state.db") as db:
        dump = "\n".join(db.iterdump())
    assert secret not in dump


def test_a_status_step_that_requires_running_fails_naming_what_is_down(sim: Sim) -> None:
    rb = sim.runbook("running", [
        {"id": "stop-housekeeping", "name": "Stop housekeeping", "kind": "service",
         "targets": {"hosts": ["node2"]},
         "with": {"action": "stop", "services": ["housekeeping"]}},
        {"id": "verify-services", "name": "Every service is running", "kind": "service",
         "with": {"action": "status", "services": ["housekeeping", "health-manager"],
                  "require_running": True}},
    ])
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "not running on node2: housekeeping" in res.stdout + res.stderr
    shown = json.loads(sim.cli("show", run_json(sim)[0]["id"], "-f", "json").stdout)
    by = {(r["step_id"], r["host"]): r for r in shown["results"]}
    assert by[("verify-services", "node2")]["status"] == "failed"
    assert by[("verify-services", "node2")]["outputs"]["services"] == {
        "housekeeping": "inactive", "health-manager": "active"}
    assert by[("verify-services", "node1")]["status"] == "succeeded"
