"""The rehearsal lab as one object: ``Lab(dir).up()``, ``status()``, ``fault()``, ``down()``.

State lives in ``DIR/lab.json`` (every PID the lab started, with its start
time) so any later process — ``lab status``, ``lab down`` after a crash —
can act on it. ``down`` stops every recorded process by PID, removes what the
lab created and is safe to run twice.

Layout of ``DIR``::

    lab.json            this lab's state (mode 0600: it names the DB password)
    inventory.yaml      the inventory for the engine (mode 0600)
    nodes.json ssh/     the sshd nodes (``lab.nodes``)
    nodes/NAME/fs/      the node's private folders, bind-mounted inside it over
                        /etc/octavia /var/lib/octavia /var/log/octavia
                        /run/octavia /opt/octavia
    bin/systemctl       the service-manager stand-in (``lab.systemctl``)
    mariadb/ rabbitmq/  shared infrastructure
    certs/              the lab CA
    haproxy/            the VIP and its members
    amphora/            the heartbeat sender
    faults/             fault relays and staging mounts
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from octavia_upgrade.errors import InvalidInput, Refused, UpgradeError
from octavia_upgrade.lab import octaviaconf as oc
from octavia_upgrade.lab.procs import Proc

DEFAULT_NODES = 3
DEFAULT_RELEASE = "dalmatian"
DEFAULT_NET = "127.42.0"
MAX_NODES = 50
#: A full node runs five services (~650 MB); more than this is a --bare lab.
MAX_FULL_NODES = 5

#: What each node gets as its own, inside its mount namespace.
NODE_PATHS = ("/etc/octavia", "/var/lib/octavia", "/var/log/octavia", "/run/octavia",
              "/opt/octavia")

LB_NAME = "lab-lb1"

#: The workers' RabbitMQ queue (``octavia.common.constants.TOPIC_AMPHORA_V2``).
WORKER_QUEUE = "octavia_provisioning_v2"


class LabError(UpgradeError):
    """The lab could not be brought up, inspected or changed."""


Log = Callable[[str], None]


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


class Lab:
    """One lab directory."""

    def __init__(self, directory: str | os.PathLike[str], log: Log = print) -> None:
        self.dir = Path(directory).expanduser().resolve()
        self.log = log
        self._t0 = time.monotonic()

    # -- state ----------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.dir / "lab.json"

    @property
    def inventory_file(self) -> Path:
        return self.dir / "inventory.yaml"

    def state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise LabError(f"{self.state_file}: unreadable lab state: {exc}") from None

    def _save(self, st: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        _write_private(tmp, json.dumps(st, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.state_file)

    def _nodes(self):  # -> LabNodes
        from octavia_upgrade.lab.nodes import LabNodes

        return LabNodes(self.dir)

    def node_fs(self, name: str) -> Path:
        return self.dir / "nodes" / name / "fs"

    def _progress(self, text: str) -> None:
        self.log(f"[{time.monotonic() - self._t0:6.1f}s] {text}")

    def is_up(self) -> bool:
        """True when the recorded lab has processes still running."""
        return any(p.alive() for p in self._recorded_procs(self.state())) or any(
            n.alive() for n in self._nodes().running())

    # -- up -------------------------------------------------------------------------

    def up(self, nodes: int = DEFAULT_NODES, release: str = DEFAULT_RELEASE, *,
           bare: bool = False, net: str = DEFAULT_NET, name: str | None = None,
           prepare_next: bool = True) -> dict[str, Any]:
        """Bring the lab up; return its state. See ``docs/lab.md``.

        Raises:
            InvalidInput: bad node count or release.
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
            "created_paths": [], "faults": {}, "status": "starting",
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self._save(st)
        try:
            if bare:
                self._up_bare(st)
            else:
                assert rel is not None
                self._up_full(st, rel.series, prepare_next)
        except BaseException as exc:
            self._progress(f"lab up failed: {exc}; stopping what was started")
            self._stop_everything(self.state())
            st = self.state()
            st["status"] = "failed"
            self._save(st)
            if isinstance(exc, UpgradeError) or not isinstance(exc, Exception):
                raise
            raise LabError(f"lab up failed: {exc} (logs kept in {self.dir}; "
                           "`lab down` removes them)") from exc
        st = self.state()
        st["status"] = "up"
        st["up_seconds"] = round(time.monotonic() - self._t0, 1)
        self._save(st)
        self._progress(f"lab is up in {st['up_seconds']:.0f}s; inventory: {self.inventory_file}")
        return st

    def _specs(self, st: dict[str, Any], binds: bool):
        from octavia_upgrade.lab.nodes import NodeSpec, default_specs

        specs = default_specs(len(st["nodes"]), net=st["net"])
        if not binds:
            return specs
        out = []
        for spec in specs:
            fs = self.node_fs(spec.name)
            b = {p: str(fs / p.lstrip("/")) for p in NODE_PATHS}
            b["/usr/bin/systemctl"] = str(self.dir / "bin" / "systemctl")
            out.append(NodeSpec(spec.name, spec.address, spec.port, b, spec.env))
        return out

    def _record_created_paths(self, st: dict[str, Any], paths: list[str]) -> None:
        # nodes.py creates missing bind targets on the host as empty mount
        # points; remember which ones, so `down` removes them again.
        st["created_paths"] = sorted({*st["created_paths"],
                                      *(p for p in paths if not os.path.exists(p))})
        self._save(st)

    def _start_nodes(self, st: dict[str, Any], binds: bool) -> list[Any]:
        specs = self._specs(st, binds)
        if binds:
            self._record_created_paths(st, [t for s in specs for t in s.binds])
        self._progress(f"starting {len(specs)} sshd node(s) on {st['net']}.x")
        running = self._nodes().start(specs)
        return running

    def _up_bare(self, st: dict[str, Any]) -> None:
        self._start_nodes(st, binds=False)
        self._write_inventory(st, vars={}, secrets={}, probes=[])

    def _up_full(self, st: dict[str, Any], series: str, prepare_next: bool) -> None:
        from octavia_upgrade.catalog import load_catalog
        from octavia_upgrade.lab import amphora, haproxy, rabbitmq, services, wheelhouse
        from octavia_upgrade.lab.api import OctaviaApi
        from octavia_upgrade.lab.dbservers import MariaDBServer

        names = st["nodes"]
        wheelhouses = [wheelhouse.ensure(series, log=self._progress)]
        cat = load_catalog()
        nxt = cat.releases[cat.index(series) + 1] if cat.index(series) + 1 < len(
            cat.releases) else None
        if prepare_next and nxt is not None and \
                nxt.octavia_major in wheelhouse.SUPPORTED_MAJORS:
            # The point of the lab is rehearsing the upgrade to the next release:
            # its packages must install offline too.
            wheelhouses.append(wheelhouse.ensure(nxt.series, log=self._progress))
        st["wheelhouses"] = {w.series: str(w.path) for w in wheelhouses}
        self._save(st)
        pip_args = "--no-index " + " ".join(f"--find-links {w.path}" for w in wheelhouses)
        pip_args += f" --constraint {wheelhouses[-1].constraints_file}"
        install_args = (f"--no-index --find-links {wheelhouses[0].path} "
                        f"--constraint {wheelhouses[0].constraints_file}")

        pool = ThreadPoolExecutor(max_workers=2)
        try:
            db = MariaDBServer(self.dir / "mariadb")
            db_future = pool.submit(db.start)
            mq_future = pool.submit(rabbitmq.start, self.dir / "rabbitmq")

            # Files every node needs, then the nodes themselves.
            heartbeat_key, db_password = oc.new_secret(), db.password
            ca_pem, ca_key = oc.make_ca(self.dir / "certs")
            stand_in = self.dir / "bin" / "systemctl"
            stand_in.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(__file__).with_name("systemctl.py"), stand_in)
            stand_in.chmod(0o755)
            for n in names:
                fs = self.node_fs(n)
                for p in NODE_PATHS:
                    (fs / p.lstrip("/")).mkdir(parents=True, exist_ok=True)
                certs = fs / "etc/octavia/certs"
                certs.mkdir(exist_ok=True)
                shutil.copyfile(ca_pem, certs / "ca.pem")
                shutil.copyfile(ca_key, certs / "ca.key")
                (certs / "ca.key").chmod(0o600)
            running = self._start_nodes(st, binds=True)
            by_name = {r.name: r for r in running}
            nodes_api = self._nodes()
            shells = {n: self._shell(nodes_api, by_name[n]) for n in names}

            try:
                db_future.result()
            finally:
                st["mariadb"] = db.as_dict()
                self._save(st)
            self._progress(f"MariaDB up on 127.0.0.1:{db.port}")
            try:
                mq = mq_future.result()
            except BaseException:
                raise
            st["rabbitmq"] = mq.as_dict()
            self._save(st)
            self._progress(f"RabbitMQ up on 127.0.0.1:{mq.port}")

            shared = oc.Shared(
                transport_url=mq.transport_url, db_url=db.url(), heartbeat_key=heartbeat_key,
                health_managers=tuple(f"{by_name[n].address}:{oc.HEALTH_MANAGER_PORT}"
                                      for n in names))
            for n in names:
                fs = self.node_fs(n)
                _write_private(fs / "etc/octavia/octavia.conf",
                               oc.render(shared, oc.NodeConf(n, by_name[n].address)), 0o640)
                _write_private(fs / "etc/octavia/backup.cnf",
                               oc.db_defaults_file(db.user, db_password, db.port))

            first = names[0]
            self._progress(f"{first}: python3 -m venv {oc.VENV}; pip install "
                           f"{' '.join(wheelhouses[0].requirements)} (offline)")
            version = services.install_venv(shells[first], install_args,
                                            wheelhouses[0].requirements)
            self._progress(f"{first}: Octavia {version} installed")
            for n in names[1:]:
                services.clone_venv(self.node_fs(first) / "opt/octavia/venv",
                                    self.node_fs(n) / "opt/octavia/venv")
            if len(names) > 1:
                self._progress(f"venv copied to {', '.join(names[1:])} (same path in every node)")
            current = services.db_upgrade(shells[first])
            self._progress(f"{first}: octavia-db-manage upgrade head → {current}")
            st["octavia_version"] = version
            self._save(st)

            apis = [OctaviaApi(f"http://{by_name[n].address}:{oc.API_PORT}") for n in names]
            for i, n in enumerate(names):
                services.start_units(shells[n])
                self._progress(f"{n}: started {', '.join(services.UNITS)}")
                if i + 1 < len(names):
                    time.sleep(2.0)  # stagger: five Python services per node on 2 cores
            st["apis"] = [a.base_url for a in apis]
            self._save(st)

            vip = f"{st['net']}.200"
            dp = haproxy.start(self.dir / "haproxy", vip, [f"{st['net']}.201",
                                                          f"{st['net']}.202"])
            st["datapath"] = dp.as_dict()
            self._save(st)
            self._progress(f"haproxy VIP {dp.url} serves members "
                           f"{', '.join(f'{a}:{p}' for a, p in dp.members)}")

            services.wait_apis(apis, timeout=300, log=self._progress)
            # The API casts "create" to the workers' queue; a message sent before
            # any worker consumes it is dropped by RabbitMQ, and the LB would
            # stay PENDING_CREATE forever. Wait for every worker first.
            if not mq.wait_consumers(WORKER_QUEUE, len(names)):
                raise LabError(f"the Octavia workers did not start consuming "
                               f"{WORKER_QUEUE!r} within 180s; see "
                               f"{self.dir}/nodes/*/fs/var/log/octavia/octavia-worker.log")
            self._progress(f"{len(names)} worker(s) consume {WORKER_QUEUE!r}")
            self._progress(f"creating {LB_NAME} (listener, pool, 2 members, health monitor)")
            lb = apis[0].create_full_lb(LB_NAME, vip, list(dp.members), port=dp.port)
            st["lb"] = {"id": lb["id"], "name": LB_NAME}
            self._save(st)
            amp = amphora.launch(str(self.dir), by_name[first].pid, f"{oc.VENV}/bin/python",
                                 [a.base_url for a in apis], list(shared.health_managers),
                                 heartbeat_key)
            st["amphora"] = amp.as_dict()
            self._save(st)
            lb = apis[0].wait_lb(lb["id"], "ACTIVE", "ONLINE", timeout=120)
            amps = [a for a in apis[0].amphorae() if a.get("loadbalancer_id") == lb["id"]]
            st["lb"]["amphora_ids"] = [a["id"] for a in amps]
            self._save(st)
            self._progress(f"{LB_NAME} {lb['id']} is ACTIVE/ONLINE "
                           f"(amphora {', '.join(a['id'] for a in amps)})")

            self._write_inventory(
                st,
                vars={"pip_args": pip_args, "db_defaults_file": "/etc/octavia/backup.cnf"},
                secrets={"db_password": db_password, "heartbeat_key": heartbeat_key},
                probes=[{"name": "lab-vip", "url": dp.url, "interval": "1s",
                         "timeout": "2s"}])
        finally:
            pool.shutdown(wait=True)

    def _shell(self, nodes_api: Any, node: Any):
        from octavia_upgrade.lab.shell import NodeShell

        return NodeShell(node.address, node.port, str(nodes_api.client_key),
                         str(nodes_api.known_hosts))

    def shell(self, name: str):
        """A :class:`~octavia_upgrade.lab.shell.NodeShell` for node ``name``."""
        nodes_api = self._nodes()
        return self._shell(nodes_api, self._node(nodes_api, name))

    def _node(self, nodes_api: Any, name: str) -> Any:
        for n in nodes_api.running():
            if n.name == name:
                return n
        known = ", ".join(self.state().get("nodes", [])) or "none"
        raise InvalidInput(f"no running lab node {name!r} (nodes: {known})")

    def _write_inventory(self, st: dict[str, Any], *, vars: dict[str, Any],
                         secrets: dict[str, str], probes: list[dict[str, Any]]) -> None:
        import yaml

        from octavia_upgrade.lab import inventorydoc

        base = self._nodes().inventory_data(inventorydoc.roles_for(st["nodes"]),
                                            flavor="venv", deployment=st["deployment"])
        doc = inventorydoc.build(base, vars=vars, secrets=secrets, probes=probes)
        text = inventorydoc.HEADER.format(path=self.inventory_file) + yaml.safe_dump(
            doc, sort_keys=False, default_flow_style=False)
        _write_private(self.inventory_file, text)

    # -- status ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Nodes and their services, load balancers, amphorae, VIP, infrastructure."""
        from octavia_upgrade.lab import haproxy, services
        from octavia_upgrade.lab.api import ApiError, OctaviaApi

        st = self.state()
        if not st:
            raise InvalidInput(f"no lab in {self.dir} (run `octavia-upgrade lab up`)")
        nodes_api = self._nodes()
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
                    shell = self._shell(nodes_api, node)
                    entry["services"] = (
                        {u: "unreachable" for u in services.UNITS} if name in blocked
                        else services.unit_states(shell))
                else:
                    entry["services"] = {}
            out_nodes.append(entry)
        result: dict[str, Any] = {"dir": str(self.dir), "status": st.get("status"),
                                  "release": st.get("release"), "bare": st.get("bare"),
                                  "deployment": st.get("deployment"), "nodes": out_nodes,
                                  "inventory": str(self.inventory_file)}
        if st.get("bare"):
            return result
        infra = {}
        for key, label in (("mariadb", "mariadb"), ("rabbitmq", "rabbitmq")):
            procs = self._recorded_procs({key: st.get(key)})
            infra[label] = "running" if procs and procs[0].alive() else "stopped"
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

    def fault(self, node: str, kind: str, arg: str | None = None) -> str:
        """Inject fault ``kind`` on ``node`` (or clear them); return what was done."""
        from octavia_upgrade.lab import faults

        if kind not in faults.KINDS:
            raise InvalidInput(f"unknown fault {kind!r}; one of {', '.join(faults.KINDS)}")
        st = self.state()
        if not st:
            raise InvalidInput(f"no lab in {self.dir} (run `octavia-upgrade lab up`)")
        nodes_api = self._nodes()
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
                self._save(st)
            return f"{node}: cleared {', '.join(cleared) or 'nothing (no faults)'}"
        if kind in current:
            raise Refused(f"{node} already has fault {kind}; `lab fault {node} clear` first")
        if st.get("bare") and kind in ("stuck-service", "fail-migration"):
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
        elif kind == "fail-migration":
            rec = faults.fail_migration(target)
            done = f"{node}: every `octavia-db-manage upgrade` now fails until cleared"
        elif kind == "slow":
            rec = faults.slow(target, arg or faults.DEFAULT_DELAY)
            done = (f"{node}: new SSH connections get +{rec['delay'] * 1000:.0f} ms "
                    "each way")
        else:
            path = arg or faults.DEFAULT_FULL_PATH
            rec = faults.disk_full(target, path)
            done = f"{node}: {path} is full (writes fail with ENOSPC)"
        current[kind] = rec
        self._save(st)
        return done

    # -- down -----------------------------------------------------------------------

    @staticmethod
    def _recorded_procs(st: dict[str, Any]) -> list[Proc]:
        from octavia_upgrade.lab.haproxy import DataPath
        from octavia_upgrade.lab.rabbitmq import RabbitMQ

        procs: list[Proc] = []
        if st.get("amphora"):
            procs.append(Proc.from_dict(st["amphora"]))
        for node_faults in (st.get("faults") or {}).values():
            rec = node_faults.get("slow")
            if rec:
                procs.append(Proc.from_dict(rec["proc"]))
        if st.get("datapath"):
            procs.extend(DataPath.from_dict(st["datapath"]).procs)
        if st.get("rabbitmq"):
            procs.extend(RabbitMQ.from_dict(st["rabbitmq"]).procs())
        if st.get("mariadb") and st["mariadb"].get("proc"):
            procs.append(Proc.from_dict(st["mariadb"]["proc"]))
        return procs

    def _service_procs(self, st: dict[str, Any]) -> list[Proc]:
        out = []
        for name in st.get("nodes", []):
            for pidfile in (self.node_fs(name) / "run/octavia").glob("*.pid"):
                try:
                    parts = pidfile.read_text().split()
                    out.append(Proc(pidfile.stem, int(parts[0]),
                                    int(parts[1]) if len(parts) > 1 else None))
                except (OSError, ValueError, IndexError):
                    continue
        return out

    def _stop_everything(self, st: dict[str, Any]) -> None:
        from octavia_upgrade.lab import faults
        from octavia_upgrade.lab.dbservers import MariaDBServer
        from octavia_upgrade.lab.haproxy import DataPath
        from octavia_upgrade.lab.rabbitmq import RabbitMQ

        if st.get("amphora"):
            Proc.from_dict(st["amphora"]).stop(5)
        for node_faults in (st.get("faults") or {}).values():
            for kind, rec in node_faults.items():
                if kind in ("slow", "stuck-service"):
                    faults.clear_one(None, kind, rec)
        faults.drop_nat_table(self.dir)
        # Octavia services, as `systemctl stop` does: SIGTERM to each main process
        # (it stops its own children), SIGKILL to the unit's group after 15 s.
        svc = [p for p in self._service_procs(st) if p.alive()]
        for p in svc:
            _killpg(p.pid, 18)  # SIGCONT: a frozen (stuck) unit must see its SIGTERM
            p.signal(15)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(p.alive() for p in svc):
            time.sleep(0.1)
        for p in svc:
            _killpg(p.pid, 9)  # whatever is left of the unit, main process or not
        # The nodes: sshd and anything else still inside their namespaces.
        self._nodes().stop()
        if st.get("datapath"):
            DataPath.from_dict(st["datapath"]).stop()
        if st.get("rabbitmq"):
            RabbitMQ.from_dict(st["rabbitmq"]).stop()
        if st.get("mariadb"):
            MariaDBServer.from_dict(st["mariadb"]).stop()

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
        recorded = self._recorded_procs(st) + self._service_procs(st)
        node_procs = [Proc(f"sshd-{n.name}", n.pid, n.started) for n in self._nodes().running()]
        self._stop_everything(st)
        left = [f"{p.name} (PID {p.pid})" for p in [*recorded, *node_procs] if p.alive()]
        for path in reversed(st.get("created_paths", [])):
            p = Path(path)
            try:
                if p.is_dir():
                    p.rmdir()
                elif p.is_file() and p.stat().st_size == 0:
                    p.unlink()
            except OSError:
                pass  # not empty: something else uses it now; leave it
        if not left:
            for child in ("nodes", "ssh", "mariadb", "rabbitmq", "certs", "bin", "haproxy",
                          "amphora", "faults"):
                shutil.rmtree(self.dir / child, onerror=_force_remove)
            for f in ("nodes.json", "inventory.yaml", "lab.json", "lab.json.tmp"):
                (self.dir / f).unlink(missing_ok=True)
            try:
                self.dir.rmdir()
            except OSError:
                pass
        if not quiet:
            self.log(f"lab in {self.dir} is down" + (
                f"; still running: {', '.join(left)}" if left else ""))
        return left


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _force_remove(func: Any, path: str, _exc: Any) -> None:
    try:
        os.chmod(path, stat.S_IWRITE | stat.S_IREAD | stat.S_IEXEC)
        func(path)
    except OSError:
        pass
