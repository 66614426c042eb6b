"""A private RabbitMQ broker for the lab, bound to 127.0.0.1 only.

Debian's ``rabbitmq-server`` package does not start a usable service in a
container, and a machine-wide broker is not the lab's to touch. The lab runs
its own node from the package's scripts with every path and port in the
environment: AMQP on ``127.0.0.1:PORT``, the Erlang distribution port bound to
127.0.0.1 through ``advanced.config`` (without it, it binds 0.0.0.0), and its
own ``epmd`` that the lab starts in the foreground so that it, too, has a PID
the lab can stop (an ``epmd`` started by Erlang itself daemonises and outlives
the broker).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from octavia_upgrade.lab.procs import Proc, free_port, wait_tcp

SCRIPTS = Path("/usr/lib/rabbitmq/bin")
EPMD = "/usr/bin/epmd"


@dataclass(frozen=True)
class RabbitMQ:
    """A running (or recorded) private broker."""

    base_dir: str
    port: int
    dist_port: int
    epmd_port: int
    server: Proc
    epmd: Proc
    #: The Erlang VM (``beam.smp``), a child of the ``rabbitmq-server`` script.
    beam: Proc | None = None
    user: str = "guest"
    password: str = "guest"

    @property
    def nodename(self) -> str:
        return f"lab{self.port}@localhost"

    @property
    def transport_url(self) -> str:
        return f"rabbit://{self.user}:{self.password}@127.0.0.1:{self.port}/"

    def as_dict(self) -> dict[str, object]:
        return {"base_dir": self.base_dir, "port": self.port, "dist_port": self.dist_port,
                "epmd_port": self.epmd_port, "server": self.server.as_dict(),
                "epmd": self.epmd.as_dict(),
                "beam": self.beam.as_dict() if self.beam else None}

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> RabbitMQ:
        return cls(str(raw["base_dir"]), int(raw["port"]), int(raw["dist_port"]),  # type: ignore[arg-type]
                   int(raw["epmd_port"]), Proc.from_dict(raw["server"]),  # type: ignore[arg-type]
                   Proc.from_dict(raw["epmd"]),  # type: ignore[arg-type]
                   Proc.from_dict(raw["beam"]) if raw.get("beam") else None)  # type: ignore[arg-type]

    def procs(self) -> list[Proc]:
        return [p for p in (self.server, self.beam, self.epmd) if p is not None]

    def consumers(self) -> dict[str, int]:
        """Queue name → number of consumers (``rabbitmqctl list_queues``)."""
        done = subprocess.run(
            [str(SCRIPTS / "rabbitmqctl"), "-n", self.nodename, "-q", "list_queues",
             "name", "consumers"],
            env=_env(Path(self.base_dir), self.port, self.dist_port, self.epmd_port),
            capture_output=True, text=True, timeout=60, check=False)
        out: dict[str, int] = {}
        for line in done.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                out[parts[0]] = int(parts[1])
        return out

    def wait_consumers(self, queue: str, count: int, timeout: float = 180.0) -> bool:
        """Wait until ``queue`` has ``count`` consumers (a message sent earlier is lost)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.consumers().get(queue, 0) >= count:
                return True
            time.sleep(1.0)
        return False

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker (``rabbitmqctl stop``, then by PID) and its epmd by PID."""
        if self.server.alive():
            subprocess.run([str(SCRIPTS / "rabbitmqctl"), "-n", self.nodename, "stop"],
                           env=_env(Path(self.base_dir), self.port, self.dist_port,
                                    self.epmd_port),
                           capture_output=True, timeout=timeout, check=False)
        if self.beam is not None:
            self.beam.stop(timeout)
        self.server.stop(timeout)
        self.epmd.stop(5.0)


def _env(base: Path, port: int, dist_port: int, epmd_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
    env.update({
        "HOME": str(base / "home"),
        "RABBITMQ_NODENAME": f"lab{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
    })
    return env


def start(base_dir: str | Path, timeout: float = 90.0) -> RabbitMQ:
    """Start a private broker with its data under ``base_dir``.

    Raises:
        RuntimeError: the broker did not come up within ``timeout`` seconds
            (both processes are stopped again; the log folder is named).
    """
    base = Path(base_dir).resolve()
    for sub in ("home", "mnesia", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(base / "home", 0o700)
    port, dist_port, epmd_port = free_port(), free_port(), free_port()
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\n"
        "loopback_users = none\n"
        "log.file.level = info\n")
    (base / "advanced.config").write_text(
        "[{kernel, [{inet_dist_use_interface, {127,0,0,1}}]}].\n")
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq-env.conf").write_text("")
    env = _env(base, port, dist_port, epmd_port)
    with open(base / "log" / "epmd.log", "ab") as log:
        ep = subprocess.Popen([EPMD, "-address", "127.0.0.1", "-port", str(epmd_port)],
                              env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                              start_new_session=True)
    epmd = Proc.of("epmd", ep.pid)
    with open(base / "log" / "console.log", "ab") as log:
        srv = subprocess.Popen([str(SCRIPTS / "rabbitmq-server")], env=env, stdout=log,
                               stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    server = Proc.of("rabbitmq-server", srv.pid)
    mq = RabbitMQ(str(base), port, dist_port, epmd_port, server, epmd)
    deadline = time.monotonic() + timeout
    if not wait_tcp("127.0.0.1", port, timeout, server):
        mq.stop(10)
        raise RuntimeError(f"RabbitMQ did not start within {timeout:.0f}s; see {base}/log")
    # The AMQP port opens before the broker finishes booting: wait properly.
    subprocess.run([str(SCRIPTS / "rabbitmqctl"), "-n", mq.nodename, "await_startup",
                    "--timeout", str(max(5, int(deadline - time.monotonic())))],
                   env=env, capture_output=True, check=False)
    try:
        beam_pid = int((base / "rabbitmq.pid").read_text().strip())
    except (OSError, ValueError):
        beam_pid = None
    if beam_pid is not None:
        mq = RabbitMQ(str(base), port, dist_port, epmd_port, server, epmd,
                      Proc.of("beam.smp", beam_pid))
    return mq
