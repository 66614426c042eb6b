"""The store's deployment locks: one row per locked deployment.

Part of :class:`~octavia_upgrade.state.store.Store`. Inserting the row on the
``deployment`` primary key is the atomic acquire on every backend; what a
row means (free, alive, stale, unknown) is judged by :mod:`.lock`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, exc, insert, select, update

from octavia_upgrade.errors import InvalidInput, Refused, StateError
from octavia_upgrade.state import lock
from octavia_upgrade.state.journal import JournalStore
from octavia_upgrade.state.models import LOCKS
from octavia_upgrade.state.records import LockInfo, LockStatus
from octavia_upgrade.state.storebase import user as _user


def _lock(m: Mapping[str, Any]) -> LockInfo:
    return LockInfo(deployment=m["deployment"], run_id=m["run_id"], user=m["user"],
                    hostname=m["hostname"], pid=m["pid"], since=m["since"],
                    heartbeat_at=m["heartbeat_at"])


class LockStore(JournalStore):
    """Take, refresh, release and break a deployment's lock (events recorded)."""

    def get_lock(self, deployment: str) -> LockInfo | None:
        with self._tx() as conn:
            row = conn.execute(select(LOCKS).where(LOCKS.c.deployment == deployment)).first()
        return _lock(row._mapping) if row else None

    def lock_status(self, deployment: str,
                    stale_after: timedelta = lock.DEFAULT_STALE_AFTER) -> LockStatus:
        """Whether ``deployment``'s lock is free, alive, stale or unknown (see lock.assess)."""
        return lock.assess(self.get_lock(deployment), deployment=deployment, now=self.clock(),
                           this_host=socket.gethostname(), stale_after=stale_after)

    def acquire_lock(self, deployment: str, run_id: str, user: str | None = None,
                     hostname: str | None = None, pid: int | None = None,
                     stale_after: timedelta = lock.DEFAULT_STALE_AFTER) -> LockInfo:
        """Take ``deployment``'s lock for ``run_id`` or raise Refused naming the holder.

        Atomic on every backend: the insert on the primary key succeeds for
        exactly one contender. A resumed run may take over its own lock once
        the process that held it is gone (stale); nothing else is ever taken over.
        """
        now = self.clock()
        mine = LockInfo(deployment=deployment, run_id=run_id, user=user or _user(),
                        hostname=hostname or socket.gethostname(),
                        pid=os.getpid() if pid is None else pid, since=now, heartbeat_at=now)
        for _ in range(5):
            try:
                with self._tx() as conn:
                    conn.execute(insert(LOCKS), asdict(mine))
                return mine
            except exc.IntegrityError:
                pass
            status = self.lock_status(deployment, stale_after)
            if status.lock is None:
                continue  # released between our insert and our read: try again
            held = status.lock
            if held.run_id == run_id and status.state == "stale":
                if self._take_over(held, mine):
                    self.record_event(run_id if self._run_exists(run_id) else None,
                                      "lock-taken-over",
                                      {"deployment": deployment, "previous": held.as_dict()})
                    return mine
                continue
            hint = {"stale": f"; the holder looks gone ({status.reason}): break the lock with "
                             f"`octavia-upgrade unlock {deployment}`",
                    "alive": "; that process is still running",
                    "unknown": f"; {status.reason}"}[status.state]
            raise Refused(f"deployment {deployment!r} is locked by {held.describe()}{hint}")
        raise StateError(f"could not take the lock of deployment {deployment!r}: "
                         "it changed hands repeatedly")

    def _take_over(self, held: LockInfo, mine: LockInfo) -> bool:
        with self._tx() as conn:
            res = conn.execute(update(LOCKS).where(
                LOCKS.c.deployment == held.deployment, LOCKS.c.run_id == held.run_id,
                LOCKS.c.pid == held.pid, LOCKS.c.hostname == held.hostname,
            ).values(user=mine.user, hostname=mine.hostname, pid=mine.pid, since=mine.since,
                     heartbeat_at=mine.heartbeat_at))
            return bool(res.rowcount)

    def heartbeat(self, deployment: str, run_id: str) -> None:
        """Refresh the holder's heartbeat; Refused if the lock is no longer ours."""
        with self._tx() as conn:
            res = conn.execute(update(LOCKS).where(
                LOCKS.c.deployment == deployment, LOCKS.c.run_id == run_id,
            ).values(heartbeat_at=self.clock()))
            if not res.rowcount:
                raise Refused(f"run {run_id} no longer holds the lock of deployment "
                              f"{deployment!r} (was it broken with `unlock`?)")

    def release_lock(self, deployment: str, run_id: str) -> bool:
        """Release ``deployment``'s lock if ``run_id`` holds it; True if it did."""
        with self._tx() as conn:
            res = conn.execute(delete(LOCKS).where(LOCKS.c.deployment == deployment,
                                                   LOCKS.c.run_id == run_id))
            return bool(res.rowcount)

    def break_lock(self, deployment: str, expected_run_id: str | None = None,
                   reason: str = "", forced: bool = False) -> LockInfo:
        """Remove ``deployment``'s lock whoever holds it (an explicit operator action).

        Records a ``lock-broken`` event. With ``expected_run_id`` it refuses when
        the lock is held by another run (e.g. it changed hands meanwhile).
        """
        held = self.get_lock(deployment)
        if held is None:
            raise InvalidInput(f"deployment {deployment!r} is not locked")
        if expected_run_id is not None and held.run_id != expected_run_id:
            raise Refused(f"deployment {deployment!r} is locked by {held.describe()}, "
                          f"not by run {expected_run_id}; nothing was changed")
        with self._tx() as conn:
            res = conn.execute(delete(LOCKS).where(LOCKS.c.deployment == deployment,
                                                   LOCKS.c.run_id == held.run_id,
                                                   LOCKS.c.pid == held.pid))
            if not res.rowcount:
                raise Refused(f"the lock of deployment {deployment!r} changed while breaking "
                              "it; look again with `octavia-upgrade unlock`")
        self.record_event(held.run_id if self._run_exists(held.run_id) else None,
                          "lock-broken",
                          {"deployment": deployment, "lock": held.as_dict(), "reason": reason,
                           "forced": forced, "by_user": _user(),
                           "by_host": socket.gethostname(), "by_pid": os.getpid()})
        return held
