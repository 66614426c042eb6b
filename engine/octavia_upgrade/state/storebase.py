"""What every part of the :class:`~octavia_upgrade.state.store.Store` shares.

One short committed transaction per call (database errors become
:class:`~octavia_upgrade.errors.StateError`), the redactor everything from
commands passes through before it is stored, the store's clock, and the
small helpers the runs, journal and lock parts use.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Insert, exc, select

from octavia_upgrade.errors import StateError
from octavia_upgrade.state import db
from octavia_upgrade.state.models import RUNS
from octavia_upgrade.state.records import utcnow

#: Bytes of stdout/stderr kept per (step, host, attempt) unless configured.
DEFAULT_TAIL_BYTES = 4096


class Redacting(Protocol):
    """What the store needs from :class:`octavia_upgrade.logs.Redactor`."""

    def redact(self, value: Any) -> Any: ...


class _NoRedaction:
    def redact(self, value: Any) -> Any:
        return value


def tail(text_: str, limit: int) -> str:
    """The last ``limit`` bytes of ``text_`` (UTF-8), marked when something was cut."""
    raw = text_.encode("utf-8", errors="replace")
    if len(raw) <= limit:
        return text_
    kept = raw[-limit:].decode("utf-8", errors="ignore")
    return f"[… {len(raw) - limit} bytes omitted]\n{kept}"


def check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")


def user() -> str:
    """The operator's login name (the uid when it has none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


class StoreBase:
    """Plumbing of the store: engine, transactions, redaction, clock."""

    def __init__(self, engine: Engine, *, redactor: Redacting | None = None,
                 tail_bytes: int = DEFAULT_TAIL_BYTES,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.url = db.safe_url(engine.url)
        self.redactor: Redacting = redactor or _NoRedaction()
        self.tail_bytes = tail_bytes
        #: Where every recorded time comes from (aware UTC); tests replace it.
        self.clock = clock
        #: Seconds a call waits for a database server that does not answer (restarted,
        #: failing over) before it fails; 0: fail at once. A run sets it; SQLite never
        #: waits (a local file either opens or does not).
        self.wait_unreachable = 0.0
        #: Told when the server stops answering and when it answers again.
        self.on_unreachable: Callable[[str], None] | None = None
        self._outage_lock = threading.Lock()
        self._down_since: float | None = None

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One committed transaction; database errors become StateError."""
        try:
            with self._connect() as conn, conn.begin():
                yield conn
        except exc.IntegrityError:
            raise
        except exc.SQLAlchemyError as e:
            what = "the state volume is full" if db.is_disk_full(e) else "state database error"
            raise StateError(f"{what}: {db.describe_error(e, self.engine.url)}") from None
        except OSError as e:
            raise StateError(f"state database I/O error: {e}") from None

    def _connect(self) -> Connection:
        """A connection, waiting up to ``wait_unreachable`` s for a server that is down.

        The pool tests a connection before handing it out (``pool_pre_ping``), so
        one a restarted server closed is replaced here rather than failing later.
        Every thread of a run (steps, lock heartbeat, probes) may wait here; the
        operator is told once that the server is down and once that it is back.
        """
        waited_since = None
        while True:
            try:
                conn = self.engine.connect()
            except (exc.OperationalError, exc.InterfaceError) as e:
                if self.wait_unreachable <= 0 or self.engine.dialect.name == "sqlite":
                    raise
                now = time.monotonic()
                waited_since = now if waited_since is None else waited_since
                with self._outage_lock:
                    first = self._down_since is None
                    if first:
                        self._down_since = now
                if first:
                    self._tell(f"the state database does not answer: "
                               f"{db.describe_error(e, self.engine.url)}; no step starts "
                               f"until it does; waiting up to {self.wait_unreachable:.0f}s")
                if now - waited_since >= self.wait_unreachable:
                    raise
                time.sleep(1.0)
                continue
            if waited_since is not None:
                with self._outage_lock:
                    down_since, self._down_since = self._down_since, None
                if down_since is not None:
                    self._tell(f"the state database {self.url} answers again after "
                               f"{time.monotonic() - down_since:.0f}s")
            return conn

    def _tell(self, message: str) -> None:
        if self.on_unreachable is not None:
            try:
                self.on_unreachable(message)
            except Exception:  # noqa: BLE001 - telling must never cost the write
                pass

    def close(self) -> None:
        self.engine.dispose()

    def _clean(self, value: Any) -> Any:
        return self.redactor.redact(value)

    def _insert(self, statement: Insert, rows: dict[str, Any] | list[dict[str, Any]],
                run_id: str | None) -> None:
        """Insert one row or many; the only integrity error possible is a missing run."""
        try:
            with self._tx() as conn:
                conn.execute(statement, rows)
        except exc.IntegrityError:
            raise StateError(f"no run {run_id!r} in the state database {self.url}") from None

    def _run_exists(self, run_id: str) -> bool:
        with self._tx() as conn:
            return conn.execute(select(RUNS.c.id).where(RUNS.c.id == run_id)).first() \
                is not None
