"""Is a deployment lock's holder still alive? Pure judgement plus a /proc probe.

The lock row itself is written by :class:`~octavia_upgrade.state.store.Store`
(an insert on the ``deployment`` primary key is the atomic acquire on every
backend). This module only decides what a row means.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta

from octavia_upgrade.state.records import LockInfo, LockStatus, isoformat

#: A holder on another machine whose heartbeat is older than this is stale.
DEFAULT_STALE_AFTER = timedelta(minutes=10)


def process_started_at(pid: int) -> datetime | None:
    """When process ``pid`` started (Linux ``/proc``), or None if unknown/not running."""
    from datetime import timezone

    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
        with open("/proc/stat", encoding="ascii") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None
    # Field 22 (starttime, in clock ticks since boot) counted after the ")" that
    # ends the command name, which may itself contain spaces or parentheses.
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    ticks = int(fields[19])
    return datetime.fromtimestamp(btime + ticks / os.sysconf("SC_CLK_TCK"), timezone.utc)


def pid_running(pid: int) -> bool:
    """Whether ``pid`` is a live (non-zombie) process on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2:].split()[0] != "Z"
    except OSError:
        return True


def assess(lock: LockInfo | None, *, deployment: str, now: datetime, this_host: str,
           stale_after: timedelta = DEFAULT_STALE_AFTER,
           running: Callable[[int], bool] = pid_running,
           started_at: Callable[[int], datetime | None] = process_started_at) -> LockStatus:
    """Judge a lock row: free, alive, stale or unknown (see ``LOCK_STATES``)."""
    if lock is None:
        return LockStatus(deployment, "free", None, f"deployment {deployment!r} is not locked")
    if lock.hostname == this_host:
        if not running(lock.pid):
            return LockStatus(deployment, "stale", lock,
                              f"pid {lock.pid} is no longer running on this host ({this_host})")
        start = started_at(lock.pid)
        # A pid reused by a later process is not the holder (1 s of clock slack).
        if start is not None and start > lock.since + timedelta(seconds=1):
            return LockStatus(deployment, "stale", lock,
                              f"pid {lock.pid} now belongs to a process started at "
                              f"{isoformat(start)}, after the lock was taken")
        return LockStatus(deployment, "alive", lock,
                          f"pid {lock.pid} is still running on this host ({this_host})")
    age = now - lock.heartbeat_at
    minutes = age.total_seconds() / 60
    if age > stale_after:
        return LockStatus(deployment, "stale", lock,
                          f"held from host {lock.hostname}, last heartbeat {minutes:.0f} min ago "
                          f"(stale after {stale_after.total_seconds() / 60:.0f} min)")
    return LockStatus(deployment, "unknown", lock,
                      f"held from host {lock.hostname}, whose processes cannot be checked from "
                      f"here; last heartbeat {age.total_seconds():.0f} s ago")
