"""Run state: SQLAlchemy Core tables, self-applied alembic migrations, the Store API, the lock.

Everything the executor does is recorded here before it moves on; ``resume``,
``show``, ``runs`` and the reports read it back. See ``docs/state.md``.
"""

from __future__ import annotations

from octavia_upgrade.state.records import (
    APPROVAL_METHODS,
    FINAL_RUN_STATUSES,
    LOCAL_HOST,
    LOCK_STATES,
    PHASES,
    RESULT_STATUSES,
    RUN_STATUSES,
    Approval,
    Event,
    Evidence,
    LockInfo,
    LockStatus,
    ProbeSample,
    ProbeSeries,
    Run,
    StepResult,
    isoformat,
    new_run_id,
    utcnow,
)


def __getattr__(name: str) -> object:
    # The store pulls in SQLAlchemy; records alone (used by reports) do not.
    if name in ("Store", "open_store"):
        from octavia_upgrade.state import store

        return getattr(store, name)
    raise AttributeError(name)

__all__ = [
    "APPROVAL_METHODS", "FINAL_RUN_STATUSES", "LOCAL_HOST", "LOCK_STATES", "PHASES",
    "RESULT_STATUSES", "RUN_STATUSES", "Approval", "Event", "Evidence", "LockInfo",
    "LockStatus", "ProbeSample", "ProbeSeries", "Run", "StepResult", "Store", "isoformat", "new_run_id",
    "open_store", "utcnow",
]
