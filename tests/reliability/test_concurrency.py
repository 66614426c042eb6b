"""Two operators, one deployment: exactly one run proceeds; stale locks break only explicitly.

Real ``run`` processes race for the deployment lock in a shared state
database: SQLite (the state directory) and PostgreSQL (``[database]
connection`` in a ``--config-file``, as several operator machines would share).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import wait_for
from simlab import Sim

pytestmark = pytest.mark.lab


@pytest.fixture(params=["sqlite", "postgresql"])
def config_args(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    if request.param == "sqlite":
        return []
    server = request.getfixturevalue("postgres_server")
    name = f"conc_{os.getpid()}_{tmp_path.name[-8:].replace('-', '_')}"
    url = server.create_database(name)
    request.addfinalizer(lambda: server.drop_database(name))
    cfg = tmp_path / "octavia-upgrade.conf"
    cfg.write_text(f"[database]\nconnection = {url.replace('$', '$$')}\n")
    return ["--config-file", str(cfg)]


def _popen(sim: Sim, args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "octavia_upgrade", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True,
                            env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(sim.state_dir)})


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_two_runs_at_the_same_moment_exactly_one_proceeds(sim: Sim,
                                                          config_args: list[str]) -> None:
    log = sim.root / "c.log"
    rb = sim.runbook("race", [{
        "id": "work", "name": "Work", "kind": "command", "targets": {"hosts": ["node1"]},
        "with": {"command": f"echo $PPID >> {log}; sleep 2"}}])
    argv = [*config_args, "run", str(rb), "-i", str(sim.inventory), "--no-detect"]
    # the database exists before the race (a fresh one is created under a file lock
    # anyway, but here the race is for the deployment lock itself)
    assert sim.cli(*config_args, "runs").returncode == 0
    procs = [_popen(sim, argv), _popen(sim, argv)]
    try:
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        _stop(procs)
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 3], (codes, outs)
    winner = procs[codes.index(0)]
    loser_err = outs[codes.index(3)][1]
    listed = sim.cli(*config_args, "runs", "-f", "json")
    import json

    (run,) = json.loads(listed.stdout)
    assert run["status"] == "succeeded"
    assert f"locked by run {run['id']}" in loser_err, loser_err
    assert f"pid {winner.pid}" in loser_err and "still running" in loser_err
    assert len(log.read_text().split()) == 1  # the work ran once


def test_a_stale_lock_is_detected_and_broken_only_by_unlock(sim: Sim,
                                                           config_args: list[str]) -> None:
    import json

    started = sim.root / "started"
    rb = sim.runbook("stale", [{
        "id": "work", "name": "Work", "kind": "command", "targets": {"hosts": ["node1"]},
        # long only the first time: the run after unlock finishes at once
        "with": {"command": f"[ -e {started} ] || {{ touch {started}; sleep 20; }}"}}])
    argv = [*config_args, "run", str(rb), "-i", str(sim.inventory), "--no-detect"]
    proc = _popen(sim, argv)
    try:
        wait_for(started.exists)
        os.kill(proc.pid, signal.SIGKILL)  # the operator's machine "crashes"
        proc.wait(timeout=10)
    finally:
        _stop([proc])
    (dead,) = json.loads(sim.cli(*config_args, "runs", "-f", "json").stdout)
    deployment = f"sim-{sim.tmp.name}"
    for _ in range(2):  # detected as stale, and never taken over silently
        res = sim.cli(*argv)
        assert res.returncode == 3, res.stdout + res.stderr
        assert f"locked by run {dead['id']}" in res.stderr
        assert "looks gone" in res.stderr and f"octavia-upgrade unlock {deployment}" in res.stderr
    res = sim.cli(*config_args, "unlock", deployment)
    assert res.returncode == 0, res.stdout + res.stderr
    res = sim.cli(*argv)
    assert res.returncode == 0, res.stdout + res.stderr
    shown = json.loads(sim.cli(*config_args, "show", dead["id"], "-f", "json").stdout)
    kinds = [e["kind"] for e in shown.get("events", [])]
    assert "lock-broken" in kinds, shown.get("events")
