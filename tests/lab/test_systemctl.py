"""The systemctl stand-in (``lab.systemctl``): real stops and starts on a lab node."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from octavia_upgrade import inflight
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


def test_a_unit_file_decides_what_starts(tmp_path: Path, monkeypatch):
    """The osa style's unit files: ExecStart (the last one) is what runs, split like a shell."""
    monkeypatch.setattr(systemctl, "UNITS_DIR", str(tmp_path))
    (tmp_path / "octavia-worker.service").write_text(
        "[Service]\nExecStart=/bin/false\n"
        "ExecStart=/openstack/venvs/octavia-2025.1/bin/octavia-worker --log-file 'a b'\n")
    assert systemctl.command("octavia-worker") == [
        "/openstack/venvs/octavia-2025.1/bin/octavia-worker", "--log-file", "a b"]
    # No unit file: the venv style's console script and configuration.
    assert systemctl.command("octavia-api")[:3] == [
        "/opt/octavia/venv/bin/octavia-api", "--config-file", "/etc/octavia/octavia.conf"]
    (tmp_path / "octavia-api.service").write_text("[Service]\nExecStart=octavia-api\n")
    with pytest.raises(ValueError, match="no ExecStart= with an absolute path"):
        systemctl.command("octavia-api")


@pytest.mark.lab
def test_a_started_unit_does_not_carry_the_run_marker_of_its_caller(lab):
    """As under systemd, a unit a step starts is not one of the step's processes:
    ``resume`` must not wait for a service that runs for as long as it is up."""
    shell = lab.shell("node1")
    unit = "octavia-housekeeping"
    marker = inflight.marker("run-env-check", "node1", "start-services", 1)
    res = shell.run(f"export {inflight.ENV}={marker}; systemctl restart {unit}")
    assert res.rc == 0, res
    started = _pid(shell, unit)
    assert started.alive()
    environ = shell.check(f"tr '\\000' '\\n' < /proc/{started.pid}/environ")
    assert "PATH=" in environ and inflight.ENV not in environ
    found = inflight.parse(shell.check(inflight.search_command("run-env-check")),
                           "run-env-check")
    assert found == []
    # The search itself still finds a process that does carry it.
    res = shell.run(f"export {inflight.ENV}={marker}; sleep 30 & "
                    f"{inflight.search_command('run-env-check')}; kill $!")
    assert {(p.host, p.step) for p in inflight.parse(res.stdout, "run-env-check")} == \
        {("node1", "start-services")}, res
