"""Private MariaDB and PostgreSQL servers: start, connect, stop by PID, nothing left."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from octavia_upgrade.lab.dbservers import (
    MARIADB_INSTALL_DB,
    PG_BIN,
    DBServerError,
    MariaDBServer,
    PostgresServer,
)
from octavia_upgrade.lab.procs import Proc

pytestmark = pytest.mark.lab


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="octavia-upgrade-dbtest-"))
    path.chmod(0o755)  # reachable by the postgres user
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _available(cls: type) -> bool:
    if cls is MariaDBServer:
        return bool(shutil.which(MARIADB_INSTALL_DB))
    return (PG_BIN / "initdb").exists()


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.add(int(entry))
    return found


@pytest.mark.parametrize("cls", [MariaDBServer, PostgresServer], ids=["mariadb", "postgresql"])
def test_start_connect_stop(cls: type, base: Path) -> None:
    if not _available(cls):
        pytest.skip(f"{cls.kind} is not installed (run scripts/bootstrap)")
    server = cls(base / cls.kind, user="octavia", database="octavia")
    try:
        url = server.start()
        assert url == server.url() and f"@127.0.0.1:{server.port}/octavia" in url
        assert server.password in url and server.running()
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY, v VARCHAR(10))"))
                conn.execute(text("INSERT INTO probe VALUES (1, 'ok')"))
            with engine.connect() as conn:
                assert conn.execute(text("SELECT v FROM probe")).scalar() == "ok"
        finally:
            engine.dispose()
        # A wrong password is refused: the user really has a password.
        bad = create_engine(url.replace(server.password, "wrong-password"))
        with pytest.raises(Exception):  # noqa: B017, PT011 - driver-specific auth error
            bad.connect().close()
        bad.dispose()
        other = server.create_database("second_db")
        assert other.endswith("/second_db")
        # Restart on the same data keeps it (the lab stops and starts it again).
        pid = server.pid
        server.stop()
        assert not Proc.of("x", pid).alive() and not os.path.exists(f"/proc/{pid}")
        server.start()
        engine = create_engine(server.url())
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT v FROM probe")).scalar() == "ok"
        finally:
            engine.dispose()
        pid = server.pid
        children = _children(pid)
    finally:
        server.stop()
    assert not server.running()
    for p in {pid, *children}:
        assert not os.path.exists(f"/proc/{p}"), f"process {p} left behind"
    server.stop()  # idempotent


def test_context_manager_stops_on_error_and_record_round_trip(base: Path) -> None:
    if not _available(MariaDBServer):
        pytest.skip("mariadb is not installed (run scripts/bootstrap)")
    with pytest.raises(RuntimeError, match="test failure"):
        with MariaDBServer(base / "m") as server:
            pid = server.pid
            record = server.as_dict()
            # What `lab down` does: rebuild the handle from the lab state file.
            again = MariaDBServer.from_dict(record)
            assert again.pid == pid and again.running()
            raise RuntimeError("test failure")
    assert not os.path.exists(f"/proc/{pid}")


def test_unusable_base_dir_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not _available(PostgresServer):
        pytest.skip("needs root and PostgreSQL")
    # pytest's tmp_path is private to root: the postgres user cannot reach it.
    with pytest.raises(DBServerError, match="not reachable by the postgres user"):
        PostgresServer(tmp_path / "pg").start()
    long = tmp_path / ("x" * 120)
    with pytest.raises(DBServerError, match="too long for a unix socket"):
        MariaDBServer(long).start()
