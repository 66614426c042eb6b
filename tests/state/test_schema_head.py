"""``db.SCHEMA_HEAD`` (the fast at-head check) must name alembic's head revision."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from octavia_upgrade.state import db


def test_schema_head_is_the_newest_migration() -> None:
    assert db.SCHEMA_HEAD == db.head_revision()


def test_migrate_creates_then_recognises_the_head(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        db.migrate(engine)  # empty database: the full alembic path
        with engine.connect() as conn:
            assert db._stored_revision(conn) == db.SCHEMA_HEAD
            assert db.current_revision(conn) == db.SCHEMA_HEAD
        db.migrate(engine)  # at the head: the fast path, nothing changes
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).fetchall()
        assert rows == [(db.SCHEMA_HEAD,)]
    finally:
        engine.dispose()


def test_stored_revision_of_an_empty_database_is_none(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with engine.connect() as conn:
            assert db._stored_revision(conn) is None
    finally:
        engine.dispose()
