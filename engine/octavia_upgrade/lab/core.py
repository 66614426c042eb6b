"""The rehearsal lab as one object: ``Lab(dir).up()``, ``status()``, ``fault()``, ``down()``.

Its parts: :mod:`.layout` (the lab directory, ``lab.json``, ``inventory.yaml``),
:mod:`.bringup` (``up``), :mod:`.teardown` (``down``), :mod:`.nodes` (the sshd
nodes). State lives in ``DIR/lab.json`` (every PID the lab started, with its
start time) so any later process — ``lab status``, ``lab down`` after a crash
— can act on it. ``down`` stops every recorded process by PID, removes what
the lab created and is safe to run twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

# LabError lives with every other error; importable from here as before.
from octavia_upgrade.errors import InvalidInput, LabError, Refused, UpgradeError
from octavia_upgrade.lab import bringup, layout, teardown
from octavia_upgrade.lab.bringup import LB_NAME, WORKER_QUEUE
from octavia_upgrade.lab.layout import NODE_PATHS
from octavia_upgrade.lab.procs import Proc

if TYPE_CHECKING:
    from octavia_upgrade.lab.nodes import LabNodes, RunningNode
    from octavia_upgrade.lab.shell import NodeShell

__all__ = ["DEFAULT_NET", "DEFAULT_NODES", "DEFAULT_RELEASE", "LB_NAME", "MAX_FULL_NODES",
           "MAX_NODES", "NODE_PATHS", "WORKER_QUEUE", "Lab", "LabError", "Log"]

DEFAULT_NODES = 3
DEFAULT_RELEASE = "dalmatian"
DEFAULT_NET = "127.42.0"
MAX_NODES = 50
#: A full node runs five services (~650 MB); more than this is a --bare lab.
MAX_FULL_NODES = 5


Log = Callable[[str], None]


class Lab:
    """One lab directory."""

    def __init__(self, directory: str | os.PathLike[str], log: Log = print) -> None:
        self.dir = Path(directory).expanduser().resolve()
        self.log = log
        self._t0 = time.monotonic()

    # -- state ----------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return layout.state_file(self.dir)

    @property
    def inventory_file(self) -> Path:
        return layout.inventory_file(self.dir)

    def state(self) -> dict[str, Any]:
        """What ``lab.json`` records; empty without a lab (:class:`LabError` if unreadable)."""
        return layout.read_state(self.dir)

    def save(self, st: dict[str, Any]) -> None:
        """Record ``st`` in ``lab.json`` (atomically, mode 0600)."""
        layout.save_state(self.dir, st)

    def nodes_api(self) -> LabNodes:
        """The lab's sshd nodes (:class:`~octavia_upgrade.lab.nodes.LabNodes`)."""
        from octavia_upgrade.lab.nodes import LabNodes

        return LabNodes(self.dir)

    _nodes = nodes_api  # the name older callers use

    def node_fs(self, name: str) -> Path:
        return layout.node_fs(self.dir, name)

    def progress(self, text: str) -> None:
        """Log ``text`` with the seconds since ``up`` started."""
        self.log(f"[{time.monotonic() - self._t0:6.1f}s] {text}")

    def is_up(self) -> bool:
        """True when the recorded lab has processes still running."""
        return any(p.alive() for p in self._recorded_procs(self.state())) or any(
            n.alive() for n in self.nodes_api().running())

    # -- up -------------------------------------------------------------------------

    def up(self, nodes: int = DEFAULT_NODES, release: str = DEFAULT_RELEASE, *,
           bare: bool = False, net: str = DEFAULT_NET, name: str | None = None,
           prepare_next: bool = True, loadbalancers: int = 1,
           flavor: str = "venv", login: str | None = None,
           audit_commands: bool = False) -> dict[str, Any]:
        """Bring the lab up; return its state. See ``docs/lab.md``.

        ``flavor`` is the deployment style the nodes are laid out in
        (:mod:`~octavia_upgrade.lab.styles`: ``venv`` or ``osa``); the
        inventory names the shipped flavor of the same name. ``login``: the
        engine logs in as this new user and runs every command through sudo
        with the password of ``OCTAVIA_UPGRADE_LAB_SUDO_PASSWORD``
        (:mod:`~octavia_upgrade.lab.login`). ``audit_commands``: every node
        logs each command it runs (:mod:`~octavia_upgrade.lab.audit`).

        Raises:
            InvalidInput: bad node count, release or flavor.
            Refused: a lab is already up in this directory.
            LabError: something failed while starting (every started process is
                stopped again; files stay in the directory for inspection).
        """
        from octavia_upgrade.lab import wheelhouse
        from octavia_upgrade.lab.nodes import unavailable_reason

        limit = MAX_NODES if bare else MAX_FULL_NODES
        if not 1 <= nodes <= limit:
            raise InvalidInput(f"--nodes must be between 1 and {limit}"
                               + ("" if bare else " (use --bare for more sshd-only nodes)"))
        from octavia_upgrade.lab.loadbalancers import MAX_LOADBALANCERS

        if not 1 <= loadbalancers <= MAX_LOADBALANCERS:
            raise InvalidInput(f"--loadbalancers must be between 1 and {MAX_LOADBALANCERS}")
        if bare and loadbalancers != 1:
            raise InvalidInput("--loadbalancers needs Octavia: a --bare lab has none")
        from octavia_upgrade.lab.styles import style

        lab_style = style(flavor)
        if bare and lab_style.name != "venv":
            raise InvalidInput("--flavor needs Octavia: a --bare lab has none")
        missing = lab_style.missing_programs()
        if missing:
            raise Refused(f"the {lab_style.name} lab needs {', '.join(missing)} on this machine "
                          "(Debian packages of the same names; scripts/bootstrap installs them)")
        login_password = ""
        if login is not None:
            from octavia_upgrade.lab import login as lab_login

            if bare:
                raise InvalidInput("--login is for a full lab (its inventory runs the "
                                   "upgrade): leave out --bare")
            login_password = lab_login.check(login)
        rel = None if bare else wheelhouse.supported_release(release)
        reason = unavailable_reason()
        if reason:
            raise Refused(f"the lab cannot run here: {reason}")
        if self.state_file.exists():
            if self.is_up():
                raise Refused(f"a lab is already up in {self.dir}; "
                              f"run `octavia-upgrade lab down --dir {self.dir}` first")
            self.down(quiet=True)
        self._t0 = time.monotonic()
        name = name or self.dir.name
        st: dict[str, Any] = {
            "name": name, "deployment": f"lab-{name}", "release": rel.series if rel else None,
            "bare": bare, "net": net, "nodes": [f"node{i + 1}" for i in range(nodes)],
            "flavor": lab_style.name,
            **({"login": lab_login.planned(login)} if login is not None else {}),
            **({"audit_commands": True} if audit_commands else {}),
            "created_paths": [], "faults": {}, "status": "starting",
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.save(st)
        try:
            if bare:
                bringup.up_bare(self, st)
            else:
                assert rel is not None
                bringup.up_full(self, st, rel.series, prepare_next, loadbalancers,
                                login_password=login_password)
        except BaseException as exc:
            self.progress(f"lab up failed: {exc}; stopping what was started")
            teardown.stop_everything(self.dir, self.state(), self.nodes_api())
            st = self.state()
            st["status"] = "failed"
            self.save(st)
            if isinstance(exc, UpgradeError) or not isinstance(exc, Exception):
                raise
            raise LabError(f"lab up failed: {exc} (logs kept in {self.dir}; "
                           "`lab down` removes them)") from exc
        st = self.state()
        st["status"] = "up"
        st["up_seconds"] = round(time.monotonic() - self._t0, 1)
        self.save(st)
        self.progress(f"lab is up in {st['up_seconds']:.0f}s; inventory: {self.inventory_file}")
        return st

    def node_shell(self, nodes_api: LabNodes, node: RunningNode) -> NodeShell:
        """A shell on the running ``node`` (as root, with the lab's key and known_hosts)."""
        from octavia_upgrade.lab.shell import NodeShell

        return NodeShell(node.address, node.port, str(nodes_api.client_key),
                         str(nodes_api.known_hosts))

    def shell(self, name: str) -> NodeShell:
        """A :class:`~octavia_upgrade.lab.shell.NodeShell` for node ``name``."""
        nodes_api = self.nodes_api()
        return self.node_shell(nodes_api, self._node(nodes_api, name))

    def _node(self, nodes_api: LabNodes, name: str) -> RunningNode:
        for n in nodes_api.running():
            if n.name == name:
                return n
        known = ", ".join(self.state().get("nodes", [])) or "none"
        raise InvalidInput(f"no running lab node {name!r} (nodes: {known})")

    # -- status ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Nodes and their services, load balancers, amphorae, VIP, infrastructure."""
        from octavia_upgrade.catalog import load_catalog
        from octavia_upgrade.lab import haproxy, kolla, services
        from octavia_upgrade.lab.api import ApiError, OctaviaApi

        st = self.state()
        if not st:
            raise InvalidInput(f"no lab in {self.dir} (run `octavia-upgrade lab up`)")
        nodes_api = self.nodes_api()
        running = {n.name: n for n in nodes_api.running()}
        blocked = set(nodes_api.blocked())
        out_nodes = []
        for name in st.get("nodes", []):
            node = running.get(name)
            entry: dict[str, Any] = {"name": name, "faults": sorted(st["faults"].get(name, {}))}
            if name in blocked and "unreachable" not in entry["faults"]:
                entry["faults"].append("unreachable")
            if node is None or not node.alive():
                entry.update(address=None, sshd="stopped", services={})
            else:
                entry.update(address=f"{node.address}:{node.port}", sshd="running")
                if not st.get("bare"):
                    shell = self.node_shell(nodes_api, node)
                    read = (kolla.node_software if st.get("flavor") == "kolla"
                            else services.node_software)
                    entry["services"], version = (
                        ({u: "unreachable" for u in services.UNITS}, None) if name in blocked
                        else read(shell))
                    found = load_catalog().by_octavia_version(version) if version else None
                    entry.update(octavia=version, release=found.series if found else None)
                else:
                    entry["services"] = {}
            out_nodes.append(entry)
        running_releases = {n.get("release") for n in out_nodes if n.get("address")}
        result: dict[str, Any] = {"dir": str(self.dir), "status": st.get("status"),
                                  # what every node runs now; None when they differ or
                                  # none could be read (each node's is in "nodes")
                                  "release": (running_releases.pop()
                                              if len(running_releases) == 1 else None),
                                  "release_at_up": st.get("release"), "bare": st.get("bare"),
                                  "flavor": st.get("flavor", "venv"),
                                  "deployment": st.get("deployment"), "nodes": out_nodes,
                                  "inventory": str(self.inventory_file)}
        if st.get("bare"):
            return result
        infra = {}
        for key, label in (("mariadb", "mariadb"), ("rabbitmq", "rabbitmq")):
            procs = self._recorded_procs({key: st.get(key)})
            infra[label] = "running" if procs and procs[0].alive() else "stopped"
        if infra["rabbitmq"] == "running" and not self._broker().answers():
            infra["rabbitmq"] = "stopped"  # the app (`lab broker stop`); its VM runs
        amp = st.get("amphora")
        infra["amphora-heartbeats"] = (
            "running" if amp and Proc.from_dict(amp).alive() else "stopped")
        result["infrastructure"] = infra
        lbs: list[dict[str, Any]] = []
        amps: list[dict[str, Any]] = []
        error = None
        for url in st.get("apis", []):
            api = OctaviaApi(url, timeout=5)
            try:
                lbs = [{k: lb.get(k) for k in ("id", "name", "vip_address",
                                               "provisioning_status", "operating_status")}
                       for lb in api.loadbalancers()]
                amps = [{k: a.get(k) for k in ("id", "loadbalancer_id", "status", "role",
                                               "compute_id")} for a in api.amphorae()]
                error = None
                break
            except ApiError as exc:
                error = str(exc)
        result["loadbalancers"] = lbs
        result["amphorae"] = amps
        if error:
            result["api_error"] = error
        dp = st.get("datapath")
        if dp:
            url = f"http://{dp['vip']}:{dp['port']}/"
            result["vip"] = {"url": url, "reachable": haproxy.reachable(url)}
        return result

    # -- faults ---------------------------------------------------------------------

    def _broker(self) -> Any:
        from octavia_upgrade.lab.rabbitmq import RabbitMQ

        st = self.state()
        if not st or not st.get("rabbitmq"):
            raise InvalidInput(f"no lab with a message queue in {self.dir} "
                               "(run `octavia-upgrade lab up` without --bare)")
        return RabbitMQ.from_dict(st["rabbitmq"])

    def restart_database(self) -> str:
        """Stop the lab's MariaDB by its PID and start it again on the same data and
        port: every open connection is cut, as when a database server restarts."""
        from octavia_upgrade.lab.dbservers import MariaDBServer

        st = self.state()
        if not st or not st.get("mariadb"):
            raise InvalidInput(f"no lab with a database in {self.dir} "
                               "(run `octavia-upgrade lab up` without --bare)")
        db = MariaDBServer.from_dict(st["mariadb"])
        old = db.pid
        db.stop()
        db.start()
        st["mariadb"] = db.as_dict()
        self.save(st)
        return (f"MariaDB on 127.0.0.1:{db.port} restarted (PID {old} → {db.pid}); "
                "every connection it had was cut")

    def broker(self, action: str) -> str:
        """Stop the lab's RabbitMQ (its port closes, as after ``systemctl stop``) or
        start it again (``action``: stop | start); return what was done."""
        mq = self._broker()
        if action == "stop":
            if not mq.answers():
                raise Refused("the lab's RabbitMQ is already stopped; `lab broker start` "
                              "starts it")
            mq.stop_app()
            return f"RabbitMQ on 127.0.0.1:{mq.port} is stopped (connections refused)"
        if action == "start":
            if mq.answers():
                return f"RabbitMQ on 127.0.0.1:{mq.port} already answers"
            mq.start_app()
            return f"RabbitMQ on 127.0.0.1:{mq.port} answers again"
        raise InvalidInput(f"unknown broker action {action!r}; stop or start")

    def fault(self, node: str, kind: str, arg: str | None = None) -> str:
        """Inject fault ``kind`` on ``node`` (or clear them); return what was done."""
        from octavia_upgrade.lab import faults

        if kind not in faults.KINDS:
            raise InvalidInput(f"unknown fault {kind!r}; one of {', '.join(faults.KINDS)}")
        st = self.state()
        if not st:
            raise InvalidInput(f"no lab in {self.dir} (run `octavia-upgrade lab up`)")
        nodes_api = self.nodes_api()
        rn = self._node(nodes_api, node)
        target = faults.Target(node, rn.address, rn.port, rn.pid, self.node_fs(node), self.dir)
        current: dict[str, Any] = st["faults"].setdefault(node, {})
        if kind == "clear":
            cleared = sorted(current)
            for k, rec in list(current.items()):
                if k == "unreachable":
                    nodes_api.unblock(node)
                else:
                    faults.clear_one(target, k, rec)
                del current[k]
                self.save(st)
            return f"{node}: cleared {', '.join(cleared) or 'nothing (no faults)'}"
        if kind in current:
            raise Refused(f"{node} already has fault {kind}; `lab fault {node} clear` first")
        if st.get("flavor") == "kolla" and kind in ("stuck-service", "stuck-failover",
                                                    "fail-migration"):
            raise Refused(f"{kind} acts on a node's units and venv; a kolla lab runs Octavia "
                          "in containers (use `podman pause`/`podman kill` inside the node)")
        if st.get("bare") and kind in ("stuck-service", "stuck-failover", "fail-migration"):
            raise InvalidInput(f"{kind} needs Octavia on the node; this lab is --bare")
        if kind == "unreachable":
            nodes_api.block(node)
            rec: dict[str, Any] = {}
            done = f"{node} ({rn.address}:{rn.port}) is unreachable: packets are dropped"
        elif kind == "stuck-service":
            if not arg:
                raise InvalidInput("stuck-service needs a UNIT (e.g. octavia-worker)")
            rec = faults.stuck_service(target, arg)
            done = (f"{node}: {rec['unit']} (PID {rec['pid']}) is frozen; "
                    "`systemctl stop` will time out")
        elif kind == "stuck-failover":
            rec = faults.stuck_service(target, "octavia-worker")
            done = (f"{node}: octavia-worker (PID {rec['pid']}) is frozen; a failover it "
                    "takes stays PENDING_UPDATE until cleared")
        elif kind == "fail-migration":
            rec = faults.fail_migration(target, arg)
            if rec["hold"]:
                done = (f"{node}: every `octavia-db-manage upgrade` now stops after applying "
                        f"the next migration, its database connection open, and waits while "
                        f"{rec['hold']} exists (it creates it); clearing the fault lets it "
                        "go on")
            else:
                done = f"{node}: every `octavia-db-manage upgrade` now fails until cleared" + (
                    ", after applying the next migration" if rec["half_way"] else "")
        elif kind == "slow":
            rec = faults.slow(target, arg or faults.DEFAULT_DELAY)
            done = (f"{node}: new SSH connections get +{rec['delay'] * 1000:.0f} ms "
                    "each way")
        else:
            path = arg or faults.DEFAULT_FULL_PATH
            rec = faults.disk_full(target, path)
            done = f"{node}: {path} is full (writes fail with ENOSPC)"
        current[kind] = rec
        self.save(st)
        return done

    # -- down -----------------------------------------------------------------------

    @staticmethod
    def _recorded_procs(st: dict[str, Any]) -> list[Proc]:
        return teardown.recorded_procs(st)

    def _service_procs(self, st: dict[str, Any]) -> list[Proc]:
        return teardown.service_procs(self.dir, st)

    def down(self, quiet: bool = False) -> list[str]:
        """Stop every process the lab started (by PID) and remove what it created.

        Safe to run twice and on a half-started lab. Returns what was left
        running (should be empty).
        """
        st = self.state()
        if not st and not (self.dir / "nodes.json").exists():
            if not quiet:
                self.log(f"no lab in {self.dir}: nothing to do")
            return []
        left = teardown.tear_down(self.dir, st, self.nodes_api())
        if not quiet:
            self.log(f"lab in {self.dir} is down" + (
                f"; still running: {', '.join(left)}" if left else ""))
        return left
