"""Lab processes start in a folder of the lab, never in the caller's working directory.

A real short-lived process is started through the lab's spawning helper while
the test itself sits in another folder; ``/proc/PID/cwd`` must be the lab's.
No lab is brought up (no root, MariaDB or RabbitMQ needed).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from octavia_upgrade.lab import rabbitmq
from octavia_upgrade.lab.procs import spawn


def test_spawned_process_runs_in_the_given_lab_folder(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    caller = tmp_path / "operator"
    caller.mkdir()
    monkeypatch.chdir(caller)
    lab_folder = tmp_path / "lab" / "rabbitmq"  # created by spawn
    _popen, proc = spawn("sleeper", [sys.executable, "-c",
                                    "import time, os; print(os.getcwd(), flush=True); "
                                    "time.sleep(30)"],
                        cwd=lab_folder, log=tmp_path / "sleeper.log")
    log = tmp_path / "sleeper.log"
    try:
        deadline = time.monotonic() + 20
        while not log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)  # the interpreter has started and printed its cwd
        assert log.read_text().strip() == str(lab_folder)
        assert os.readlink(f"/proc/{proc.pid}/cwd") == str(lab_folder)
        assert os.getsid(proc.pid) == proc.pid  # its own session: Ctrl-C does not reach it
        assert proc.alive()
    finally:
        assert proc.stop(5)  # SIGTERM, and reaped
    assert not proc.alive()
    assert list(caller.iterdir()) == []  # nothing landed where the operator stood


def test_rabbitmq_environment_keeps_crash_dumps_in_the_lab(tmp_path: Path) -> None:
    env = rabbitmq._env(tmp_path, 5672, 25672, 4369)
    assert env["ERL_CRASH_DUMP"] == str(tmp_path / "log" / "erl_crash.dump")
    assert env["RABBITMQ_MNESIA_BASE"] == str(tmp_path / "mnesia")


def test_rabbitmq_stop_asks_rabbitmqctl_to_stop_and_wait_in_the_broker_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The order `lab down` relies on: rabbitmqctl stop PIDFILE, then the VM, script, epmd."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    calls = tmp_path / "calls"
    ctl = scripts / "rabbitmqctl"
    ctl.write_text(f"#!/bin/sh\necho \"$(pwd) $*\" >> {calls}\n")
    ctl.chmod(0o755)
    monkeypatch.setattr(rabbitmq, "SCRIPTS", scripts)
    base = tmp_path / "lab" / "rabbitmq"
    sleep = [sys.executable, "-c", "import time; time.sleep(30)"]
    _, server = spawn("rabbitmq-server", sleep, cwd=base, log=tmp_path / "s.log")
    _, epmd = spawn("epmd", sleep, cwd=base, log=tmp_path / "e.log")
    mq = rabbitmq.RabbitMQ(str(base), 5672, 25672, 4369, server, epmd)
    mq.stop(timeout=5)
    assert calls.read_text().splitlines() == [
        f"{base} -n lab5672@localhost stop {base / 'rabbitmq.pid'}"]
    assert not server.alive() and not epmd.alive()
