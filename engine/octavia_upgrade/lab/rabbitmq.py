"""A private RabbitMQ broker for the lab, bound to 127.0.0.1 only.

Debian's ``rabbitmq-server`` package does not start a usable service in a
container, and a machine-wide broker is not the lab's to touch. The lab runs
its own node from the package's scripts with every path and port in the
environment: AMQP on ``127.0.0.1:PORT``, the Erlang distribution port bound to
127.0.0.1 through ``advanced.config`` (without it, it binds 0.0.0.0), and its
own ``epmd`` that the lab starts in the foreground so that it, too, has a PID
the lab can stop (an ``epmd`` started by Erlang itself daemonises and outlives
the broker).

Every process of the broker (epmd, the server script and its Erlang VM, each
``rabbitmqctl``) runs with its working directory in the broker's folder and
``ERL_CRASH_DUMP`` pointing into its log folder: an Erlang crash dump or a
``MnesiaCore.*`` file can never land in the operator's current directory.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from octavia_upgrade.errors import LabError
from octavia_upgrade.lab.procs import Proc, free_port, spawn, wait_tcp

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

    def ctl(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """``rabbitmqctl -n NODE ARGS`` in the broker's folder and environment."""
        base = Path(self.base_dir)
        return subprocess.run(
            [str(SCRIPTS / "rabbitmqctl"), "-n", self.nodename, *args], cwd=base,
            env=_env(base, self.port, self.dist_port, self.epmd_port),
            capture_output=True, text=True, timeout=timeout, check=False)

    def consumers(self) -> dict[str, int]:
        """Queue name → number of consumers (``rabbitmqctl list_queues``)."""
        done = self.ctl("-q", "list_queues", "name", "consumers")
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

    def answers(self) -> bool:
        """Whether the AMQP port accepts a connection now."""
        return wait_tcp("127.0.0.1", self.port, 1.0)

    def stop_app(self) -> None:
        """``rabbitmqctl stop_app``: the broker stops and closes its AMQP port, as after
        ``systemctl stop rabbitmq-server``; the Erlang VM stays, so the lab's processes
        (and their PIDs) are unchanged and :meth:`start_app` brings it back."""
        done = self.ctl("stop_app")
        if done.returncode != 0 or self.answers():
            raise LabError(f"rabbitmqctl stop_app failed: {done.stderr.strip()}")

    def start_app(self, timeout: float = 60.0) -> None:
        """``rabbitmqctl start_app``; returns once the AMQP port accepts connections."""
        done = self.ctl("start_app", timeout=timeout)
        if done.returncode != 0 or not wait_tcp("127.0.0.1", self.port, timeout):
            raise LabError(f"rabbitmqctl start_app failed: {done.stderr.strip()}")

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the broker cleanly, so that its data folder can be removed afterwards.

        1. ``rabbitmqctl stop PIDFILE``: the node stops its applications (Mnesia
           closes its tables) and rabbitmqctl returns once the VM has exited;
        2. if the VM still runs (rabbitmqctl failed or timed out): SIGTERM, which
           the Erlang VM handles as an orderly ``init:stop()``, waiting up to
           ``timeout`` s; SIGKILL only after that;
        3. the ``rabbitmq-server`` script (it ends with the VM), then epmd last:
           the node unregisters from it on its way down.
        """
        base = Path(self.base_dir)
        beam = self.beam or _beam_from_pid_file(base)
        if self.server.alive() or (beam is not None and beam.alive()):
            try:
                self.ctl("stop", str(base / "rabbitmq.pid"), timeout=timeout)
            except (subprocess.TimeoutExpired, OSError):
                pass  # step 2 takes over
        if beam is not None:
            beam.stop(timeout)
        self.server.stop(timeout)
        self.epmd.stop(5.0)


def _beam_from_pid_file(base: Path) -> Proc | None:
    """The broker's Erlang VM from its PID file, if that PID is an Erlang VM now."""
    try:
        pid = int((base / "rabbitmq.pid").read_text().strip())
        with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
            comm = f.read().strip()
    except (OSError, ValueError):
        return None
    return Proc.of("beam.smp", pid) if comm.startswith("beam") else None


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
        "ERL_CRASH_DUMP": str(base / "log" / "erl_crash.dump"),
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
    _, epmd = spawn("epmd", [EPMD, "-address", "127.0.0.1", "-port", str(epmd_port)],
                    cwd=base, log=base / "log" / "epmd.log", env=env)
    _, server = spawn("rabbitmq-server", [str(SCRIPTS / "rabbitmq-server")], cwd=base,
                      log=base / "log" / "console.log", env=env)
    mq = RabbitMQ(str(base), port, dist_port, epmd_port, server, epmd)
    deadline = time.monotonic() + timeout
    if not wait_tcp("127.0.0.1", port, timeout, server):
        mq.stop(10)
        raise RuntimeError(f"RabbitMQ did not start within {timeout:.0f}s; see {base}/log")
    # The AMQP port opens before the broker finishes booting: wait properly.
    wait = max(5, int(deadline - time.monotonic()))
    try:
        mq.ctl("await_startup", "--timeout", str(wait), timeout=wait + 30)
    except subprocess.TimeoutExpired:
        pass  # the PID file below tells whether the VM is up
    try:
        beam_pid = int((base / "rabbitmq.pid").read_text().strip())
    except (OSError, ValueError):
        beam_pid = None
    if beam_pid is not None:
        mq = RabbitMQ(str(base), port, dist_port, epmd_port, server, epmd,
                      Proc.of("beam.smp", beam_pid))
    return mq
