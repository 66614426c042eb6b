"""The run-state database API: every write is committed before the call returns.

One :class:`Store` per process. Each method runs in its own short transaction,
so what a call recorded is durable (and visible to any other process) as soon
as it returns; a crash can lose at most the call in progress. Results come
back as frozen dataclasses from :mod:`octavia_upgrade.state.records`.

The store is assembled from one part per concept: runs and step results
(:mod:`.runs`), approvals, evidence, probes and events (:mod:`.journal`),
deployment locks (:mod:`.locks`), on the shared plumbing of
:mod:`.storebase`; the consistency check and :func:`open_store` live here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Row, exc, select, text

from octavia_upgrade.errors import InvalidInput, StateError
from octavia_upgrade.state import db
from octavia_upgrade.state.approvals import ApprovalStore
from octavia_upgrade.state.locks import LockStore
from octavia_upgrade.state.locks import _lock as _lock
from octavia_upgrade.state.models import LOCKS, RUNS, STEP_RESULTS
from octavia_upgrade.state.records import FINAL_RUN_STATUSES, RESULT_STATUSES, RUN_STATUSES
from octavia_upgrade.state.records import utcnow as utcnow
from octavia_upgrade.state.runs import RunStore
from octavia_upgrade.state.runs import _result as _result
from octavia_upgrade.state.runs import _run as _run
from octavia_upgrade.state.storebase import DEFAULT_TAIL_BYTES, Redacting, tail
from octavia_upgrade.statuses import ResultStatus


class Store(RunStore, LockStore, ApprovalStore):
    """Typed access to the run-state database. Create it with :func:`open_store`."""

    def __init__(self, engine: Engine, *, redactor: Redacting | None = None,
                 tail_bytes: int = DEFAULT_TAIL_BYTES,
                 clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(engine, redactor=redactor, tail_bytes=tail_bytes, clock=clock)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def integrity_check(self) -> list[str]:
        """Problems found in the database (empty when everything is consistent)."""
        problems: list[str] = []
        running, unknown = ResultStatus.RUNNING, ResultStatus.UNKNOWN
        with self._tx() as conn:
            if self.engine.dialect.name == "sqlite":
                rows = [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]
                if rows != ["ok"]:
                    problems += [f"sqlite integrity_check: {r}" for r in rows]
                for r in conn.execute(text("PRAGMA foreign_key_check")):
                    problems.append(f"sqlite foreign_key_check: row {r[1]} of {r[0]} "
                                    f"points to a missing {r[2]}")
            runs = {r.id: r for r in conn.execute(select(RUNS))}
            for run in runs.values():
                if run.status not in RUN_STATUSES:
                    problems.append(f"run {run.id}: invalid status {run.status!r}")
                if run.status in FINAL_RUN_STATUSES and run.ended_at is None:
                    problems.append(f"run {run.id}: status {run.status} but no end time")
                if run.ended_at is not None and run.ended_at < run.started_at:
                    problems.append(f"run {run.id}: ends before it starts")
            attempts: dict[tuple[str, str, str], list[Row[Any]]] = {}
            for r in conn.execute(select(STEP_RESULTS).order_by(STEP_RESULTS.c.id)):
                attempts.setdefault((r.run_id, r.step_id, r.host), []).append(r)
                if r.status not in RESULT_STATUSES:
                    problems.append(f"result {r.id}: invalid status {r.status!r}")
                if r.status not in (running, unknown) and r.ended_at is None:
                    problems.append(f"result {r.id} ({r.step_id} on {r.host or '-'}): "
                                    f"status {r.status} but no end time")
                run = runs.get(r.run_id)
                if r.status == running and run is not None and \
                        run.status in FINAL_RUN_STATUSES:
                    problems.append(f"run {r.run_id} is {run.status} but step {r.step_id} "
                                    f"on {r.host or '-'} attempt {r.attempt} is still running")
            for (run_id, step_id, host), rows_ in attempts.items():
                where = f"run {run_id}: step {step_id} on {host or '-'}"
                if sum(1 for r in rows_ if r.status == running) > 1:
                    problems.append(f"{where}: more than one attempt is running")
                numbers = sorted(r.attempt for r in rows_)
                if numbers != list(range(1, len(numbers) + 1)):
                    problems.append(f"{where}: attempts {numbers} are not 1..n")
            for lk in conn.execute(select(LOCKS)):
                run = runs.get(lk.run_id)
                if run is not None and run.status in FINAL_RUN_STATUSES:
                    problems.append(f"deployment {lk.deployment} is locked by run {lk.run_id}, "
                                    f"which is {run.status}")
        return problems


def open_store(url: str | None, state_dir: Path, *, redactor: Redacting | None = None,
               tail_bytes: int = DEFAULT_TAIL_BYTES) -> Store:
    """Open (creating and migrating as needed) the run-state database.

    Args:
        url: SQLAlchemy URL; None means ``sqlite:///<state_dir>/state.db``.
        state_dir: created if missing; must be writable.
        redactor: applied to everything stored from commands (outputs, messages,
            params, options, the commands sent).
        tail_bytes: how much of each stdout/stderr is kept.

    Raises:
        StateError: the directory or database cannot be used (message says why).
        InvalidInput: the URL is malformed or names an unsupported database.
    """
    state_dir = Path(state_dir).expanduser()
    db.prepare_state_dir(state_dir)
    parsed = db.parse_url(url or db.default_url(state_dir))
    engine = db.make_engine(parsed)
    try:
        db.migrate(engine)
    except (StateError, InvalidInput):
        engine.dispose()
        raise
    except exc.SQLAlchemyError as e:
        engine.dispose()
        what = ("the state volume is full" if db.is_disk_full(e)
                else "cannot open the state database")
        raise StateError(f"{what}: {db.describe_error(e, parsed)}") from None
    except OSError as e:
        engine.dispose()
        raise StateError(f"cannot open the state database {db.safe_url(parsed)}: {e}") from None
    return Store(engine, redactor=redactor, tail_bytes=tail_bytes)


__all__ = ["DEFAULT_TAIL_BYTES", "Redacting", "Store", "open_store", "tail", "utcnow"]
