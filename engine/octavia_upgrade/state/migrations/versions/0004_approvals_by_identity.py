"""Approvals by identity, pause and continue, change records.

Approval requests (what a run waits for, and who may answer it); the
approvals table gains the decision, the identity and where it came from, a
comment, and the request it answers (one decision per identity and request);
runs gain their change record and their pause request.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Spelled out here (not imported) so this revision never changes with the code.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey(
            "runs.id", name="fk_approval_requests_run_id_runs"), nullable=False),
        sa.Column("step_id", sa.String(128), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data_plane_impact", sa.Text(), nullable=True),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("four_eyes", sa.Boolean(), nullable=False),
        sa.Column("outage_gate", sa.Boolean(), nullable=False),
        sa.Column("operator", sa.String(255), nullable=False),
        sa.Column("requested_at", DATETIME, nullable=False),
        sa.Column("expires_at", DATETIME, nullable=True),
        sa.Column("on_expiry", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_at", DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_approval_requests"),
        sa.CheckConstraint("status IN ('waiting', 'approved', 'rejected', 'expired', "
                           "'abandoned')", name="ck_approval_requests_status"),
    )
    op.create_index("ix_approval_requests_run_id_status", "approval_requests",
                    ["run_id", "status"])
    # No foreign key to approval_requests: SQLite cannot add one to an existing table.
    op.add_column("approvals", sa.Column("request_id", sa.Integer(), nullable=True))
    op.add_column("approvals", sa.Column("decision", sa.String(16), nullable=False,
                                         server_default="approved"))
    op.add_column("approvals", sa.Column("identity", sa.String(255), nullable=True))
    op.add_column("approvals", sa.Column("origin", sa.String(255), nullable=True))
    op.add_column("approvals", sa.Column("comment", sa.Text(), nullable=True))
    # One decision per identity and request: a second one (a race from another
    # machine included) fails on this index. NULLs never collide.
    op.create_index("ix_approvals_request_id_identity", "approvals",
                    ["request_id", "identity"], unique=True)
    op.add_column("runs", sa.Column("change_id", sa.String(128), nullable=True))
    op.add_column("runs", sa.Column("change_url", sa.String(1024), nullable=True))
    op.add_column("runs", sa.Column("paused_by", sa.String(255), nullable=True))
    op.add_column("runs", sa.Column("paused_at", DATETIME, nullable=True))


def downgrade() -> None:
    for column in ("paused_at", "paused_by", "change_url", "change_id"):
        op.drop_column("runs", column)
    op.drop_index("ix_approvals_request_id_identity", table_name="approvals")
    for column in ("comment", "origin", "identity", "decision", "request_id"):
        op.drop_column("approvals", column)
    # Its index goes with it (MariaDB refuses to drop an index a foreign key uses).
    op.drop_table("approval_requests")
