"""Runs refused before their first step are recorded: run status ``refused``.

A run the deployed release or the preflight refused is kept as evidence
(what was tried, when, by whom, and every missing prerequisite, in its
events); ``runs`` lists it. Only the CHECK constraint on ``runs.status``
changes. Going back turns such runs into ``failed``, the nearest status the
older schema knows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Spelled out here (not imported) so this revision never changes with the code.
BEFORE = ("running", "succeeded", "failed", "interrupted", "aborted", "rolled_back")
AFTER = (*BEFORE, "refused")


def _one_of(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _replace_check(values: tuple[str, ...]) -> None:
    # SQLite: batch mode copies the table, with the new constraint in place of the old.
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("ck_runs_status", type_="check")
        batch.create_check_constraint("ck_runs_status", _one_of(values))


def upgrade() -> None:
    _replace_check(AFTER)


def downgrade() -> None:
    op.execute(sa.text("UPDATE runs SET status = 'failed' WHERE status = 'refused'"))
    _replace_check(BEFORE)
