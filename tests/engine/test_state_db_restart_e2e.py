"""The run-state database on PostgreSQL restarts in the middle of a run.

Real PostgreSQL (the session's server, stopped and started again by PID), the
real CLI over real SSH on the simulated control plane. The server goes down
while a step runs and stays down past its end: the engine cannot record the
result, waits for the server (``[database] wait_unreachable``) with no further
step starting, says so on the console, records the result once the server
answers again and finishes the run; nothing runs twice and nothing is lost.
A server away past the wait stops the run, with the step's end in the log and
the way on in the last line; ``resume`` finishes it once the server is back.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime
from typing import Any

import pytest

from simlab import NODES, Sim

pytestmark = pytest.mark.lab

DOWN_SECONDS = 8


def _conf(sim: Sim, url: str, wait: int = 60) -> str:
    path = sim.tmp / f"pg-state-{wait}.conf"
    path.write_text(f"[database]\nconnection = {url.replace('$', '$$')}\n"
                    f"wait_unreachable = {wait}\n")
    return str(path)


def _start_in_a_step(sim: Sim, conf: str, name: str, *more: dict[str, Any]
                     ) -> subprocess.Popen[str]:
    """Start a run whose first step (node1, 2 s) is running when this returns."""
    started = sim.tmp / f"{name}-started"
    rb = sim.runbook(name, [
        {"id": "first", "name": "A step the server goes down under", "kind": "command",
         "targets": {"hosts": ["node1"]},
         "with": {"command": f"touch {started} && sleep 2"}},
        {"id": "stop-api", "name": "Stop the API", "kind": "service",
         "with": {"action": "stop", "services": ["api"]}}, *more])
    proc = sim.popen("--config-file", conf, "run", str(rb), "-i", str(sim.inventory),
                     "--no-detect", "--yes")
    deadline = time.monotonic() + 60
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not started.exists():
        proc.kill()
        raise AssertionError(proc.communicate(timeout=30))
    return proc


def test_a_run_waits_for_its_restarted_state_database_and_finishes(
        sim: Sim, postgres_server: Any) -> None:
    url = postgres_server.create_database("restart_mid_run")
    conf = _conf(sim, url)
    proc = _start_in_a_step(sim, conf, "pg-restart", {
        "id": "start-api", "name": "Start the API", "kind": "service",
        "with": {"action": "start", "services": ["api"]}})
    try:
        postgres_server.stop()
        down_at = time.monotonic()
        # while it is down: the step has ended, and nothing further started
        time.sleep(DOWN_SECONDS)
        assert not [o for o in sim.ops() if o[1] == "stop"]
        postgres_server.start()
        up_after = time.monotonic() - down_at
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out + err
    said = out + err
    # told once that it is down, once that it is back, whichever thread met it first
    assert said.count("warning: the state database does not answer: connection failed:") == 1
    assert "Connection refused" in said and "waiting up to 60s" in said
    assert said.count(" answers again after ") == 1, said
    assert postgres_server.password not in said and "Traceback" not in said
    # every step recorded once, succeeded; the services were stopped and started once each
    (run,) = json.loads(sim.cli("--config-file", conf, "runs", "-f", "json").stdout)
    assert run["status"] == "succeeded"
    shown = json.loads(sim.cli("--config-file", conf, "show", run["id"], "-f", "json").stdout)
    results = {(r["step_id"], r["host"]): r for r in shown["results"]}
    assert set(results) == {("first", "node1"), *(("stop-api", n) for n in NODES),
                            *(("start-api", n) for n in NODES)}
    assert {(r["status"], r["attempt"]) for r in results.values()} == {("succeeded", 1)}
    # the step under the outage is recorded with its real end, not when the server came back
    first = results[("first", "node1")]
    took = (datetime.fromisoformat(first["ended_at"])
            - datetime.fromisoformat(first["started_at"])).total_seconds()
    assert 2 <= took < up_after, (took, up_after)
    ops = sim.ops()
    assert sorted(h for h, a, args in ops if a == "stop") == list(NODES)
    assert sorted(h for h, a, args in ops if a == "start") == list(NODES)


def test_a_state_database_away_past_the_wait_stops_the_run_and_resume_finishes_it(
        sim: Sim, postgres_server: Any) -> None:
    url = postgres_server.create_database("away_past_the_wait")
    conf = _conf(sim, url, wait=3)
    proc = _start_in_a_step(sim, conf, "pg-away")
    try:
        postgres_server.stop()
        try:
            out, err = proc.communicate(timeout=120)
        finally:
            postgres_server.start()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    said = out + err
    assert proc.returncode == 1, said
    assert "Traceback" not in said and postgres_server.password not in said
    assert not [o for o in sim.ops() if o[1] == "stop"]  # nothing further started
    (log,) = (sim.tmp / "state" / "logs").glob("*.jsonl")
    run_id = log.name.removesuffix(".jsonl")
    # what the operator is told: why it stopped, where the evidence is, what to do
    last = err.strip().splitlines()[-1]
    assert last.startswith("octavia-upgrade: state database error: connection failed:"), last
    assert f"Run {run_id} stopped there: no further step was started" in last
    assert f"octavia-upgrade resume {run_id}" in last and str(log) in last
    assert said.count("while finishing the run") == 1, said  # said once, not per clean-up
    # the step ended (ok) while the server was away: the log and the console say so
    events = [json.loads(line) for line in log.read_text().splitlines()]
    (ended,) = [e for e in events if e["event"] == "attempt-finished"]
    assert (ended["step_id"], ended["status"], ended["recorded"]) == ("first", "succeeded", False)
    assert "node1        ok" in out
    assert events[-1]["event"] == "run-finished" and "internal error" not in events[-1]["message"]
    # with the server back: the database never heard how `first` ended, so it is unknown,
    # confirmed, run again; the run finishes
    res = sim.cli("--config-file", conf, "resume", run_id)
    assert res.returncode == 3 and "first on node1" in res.stderr, res.stdout + res.stderr
    res = sim.cli("--config-file", conf, "resume", run_id, "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    shown = json.loads(sim.cli("--config-file", conf, "show", run_id, "-f", "json").stdout)
    assert [(r["step_id"], r["status"]) for r in shown["attempts"] if r["host"] == "node1"] == [
        ("first", "unknown"), ("first", "succeeded"), ("stop-api", "succeeded")]
    assert shown["run"]["status"] == "succeeded"
