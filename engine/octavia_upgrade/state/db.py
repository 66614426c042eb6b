"""Opening the run-state database: URL, engine tuning, self-migration, errors.

I/O edge of :mod:`octavia_upgrade.state`. Every database failure leaves this
package as :class:`~octavia_upgrade.errors.StateError` (or
:class:`~octavia_upgrade.errors.InvalidInput` for a malformed URL) with a
message an operator can act on, and never with the URL's password in it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, make_url
from sqlalchemy.engine import URL

from octavia_upgrade.errors import InvalidInput, StateError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: How long a writer waits for SQLite's lock before giving up (ms).
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Drivers the tool ships support for (``pip install octavia-upgrade[postgresql|mysql]``).
SUPPORTED = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg",
             "mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}
_MIGRATION_LOCK = "octavia_upgrade_migrate"
#: The newest migration in ``migrations/versions`` (tests check it against
#: alembic's own answer): lets :func:`migrate` skip importing alembic.
SCHEMA_HEAD = "0006"


def default_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'state.db'}"


def exists(url: str | None, state_dir: Path) -> bool:
    """Whether a state database is there to read, without creating one.

    An SQLite file that does not exist holds no runs, and a read-only command
    (``plan``, ``runs``, ``show``, ``report``) must not create it. A server
    database (PostgreSQL, MariaDB) was configured on purpose: it counts as there.
    """
    parsed = parse_url(url or default_url(Path(state_dir).expanduser()))
    if parsed.get_backend_name() != "sqlite":
        return True
    if not parsed.database or parsed.database == ":memory:":
        return False
    path = Path(parsed.database).expanduser()
    # A state directory that is a file is a misconfiguration to report, not "no runs".
    return path.is_file() or (path.parent.exists() and not path.parent.is_dir())


def safe_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***`` (for messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<malformed database URL>"


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise InvalidInput(f"[database] connection is not a database URL: {safe_url(url)!s}; "
                           "use e.g. sqlite:////path/state.db, "
                           "postgresql+psycopg://user:pw@host/db or "
                           "mysql+pymysql://user:pw@host/db") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise InvalidInput(f"[database] connection: unsupported database {backend!r} "
                           f"in {safe_url(parsed)}; use sqlite, postgresql or mysql/mariadb")
    if backend != "sqlite" and "+" not in parsed.drivername:
        # Default drivers (psycopg2, mysqlclient) are not dependencies of the tool.
        parsed = parsed.set(drivername=SUPPORTED[backend])
    return parsed


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk before the call returns, also in WAL mode.
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
    finally:
        cur.close()


def make_engine(url: URL) -> Engine:
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {"future": True}
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(url, **kwargs)
    except (ImportError, exc.NoSuchModuleError) as e:
        raise InvalidInput(f"[database] connection {safe_url(url)}: database driver not "
                           f"available ({e}); install octavia-upgrade[postgresql] or "
                           "octavia-upgrade[mysql]") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        _create_private(url.database)
        _wal_once(url.database)
    return engine


def _create_private(db: str | None) -> None:
    """Create a new SQLite file readable by its owner only (0600, as the logs are):
    it holds command output. SQLite gives its -wal and -shm files the same mode."""
    if not db or db == ":memory:" or db.startswith("file:"):
        return
    with contextlib.suppress(OSError):  # no folder yet: SQLite reports it on connect
        os.close(os.open(db, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _is_wal(db: str) -> bool:
    """Whether the file's header says WAL (bytes 18 and 19 are 2; see SQLite's file format)."""
    try:
        with open(db, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    return len(head) == 20 and head[18] == 2 and head[19] == 2


def _wal_once(db: str | None) -> None:
    """Switch a new SQLite file to WAL, one process at a time.

    Changing the journal mode takes the write lock without waiting (SQLite's
    busy timeout does not apply to it), so processes opening a new state
    database together failed at once with "database is locked". Done here
    under the migration's file lock, every later connection finds WAL and its
    own ``PRAGMA journal_mode = WAL`` changes nothing.
    """
    if not db or db == ":memory:" or db.startswith("file:") or _is_wal(db):
        return
    with contextlib.suppress(OSError, sqlite3.Error), _file_lock(db):
        # An error here (no folder, not a database) is reported by the first real connection.
        con = sqlite3.connect(db, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            con.execute("PRAGMA journal_mode = WAL").fetchall()
        finally:
            con.close()


def describe_error(error: BaseException, url: str | URL) -> str:
    """An operator-facing one-liner for a database exception."""
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    raw = str(url)
    with contextlib.suppress(exc.ArgumentError):
        pw = make_url(url).password
        if pw:
            text = text.replace(str(pw), "***")
    return f"{text.replace(raw, safe_url(url))} (state database {safe_url(url)})"


def prepare_state_dir(state_dir: Path) -> None:
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StateError(f"cannot create state directory {state_dir}: "
                         f"{e.strerror or e}") from None
    if not os.access(state_dir, os.W_OK | os.X_OK):
        raise StateError(f"state directory {state_dir} is not writable (by uid "
                         f"{os.geteuid()}, or its file system is read-only); set "
                         "[DEFAULT] state_dir or "
                         "OCTAVIA_UPGRADE_STATE_DIR to a writable directory")


@contextlib.contextmanager
def _file_lock(db: str) -> Iterator[None]:
    """An exclusive lock on ``DB.migrate-lock`` beside an SQLite file, between processes."""
    fd = os.open(f"{db}.migrate-lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _migration_lock(engine: Engine, conn: Any) -> Iterator[None]:
    """Serialise self-migration between processes that open a fresh database at once."""
    backend = engine.url.get_backend_name()
    if backend == "sqlite":
        db = engine.url.database
        if not db or db == ":memory:":
            yield
            return
        with _file_lock(db):
            yield
    elif backend == "postgresql":
        from sqlalchemy import text

        conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": _MIGRATION_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": _MIGRATION_LOCK})
            conn.commit()
    else:
        from sqlalchemy import text

        got = conn.execute(text("SELECT GET_LOCK(:k, 120)"), {"k": _MIGRATION_LOCK}).scalar()
        conn.commit()
        if got != 1:
            raise StateError("timed out waiting for another process migrating the "
                             f"state database {safe_url(engine.url)}")
        try:
            yield
        finally:
            conn.execute(text("SELECT RELEASE_LOCK(:k)"), {"k": _MIGRATION_LOCK})
            conn.commit()


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    # ConfigParser interpolation: a '%' in the install path must be doubled.
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _stored_revision(conn: Any) -> str | None:
    """The schema revision alembic recorded, or None (no table yet, or not one row)."""
    from sqlalchemy import text

    try:
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).fetchall()
    except exc.DBAPIError:
        rows = []
    conn.rollback()
    return str(rows[0][0]) if len(rows) == 1 else None


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision this version of the tool knows."""
    # Nearly every command opens a database that is already at the head:
    # answer that with one SELECT, without importing alembic (~0.1-0.2 s of
    # start-up, more than a whole step costs).
    with engine.connect() as conn:
        if _stored_revision(conn) == SCHEMA_HEAD:
            return
    from alembic import command
    from alembic.script import ScriptDirectory

    head = head_revision()
    with engine.connect() as conn:
        current = current_revision(conn)
        conn.rollback()
        if current == head:
            return
        known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
        if current is not None and current not in known:
            raise StateError(f"the state database {safe_url(engine.url)} is at schema revision "
                             f"{current}, which this version of octavia-upgrade does not know "
                             f"(newest known: {head}); upgrade octavia-upgrade")
        with _migration_lock(engine, conn), _sqlite_transactional_ddl(conn):
            command.upgrade(alembic_config(conn), "head")
            _check_foreign_keys(conn)
            conn.commit()


