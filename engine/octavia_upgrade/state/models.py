"""SQLAlchemy Core tables of the run-state database.

Plain ``Table`` objects, no ORM: :mod:`octavia_upgrade.state.store` runs Core
statements on short transactions and maps rows to the frozen dataclasses in
:mod:`octavia_upgrade.state.records` itself. Importing ``sqlalchemy.orm``
would add about 0.1 s to every command's start and its unit of work costs
CPU on every recorded attempt, for nothing the store needs.

The schema is owned by the alembic migrations in ``migrations/versions``;
``tests/state/test_migrations.py`` fails when these tables and the migrations
drift apart (names, types, nullability, constraints, indexes). See
``docs/state.md`` for what is recorded when.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.schema import SchemaItem
from sqlalchemy.types import TypeEngine

from octavia_upgrade.state.records import (PHASES, REQUEST_STATUSES, RESULT_STATUSES,
                                           RUN_STATUSES)
from octavia_upgrade.state.types import JSONText, UTCDateTime

# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

METADATA = MetaData(naming_convention=NAMING)

_Type = TypeEngine[Any] | type[TypeEngine[Any]]


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _required(name: str, type_: _Type, *args: SchemaItem,
              index: bool | None = None) -> Column[Any]:
    """A NOT NULL column: Core's default is nullable, and nearly every column here is not."""
    return Column(name, type_, *args, nullable=False, index=index)


def _optional(name: str, type_: _Type) -> Column[Any]:
    return Column(name, type_, nullable=True)


RUNS = Table(
    "runs", METADATA,
    Column("id", String(32), primary_key=True),
    _required("runbook_name", String(128), index=True),
    _required("runbook_path", String(1024)),
    _required("runbook_sha256", String(64)),
    _required("runbook_revision", Integer),
    _required("from_release", String(32)),
    _required("to_release", String(32)),
    _required("deployment", String(128), index=True),
    _optional("inventory_path", String(1024)),
    _optional("inventory_options", JSONText()),
    _required("user", String(64)),
    _required("hostname", String(255)),
    _required("pid", Integer),
    _required("status", String(16)),
    _required("started_at", UTCDateTime()),
    _optional("ended_at", UTCDateTime()),
    _required("params", JSONText()),
    _optional("plan", JSONText()),
    _optional("tool_version", String(32)),
    _optional("catalog_version", String(64)),
    _required("provenance", JSONText()),
    # How the run was started (detect, limit, yes, params); NULL before 0003.
    _optional("options", JSONText()),
    # The change record the run executes (0004): id and link, shown everywhere.
    _optional("change_id", String(128)),
    _optional("change_url", String(1024)),
    # Who asked the run to pause before its next step, and when (NULL: not paused).
    _optional("paused_by", String(255)),
    _optional("paused_at", UTCDateTime()),
    CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),
)

STEP_RESULTS = Table(
    "step_results", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _required("run_id", String(32), ForeignKey("runs.id")),
    _required("step_id", String(128)),
    # '' for steps without a host, ``local`` for operator-side steps.
    _required("host", String(255)),
    _required("attempt", Integer),
    _required("phase", String(16)),
    _required("status", String(16)),
    _optional("rc", Integer),
    _required("started_at", UTCDateTime()),
    _optional("ended_at", UTCDateTime()),
    _required("stdout_tail", Text),
    _required("stderr_tail", Text),
    _required("outputs", JSONText()),
    _required("artifacts", JSONText()),
    _required("message", Text),
    # The commands sent, in order; migration 0003 gives the column the server
    # default '[]' (attempts recorded before it), the store always writes it.
    _required("commands", JSONText()),
    UniqueConstraint("run_id", "step_id", "host", "attempt"),
    Index(None, "run_id", "status"),
    CheckConstraint(_one_of("status", RESULT_STATUSES), name="status"),
    CheckConstraint(_one_of("phase", PHASES), name="phase"),
)

APPROVALS = Table(
    "approvals", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _required("run_id", String(32), ForeignKey("runs.id"), index=True),
    _required("step_id", String(128)),
    _required("user", String(64)),
    _required("approved_at", UTCDateTime()),
    _required("how", String(16)),
    # 0004: the request answered (NULL before), approved | rejected | expired,
    # the approver's identity (user@host or the configured name), the host it
    # came from and a comment (a rejection's reason).
    _optional("request_id", Integer),
    Column("decision", String(16), nullable=False, server_default="approved"),
    _optional("identity", String(255)),
    _optional("origin", String(255)),
    _optional("comment", Text),
    Index(None, "request_id", "identity", unique=True),
)

#: What a run waits for at an approval step (0004): one row per time it waits.
APPROVAL_REQUESTS = Table(
    "approval_requests", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _required("run_id", String(32), ForeignKey("runs.id")),
    _required("step_id", String(128)),
    _required("message", Text),
    _optional("data_plane_impact", Text),
    _required("required", Integer),
    _required("four_eyes", Boolean),
    _required("outage_gate", Boolean),
    # The identity of the operator who started the run (four-eyes compares with it).
    _required("operator", String(255)),
    _required("requested_at", UTCDateTime()),
    _optional("expires_at", UTCDateTime()),
    _optional("on_expiry", String(16)),
    _required("status", String(16)),
    _optional("resolved_at", UTCDateTime()),
    Index(None, "run_id", "status"),
    CheckConstraint(_one_of("status", REQUEST_STATUSES), name="status"),
)

EVIDENCE = Table(
    "evidence", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _required("run_id", String(32), ForeignKey("runs.id"), index=True),
    _required("step_id", String(128)),
    _required("host", String(255)),
    _required("kind", String(64)),
    _required("data", JSONText()),
    _required("recorded_at", UTCDateTime()),
)

PROBE_SAMPLES = Table(
    "probe_samples", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _required("run_id", String(32), ForeignKey("runs.id")),
    _required("probe", String(128)),
    _required("at", UTCDateTime()),
    _required("ok", Boolean),
    _optional("latency_ms", Float),
    _optional("error", Text),
    Index(None, "run_id", "probe", "at"),
)

#: A probe target (a VIP, or the API on one host) over one session of a run:
#: counts, longest gap and state transitions, rewritten in place (0005).
PROBE_SERIES = Table(
    "probe_series", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _required("run_id", String(32), ForeignKey("runs.id")),
    _required("probe", String(128)),
    _required("kind", String(16)),
    _optional("host", String(255)),
    _required("url", Text),
    _required("started_at", UTCDateTime()),
    _required("ended_at", UTCDateTime()),
    _required("samples", Integer),
    _required("failures", Integer),
    _required("longest_gap_ms", Float),
    _optional("longest_gap_start", UTCDateTime()),
    _optional("latency_avg_ms", Float),
    _optional("latency_max_ms", Float),
    _required("transitions", JSONText()),
    _required("errors", JSONText()),
    UniqueConstraint("run_id", "probe", "started_at"),
)

EVENTS = Table(
    "events", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # NULL for events about a deployment whose run is not in this database.
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=True, index=True),
    _required("at", UTCDateTime()),
    _required("kind", String(64)),
    _required("data", JSONText()),
)

#: One row per locked deployment: inserting it is the atomic acquire.
LOCKS = Table(
    "locks", METADATA,
    Column("deployment", String(128), primary_key=True),
    # No foreign key: the lock is taken before the run row is written, so a
    # refused run leaves nothing behind.
    _required("run_id", String(32)),
    _required("user", String(64)),
    _required("hostname", String(255)),
    _required("pid", Integer),
    _required("since", UTCDateTime()),
    _required("heartbeat_at", UTCDateTime()),
)
