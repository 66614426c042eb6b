"""Initial run-state schema: runs, step results, approvals, evidence, probes, events, locks.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Spelled out here (not imported) so this revision never changes with the code.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LONGTEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

RUN_STATUSES = ("running", "succeeded", "failed", "interrupted", "aborted", "rolled_back")
RESULT_STATUSES = ("running", "succeeded", "failed", "skipped", "timed_out",
                   "unreachable", "unknown", "aborted")
PHASES = ("main", "rollback", "finally")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("runbook_name", sa.String(128), nullable=False),
        sa.Column("runbook_path", sa.String(1024), nullable=False),
        sa.Column("runbook_sha256", sa.String(64), nullable=False),
        sa.Column("runbook_revision", sa.Integer(), nullable=False),
        sa.Column("from_release", sa.String(32), nullable=False),
        sa.Column("to_release", sa.String(32), nullable=False),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("inventory_path", sa.String(1024), nullable=True),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", DATETIME, nullable=False),
        sa.Column("ended_at", DATETIME, nullable=True),
        sa.Column("params", LONGTEXT, nullable=False),
        sa.Column("plan", LONGTEXT, nullable=True),
        sa.Column("tool_version", sa.String(32), nullable=True),
        sa.Column("catalog_version", sa.String(64), nullable=True),
        sa.Column("provenance", LONGTEXT, nullable=False),
        sa.CheckConstraint(_one_of("status", RUN_STATUSES), name="ck_runs_status"),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_runbook_name", "runs", ["runbook_name"])
    op.create_index("ix_runs_deployment", "runs", ["deployment"])

    op.create_table(
        "step_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step_id", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rc", sa.Integer(), nullable=True),
        sa.Column("started_at", DATETIME, nullable=False),
        sa.Column("ended_at", DATETIME, nullable=True),
        sa.Column("stdout_tail", sa.Text(), nullable=False),
        sa.Column("stderr_tail", sa.Text(), nullable=False),
        sa.Column("outputs", LONGTEXT, nullable=False),
        sa.Column("artifacts", LONGTEXT, nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.CheckConstraint(_one_of("status", RESULT_STATUSES), name="ck_step_results_status"),
        sa.CheckConstraint(_one_of("phase", PHASES), name="ck_step_results_phase"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_step_results_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_step_results"),
        sa.UniqueConstraint("run_id", "step_id", "host", "attempt",
                            name="uq_step_results_run_id_step_id_host_attempt"),
    )
    op.create_index("ix_step_results_run_id_status", "step_results", ["run_id", "status"])

    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step_id", sa.String(128), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("approved_at", DATETIME, nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_approvals_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
    )
    op.create_index("ix_approvals_run_id", "approvals", ["run_id"])

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step_id", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("data", LONGTEXT, nullable=False),
        sa.Column("recorded_at", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_evidence_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_evidence"),
    )
    op.create_index("ix_evidence_run_id", "evidence", ["run_id"])

    op.create_table(
        "probe_samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("probe", sa.String(128), nullable=False),
        sa.Column("at", DATETIME, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_probe_samples_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_probe_samples"),
    )
    op.create_index("ix_probe_samples_run_id_probe_at", "probe_samples",
                    ["run_id", "probe", "at"])

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("at", DATETIME, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("data", LONGTEXT, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_events_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_run_id", "events", ["run_id"])

    op.create_table(
        "locks",
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("since", DATETIME, nullable=False),
        sa.Column("heartbeat_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("deployment", name="pk_locks"),
    )


def downgrade() -> None:
    for table in ("locks", "events", "probe_samples", "evidence", "approvals",
                  "step_results", "runs"):
        op.drop_table(table)
