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

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One committed transaction; database errors become StateError."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except exc.IntegrityError:
            raise
        except exc.SQLAlchemyError as e:
            what = "the state volume is full" if db.is_disk_full(e) else "state database error"
            raise StateError(f"{what}: {db.describe_error(e, self.engine.url)}") from None
        except OSError as e:
            raise StateError(f"state database I/O error: {e}") from None

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
