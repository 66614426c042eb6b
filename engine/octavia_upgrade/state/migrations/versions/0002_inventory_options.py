"""Runs record how their inventory was read, so ``resume`` reads it the same way.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Spelled out here (not imported) so this revision never changes with the code.
LONGTEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    # Nullable: runs recorded before this revision have no options (resume
    # then reads the inventory with the options given to it, as before).
    op.add_column("runs", sa.Column("inventory_options", LONGTEXT, nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "inventory_options")
