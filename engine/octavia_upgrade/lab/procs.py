"""Processes the lab started, recorded so they can be stopped by PID later.

A PID alone is not an identity: after a reboot or a long time it may belong to
another program. Each record keeps the process start time from
``/proc/PID/stat``, and the lab only signals a PID whose start time still
matches, so ``lab down`` can never kill someone else's process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/PID/stat`` (clock ticks since boot), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces; it ends at the last ')'.
    rest = data[data.rindex(")") + 2:].split()
    return int(rest[19])


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(")") + 2:].split()[0]


@dataclass(frozen=True)
class Proc:
    """A process the lab started: what it is, its PID and start time."""

    name: str
    pid: int
    started: int | None

    @classmethod
    def of(cls, name: str, pid: int) -> Proc:
        return cls(name, pid, start_time(pid))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Proc:
        return cls(str(raw["name"]), int(raw["pid"]), raw.get("started"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def alive(self) -> bool:
        """True while this very process exists (zombies count as gone)."""
        st = start_time(self.pid)
        if st is None or (self.started is not None and st != self.started):
            return False
        return _state(self.pid) not in (None, "Z", "X")

    def signal(self, sig: int) -> bool:
        if not self.alive():
            return False
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def stop(self, timeout: float = 15.0) -> bool:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL. True if it is gone."""
        if not self.signal(signal.SIGTERM):
            _reap(self.pid)
            return True
        if wait_gone(self, timeout):
            return True
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        return wait_gone(self, 5.0)


def spawn(name: str, argv: Sequence[str], *, cwd: str | Path, log: str | Path,
          env: Mapping[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Proc]:
    """Start a long-running lab process in ``cwd`` (a folder of the lab), logging to ``log``.

    The working directory is never inherited: whatever a process writes to its
    current folder (an Erlang crash dump, a core file) stays inside the lab,
    not in the folder the operator ran ``lab up`` from. A new session keeps
    terminal signals (Ctrl-C in the operator's shell) away from it; the lab
    stops it by PID. stdin is /dev/null; stdout and stderr go to ``log``.
    """
    folder = Path(cwd)
    folder.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        popen = subprocess.Popen(list(argv), cwd=folder, env=dict(env) if env is not None else None,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True, close_fds=True)
    return popen, Proc.of(name, popen.pid)


def _reap(pid: int) -> None:
    """Collect our own exited child so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_gone(proc: Proc, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(proc.pid)
        if not proc.alive():
            return True
        time.sleep(0.05)
    _reap(proc.pid)
    return not proc.alive()


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """A port nobody listens on at ``host`` right now."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_tcp(host: str, port: int, timeout: float, proc: Proc | None = None) -> bool:
    """Wait until ``host:port`` accepts TCP connections (or ``proc`` died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            if proc is not None and not proc.alive():
                return False
            time.sleep(0.2)
    return False
