"""alembic environment for the run-state database.

The tool runs migrations itself on start (``state.migrate``), handing over an
open connection in ``config.attributes["connection"]``; no alembic.ini exists.
Developers creating a new revision use the same entry point, see docs/state.md.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from octavia_upgrade.state.models import METADATA

config = context.config
target_metadata = METADATA


def _configure_and_run(connection) -> None:  # type: ignore[no-untyped-def]
    if connection.dialect.name == "sqlite" and \
            not connection.connection.dbapi_connection.in_transaction:
        # Batch mode copies a table and drops the old one: with foreign keys
        # on, that fails on every row referring to it. ``state.migrate`` turns
        # them off itself (and on again, after checking for orphans); this
        # covers a connection handed over outside a transaction.
        connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _configure_and_run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("octavia-upgrade migrations run online only")
run_migrations_online()
