"""Attempts record the commands they sent; runs record how they were started.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Spelled out here (not imported) so this revision never changes with the code.
LONGTEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _empty_list() -> sa.TextClause:
    """The JSON text ``[]`` as a column default on this backend.

    MySQL accepts a default on a TEXT column only as an expression in
    parentheses (MariaDB takes either), while SQLite refuses an expression
    default in ``ADD COLUMN``: the literal is spelled per backend.
    """
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        return sa.text("('[]')")
    return sa.text("'[]'")


def upgrade() -> None:
    # NOT NULL with a default: attempts recorded before this revision read
    # back with no commands (nothing about what they sent was kept).
    op.add_column("step_results", sa.Column("commands", LONGTEXT, nullable=False,
                                            server_default=_empty_list()))
    # Nullable: runs recorded before this revision do not know how they were started.
    op.add_column("runs", sa.Column("options", LONGTEXT, nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "options")
    op.drop_column("step_results", "commands")
