"""Processes and mount namespaces of lab nodes: identity, membership, mount points, stop.

A PID is signalled only while its start time (``/proc/PID/stat`` field 22)
still matches the recorded one, so a recycled PID is never hit. Every process
inside a node's mount namespace (its sshd, SSH sessions, services started
over SSH) is found through ``/proc/PID/ns/mnt``. Bind targets missing on the
host are created as empty mount points first.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from octavia_upgrade.errors import LabNodeError


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (field 3 first); None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            data = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; it ends at the last ')'.
    return data[data.rindex(")") + 2:].split()


def comm(pid: int) -> str:
    """The process's command name (``/proc/PID/comm``); empty when it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def start_time(pid: int) -> int | None:
    """The process's start time (field 22, clock ticks since boot): its identity."""
    fields = stat_fields(pid)
    return int(fields[19]) if fields else None


def proc_state(pid: int) -> str | None:
    """The process state letter (``R``, ``S``, ``Z`` ...); None if gone."""
    fields = stat_fields(pid)
    return fields[0] if fields else None


def mount_namespace(pid: int | str) -> str | None:
    """The process's mount namespace (``mnt:[4026532...]``); None if gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def wait_own_namespace(pid: int) -> str:
    """The namespace ``pid`` enters (via ``unshare``) within 5 s; empty if it never does."""
    host_ns = mount_namespace("self")
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        ns = mount_namespace(pid)
        if ns is None:
            break
        if ns != host_ns:
            return ns
        time.sleep(0.002)
    return ""


def namespace_members(mnt_ns: str) -> dict[int, int | None]:
    """PID → start time of every process inside mount namespace ``mnt_ns``."""
    members: dict[int, int | None] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and mount_namespace(entry) == mnt_ns:
            members[int(entry)] = start_time(int(entry))
    return members


def alive(pid: int, started: int | None) -> bool:
    """True while process ``pid`` started at ``started`` runs (not a recycled PID, no zombie)."""
    return start_time(pid) == started and proc_state(pid) not in (None, "Z")


def terminate(targets: Mapping[int, int | None], grace: float) -> None:
    """SIGTERM each PID (whose start time still matches), SIGKILL whatever outlives ``grace``."""

    def signal_all(sig: int) -> None:
        for pid, started in targets.items():
            if alive(pid, started):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass

    signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(alive(p, s) for p, s in targets.items()):
            return
        time.sleep(0.02)
    signal_all(signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p, s) for p, s in targets.items()):
        time.sleep(0.02)


def ensure_mount_point(target: str, *, is_dir: bool) -> None:
    """Create an empty directory/file at ``target`` if the host has nothing there."""
    path = Path(target)
    if path.exists():
        if path.is_dir() != is_dir:
            kind = "directory" if is_dir else "file"
            raise LabNodeError(f"bind target {target} exists on the host but is not a {kind}")
        return
    if is_dir:
        path.mkdir(parents=True, exist_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
