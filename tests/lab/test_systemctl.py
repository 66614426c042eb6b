"""The systemctl stand-in (``lab.systemctl``): real stops and starts on a lab node."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from octavia_upgrade.lab import systemctl
from octavia_upgrade.lab.procs import Proc

STAND_IN = Path(systemctl.__file__)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(STAND_IN), *args], capture_output=True,
                          text=True, timeout=30)


def test_unknown_units_answer_like_systemd():
    res = _run("is-active", "no-such-unit")
    assert (res.returncode, res.stdout.strip()) == (3, "inactive")
    res = _run("stop", "no-such-unit.service")
    assert res.returncode == 5 and "could not be found" in res.stderr
    assert _run("status", "no-such-unit").returncode == 4
    assert _run("frobnicate", "octavia-api").returncode == 1
    assert _run("daemon-reload").returncode == 0


def _pid(shell, unit: str) -> Proc:
    parts = shell.check(f"cat /run/octavia/{unit}.pid").split()
    return Proc(unit, int(parts[0]), int(parts[1]))


@pytest.mark.lab
def test_stop_really_stops_the_process_and_start_brings_it_back(lab):
    shell = lab.shell("node3")
    unit = "octavia-driver-agent"
    before = _pid(shell, unit)
    assert before.alive()
    res = shell.run(f"systemctl stop {unit}")
    assert res.rc == 0, res
    assert not before.alive()
    res = shell.run(f"systemctl is-active {unit}")
    assert (res.rc, res.stdout.strip()) == (3, "inactive")
    assert shell.run(f"systemctl status {unit}").rc == 3
    assert shell.run(f"systemctl start {unit}.service").rc == 0
    after = _pid(shell, unit)
    assert after.pid != before.pid and after.alive()
    res = shell.run(f"systemctl status {unit}")
    assert res.rc == 0 and f"Main PID: {after.pid}" in res.stdout


@pytest.mark.lab
def test_a_unit_that_died_is_failed_and_restart_recovers_it(lab):
    shell = lab.shell("node2")
    unit = "octavia-housekeeping"
    proc = _pid(shell, unit)
    shell.check(f"systemctl kill -s KILL {unit}")
    deadline = time.monotonic() + 10
    while proc.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    res = shell.run(f"systemctl is-active {unit}")
    assert (res.rc, res.stdout.strip()) == (3, "failed")
    assert shell.run(f"systemctl restart {unit}").rc == 0
    assert shell.run(f"systemctl is-active --quiet {unit}").rc == 0
