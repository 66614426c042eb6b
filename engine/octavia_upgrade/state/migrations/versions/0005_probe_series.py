"""Probes are recorded compactly: one row per probe target and run session.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Spelled out here (not imported) so this revision never changes with the code.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LONGTEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    # Counts, the longest gap and the state transitions of one probe target
    # (a VIP, or the API on one host) over one session of a run; rewritten in
    # place while the run goes on, so its size does not grow with the run's length.
    op.create_table(
        "probe_series",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("probe", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("started_at", DATETIME, nullable=False),
        sa.Column("ended_at", DATETIME, nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("longest_gap_ms", sa.Float(), nullable=False),
        sa.Column("longest_gap_start", DATETIME, nullable=True),
        sa.Column("latency_avg_ms", sa.Float(), nullable=True),
        sa.Column("latency_max_ms", sa.Float(), nullable=True),
        sa.Column("transitions", LONGTEXT, nullable=False),
        sa.Column("errors", LONGTEXT, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_probe_series_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_probe_series"),
        sa.UniqueConstraint("run_id", "probe", "started_at",
                            name="uq_probe_series_run_id_probe_started_at"),
    )


def downgrade() -> None:
    op.drop_table("probe_series")
