"""SQLAlchemy 2 declarative models of the run-state database.

The schema is owned by the alembic migrations in ``migrations/versions``;
``tests/state/test_migrations.py`` fails when these models and the migrations
drift apart. See ``docs/state.md`` for what is recorded when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from octavia_upgrade.state.records import PHASES, RESULT_STATUSES, RUN_STATUSES
from octavia_upgrade.state.types import JSONText, UTCDateTime

# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONText(), Any: JSONText()}


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    runbook_name: Mapped[str] = mapped_column(String(128), index=True)
    runbook_path: Mapped[str] = mapped_column(String(1024))
    runbook_sha256: Mapped[str] = mapped_column(String(64))
    runbook_revision: Mapped[int] = mapped_column(Integer)
    from_release: Mapped[str] = mapped_column(String(32))
    to_release: Mapped[str] = mapped_column(String(32))
    deployment: Mapped[str] = mapped_column(String(128), index=True)
    inventory_path: Mapped[str | None] = mapped_column(String(1024))
    user: Mapped[str] = mapped_column(String(64))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    params: Mapped[dict[str, Any]]
    plan: Mapped[Any | None]
    tool_version: Mapped[str | None] = mapped_column(String(32))
    catalog_version: Mapped[str | None] = mapped_column(String(64))
    provenance: Mapped[dict[str, Any]]

    __table_args__ = (CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),)


class StepResultRow(Base):
    __tablename__ = "step_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    step_id: Mapped[str] = mapped_column(String(128))
    #: '' for steps without a host, ``local`` for operator-side steps.
    host: Mapped[str] = mapped_column(String(255))
    attempt: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    rc: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    stdout_tail: Mapped[str] = mapped_column(Text)
    stderr_tail: Mapped[str] = mapped_column(Text)
    outputs: Mapped[dict[str, Any]]
    artifacts: Mapped[dict[str, Any]]
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("run_id", "step_id", "host", "attempt"),
        Index(None, "run_id", "status"),
        CheckConstraint(_one_of("status", RESULT_STATUSES), name="status"),
        CheckConstraint(_one_of("phase", PHASES), name="phase"),
    )


class ApprovalRow(Base):
    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    step_id: Mapped[str] = mapped_column(String(128))
    user: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[datetime]
    how: Mapped[str] = mapped_column(String(16))


class EvidenceRow(Base):
    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    step_id: Mapped[str] = mapped_column(String(128))
    host: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[Any]
    recorded_at: Mapped[datetime]


class ProbeSampleRow(Base):
    __tablename__ = "probe_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    probe: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "run_id", "probe", "at"),)


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: NULL for events about a deployment whose run is not in this database.
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]


class LockRow(Base):
    """One row per locked deployment: inserting it is the atomic acquire."""

    __tablename__ = "locks"

    deployment: Mapped[str] = mapped_column(String(128), primary_key=True)
    # No foreign key: the lock is taken before the run row is written, so a
    # refused run leaves nothing behind.
    run_id: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(64))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