def _check_foreign_keys(conn: Any) -> None:
    """On SQLite, where migrations run with foreign keys off: refuse to commit orphans."""
    if conn.dialect.name != "sqlite":
        return
    orphans = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if orphans:
        raise StateError(f"the state database migration would leave {len(orphans)} row(s) "
                         f"pointing at nothing (first: {tuple(orphans[0])}); nothing was changed")


@contextlib.contextmanager
def _sqlite_transactional_ddl(conn: Any) -> Iterator[None]:
    """On SQLite, make the whole migration one transaction.

    pysqlite commits on its own before every CREATE/ALTER, so a crash in the
    middle of the first migration left tables without ``alembic_version``,
    and every later start failed with "table runs already exists". SQLite
    itself rolls back DDL like anything else: drive the transaction by hand,
    then give the pooled connection its usual behaviour back.

    Foreign keys are off meanwhile (a pragma SQLite ignores inside a
    transaction): batch mode copies a table and drops the old one, which
    would otherwise fail on every row that refers to it.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.rollback()
    raw = conn.connection.dbapi_connection
    saved = raw.isolation_level
    raw.isolation_level = None
    try:
        conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield
    finally:
        if raw.in_transaction:
            raw.rollback()
        conn.exec_driver_sql("PRAGMA foreign_keys = ON")
        raw.isolation_level = saved


def is_disk_full(error: BaseException) -> bool:
    orig = getattr(error, "orig", error)
    return (isinstance(orig, OSError) and orig.errno == errno.ENOSPC) or \
        "disk is full" in str(orig) or "No space left" in str(orig)
