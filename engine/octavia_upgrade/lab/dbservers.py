"""Private MariaDB and PostgreSQL servers on a loopback port, for tests and the lab.

Each server lives entirely under its own ``base_dir`` (data, socket, pid file,
log), listens on 127.0.0.1 only, and is stopped by the PID recorded when it
started (checked against the process start time, see ``lab.procs``), never by
name. Both use Debian's packages: ``mariadb-server`` and ``postgresql``.

PostgreSQL refuses to run as root, so as root it runs as the ``postgres``
system user: ``base_dir`` must then be reachable by that user (e.g. a
directory under /tmp with mode 0755 parents). MariaDB runs as the invoking
user (``--user=root`` when root), so it works in any private directory.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from octavia_upgrade.errors import UpgradeError
from octavia_upgrade.lab.procs import Proc, free_port, wait_tcp

MARIADB_INSTALL_DB = "mariadb-install-db"
MARIADBD = "/usr/sbin/mariadbd"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
#: sockaddr_un.sun_path is 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 100


class DBServerError(UpgradeError):
    """A private database server could not be set up, started or stopped."""


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _socket_path(path: Path) -> Path:
    if len(str(path)) > _MAX_SOCKET_PATH:
        raise DBServerError(f"socket path {path} is too long for a unix socket; "
                            "use a shorter base directory")
    return path


def _wait_for(check: Any, proc: Proc, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not proc.alive():
            raise DBServerError(f"{what} exited during start-up; log {log}:\n{_log_tail(log)}")
        try:
            check()
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last = exc
            time.sleep(0.2)
    raise DBServerError(f"{what} not ready after {timeout:.0f}s ({last}); "
                        f"log {log}:\n{_log_tail(log)}")


class _Server:
    """What both servers share: ports, credentials, the process record."""

    kind = "database"
    scheme = ""

    def __init__(self, base_dir: Path | str, port: int | None = None, *,
                 user: str = "octavia", password: str | None = None,
                 database: str = "octavia") -> None:
        self.base_dir = Path(base_dir).resolve()
        self.port = port or 0
        self.user = user
        self.password = password or secrets.token_urlsafe(12)
        self.database = database
        self.proc: Proc | None = None
        self._popen: subprocess.Popen[bytes] | None = None

    # -- shared API --------------------------------------------------------

    def url(self, database: str | None = None) -> str:
        """SQLAlchemy URL for ``database`` (default: the one created at start)."""
        return (f"{self.scheme}://{self.user}:{self.password}@127.0.0.1:{self.port}/"
                f"{database or self.database}")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server by its recorded PID (SIGTERM, then SIGKILL) and reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        gone = proc.stop(timeout)
        if self._popen is not None:
            with suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout=5)
            self._popen = None
        if not gone:
            raise DBServerError(f"{self.kind} server pid {proc.pid} did not stop")

    def as_dict(self) -> dict[str, Any]:
        """What a lab state file records to stop this server from another process."""
        return {"kind": self.kind, "base_dir": str(self.base_dir), "port": self.port,
                "user": self.user, "password": self.password, "database": self.database,
                "proc": self.proc.as_dict() if self.proc else None}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> _Server:
        server = cls(raw["base_dir"], int(raw["port"]), user=raw["user"],
                     password=raw["password"], database=raw["database"])
        server.proc = Proc.from_dict(raw["proc"]) if raw.get("proc") else None
        return server

    def __enter__(self) -> _Server:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _spawn(self, argv: list[str], log: Path, **kwargs: Any) -> None:
        with open(log, "ab") as out:
            # A new session: Ctrl-C in a terminal running the tests reaches pytest,
            # which then stops the server by PID, rather than killing it mid-write.
            # Its working directory is its own folder, never the caller's.
            kwargs.setdefault("cwd", self.base_dir)
            self._popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                           stderr=subprocess.STDOUT, start_new_session=True,
                                           **kwargs)
        self.proc = Proc.of(f"{self.kind}:{self.port}", self._popen.pid)


class MariaDBServer(_Server):
    """A private MariaDB server: ``with MariaDBServer(dir) as db: db.url()``."""

    kind = "mariadb"
    scheme = "mysql+pymysql"

    @property
    def socket(self) -> Path:
        return self.base_dir / "run" / "mysqld.sock"

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "run" / "mysqld.pid"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "log" / "mariadb.err"

    def _os_user(self) -> str:
        return pwd.getpwuid(os.geteuid()).pw_name

    def start(self, timeout: float = 60.0) -> str:
        """Initialise the data directory if needed, start, create the database and user.

        Returns the URL of :attr:`database` for :attr:`user`.
        """
        if self.running():
            return self.url()
        if not shutil.which(MARIADB_INSTALL_DB) or not os.path.exists(MARIADBD):
            raise DBServerError("MariaDB is not installed (Debian package mariadb-server; "
                                "scripts/bootstrap installs it)")
        data = self.base_dir / "data"
        # Its own temporary folder: servers set up at once (two labs, a lab and the
        # tests' server) otherwise share /tmp, where their bootstraps' temporary
        # tables can collide.
        tmp = self.base_dir / "tmp"
        for d in (self.base_dir / "run", self.base_dir / "log", tmp):
            d.mkdir(parents=True, exist_ok=True)
        _socket_path(self.socket)
        if not (data / "mysql").is_dir():
            data.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                [MARIADB_INSTALL_DB, "--no-defaults", f"--user={self._os_user()}",
                 f"--datadir={data}", "--auth-root-authentication-method=normal",
                 "--skip-test-db", "--skip-name-resolve", f"--tmpdir={tmp}"],
                capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise DBServerError(f"mariadb-install-db failed ({done.returncode}): "
                                    f"{(done.stderr or done.stdout).strip()[-2000:]}")
        self.port = self.port or free_port()
        self._spawn([MARIADBD, "--no-defaults", f"--user={self._os_user()}",
                     f"--datadir={data}", f"--socket={self.socket}",
                     f"--pid-file={self.pid_file}", f"--port={self.port}",
                     "--bind-address=127.0.0.1", "--skip-name-resolve", f"--tmpdir={tmp}",
                     f"--log-error={self.log_file}", "--character-set-server=utf8mb4",
                     "--collation-server=utf8mb4_general_ci"], self.log_file)
        try:
            assert self.proc is not None
            _wait_for(lambda: self._admin("SELECT 1"), self.proc, timeout, "mariadbd",
                      self.log_file)
            recorded = int(self.pid_file.read_text().strip())
            if recorded != self.proc.pid:
                raise DBServerError(f"{self.pid_file} names pid {recorded}, "
                                    f"expected {self.proc.pid}")
            self._admin(f"CREATE USER IF NOT EXISTS '{self.user}'@'%%' "
                        "IDENTIFIED BY %(pw)s", {"pw": self.password})
            self.create_database(self.database)
        except BaseException:
            self.stop()
            raise
        return self.url()

    def create_database(self, name: str) -> str:
        """Create database ``name`` (utf8mb4) owned by :attr:`user`; return its URL."""
        if not name.replace("_", "").isalnum():
            raise DBServerError(f"database name {name!r}: use letters, digits and _")
        self._admin(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
        self._admin(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{self.user}'@'%'")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS `{name}`")

    def _admin(self, sql: str, params: dict[str, Any] | None = None) -> None:
        import pymysql

        conn = pymysql.connect(unix_socket=str(self.socket), user="root", connect_timeout=5)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
            conn.commit()
        finally:
            conn.close()


class PostgresServer(_Server):
    """A private PostgreSQL 15 server: ``with PostgresServer(dir) as db: db.url()``."""

    kind = "postgresql"
    scheme = "postgresql+psycopg"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "run"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "postmaster.pid"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "log" / "postgres.log"

    def _as(self) -> dict[str, Any]:
        """subprocess arguments that run a program as the server's OS user."""
        if os.geteuid() != 0:
            return {}
        pw = pwd.getpwnam("postgres")
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [],
                "cwd": str(self.base_dir),
                "env": {"PATH": "/usr/bin:/bin", "HOME": str(self.base_dir),
                        "LANG": "C.UTF-8"}}

    def start(self, timeout: float = 60.0) -> str:
        """Initialise the cluster if needed, start, create the database and role."""
        if self.running():
            return self.url()
        if not (PG_BIN / "initdb").exists():
            raise DBServerError(f"PostgreSQL is not installed ({PG_BIN}/initdb missing; "
                                "Debian package postgresql, installed by scripts/bootstrap)")
        for d in (self.base_dir, self.socket_dir, self.base_dir / "log"):
            d.mkdir(parents=True, exist_ok=True)
        _socket_path(self.socket_dir / f".s.PGSQL.{self.port or 65535}")
        run_as = self._as()
        if run_as:
            pw = pwd.getpwnam("postgres")
            for d in (self.base_dir, self.socket_dir, self.base_dir / "log"):
                os.chown(d, pw.pw_uid, pw.pw_gid)
            reach = subprocess.run(["test", "-w", str(self.base_dir)], check=False, **run_as)
            if reach.returncode != 0:
                raise DBServerError(f"{self.base_dir} is not reachable by the postgres user: "
                                    "PostgreSQL cannot run as root, so its directory's "
                                    "parents must be searchable by others (mode 0755)")
        if not (self.data_dir / "PG_VERSION").exists():
            done = subprocess.run(
                [str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                 "-E", "UTF8", "--no-locale", "--auth-local=trust",
                 "--auth-host=scram-sha-256", "--no-sync"],
                capture_output=True, text=True, check=False, **run_as)
            if done.returncode != 0:
                raise DBServerError(f"initdb failed ({done.returncode}): "
                                    f"{(done.stderr or done.stdout).strip()[-2000:]}")
        self.port = self.port or free_port()
        self._spawn([str(PG_BIN / "postgres"), "-D", str(self.data_dir),
                     "-k", str(self.socket_dir), "-h", "127.0.0.1", "-p", str(self.port)],
                    self.log_file, **run_as)
        try:
            assert self.proc is not None
            _wait_for(lambda: self._admin("SELECT 1"), self.proc, timeout, "postgres",
                      self.log_file)
            recorded = int(self.pid_file.read_text().splitlines()[0])
            if recorded != self.proc.pid:
                raise DBServerError(f"{self.pid_file} names pid {recorded}, "
                                    f"expected {self.proc.pid}")
            if not wait_tcp("127.0.0.1", self.port, 10, self.proc):
                raise DBServerError(f"postgres does not listen on 127.0.0.1:{self.port}")
            self._admin(f'DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '
                        f"'{self.user}') THEN CREATE ROLE \"{self.user}\" LOGIN; END IF; END$$")
            self._admin(f'ALTER ROLE "{self.user}" PASSWORD %(pw)s', {"pw": self.password})
            self.create_database(self.database)
        except BaseException:
            self.stop()
            raise
        return self.url()

    def stop(self, timeout: float = 30.0) -> None:
        # SIGTERM is PostgreSQL's "smart" shutdown, which waits for clients;
        # SIGINT ("fast") rolls them back and stops at once, which is what we want.
        if self.proc is not None and self.proc.alive():
            self.proc.signal(2)
        super().stop(timeout)

    def create_database(self, name: str) -> str:
        if not name.replace("_", "").isalnum():
            raise DBServerError(f"database name {name!r}: use letters, digits and _")
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), port=self.port, user="postgres",
                             dbname="postgres", autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}" OWNER "{self.user}" ENCODING \'UTF8\'')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), port=self.port, user="postgres",
                             dbname="postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, sql: str, params: dict[str, Any] | None = None) -> None:
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), port=self.port, user="postgres",
                             dbname="postgres", autocommit=True, connect_timeout=5) as conn:
            if params:
                # Utility statements (ALTER ROLE) take no server-side parameters.
                sql = sql % {k: psycopg.sql.quote(v) for k, v in params.items()}
            conn.execute(sql)
