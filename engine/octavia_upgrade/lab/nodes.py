"""Lab nodes: real OpenSSH sshd instances on loopback, one mount namespace each.

A node is an ``sshd`` listening on its own 127.0.0.0/8 address, started with
``unshare --mount --propagation private`` so that bind mounts made for it
(``/etc/octavia``, ``/var/log/octavia``, a ``systemctl`` stand-in, ...) are
visible only to the SSH sessions of that node, never to the host or to the
other nodes. Every session on the node runs inside that namespace, so a
command run over SSH sees the node's own files exactly as on a real machine.

Keys and trust are real too: the lab generates a client key, one host key per
node, an ``authorized_keys`` file and a ``known_hosts`` file listing every
node's host key, so clients keep strict host-key checking on.

A node can be made *unreachable* (:meth:`LabNodes.block`): nftables rules in
a table owned by this lab drop every packet to and from the node's address and
SSH port, so connections time out exactly as with a host that left the
network, while its sshd keeps running.

Everything the lab starts is recorded in ``BASE/nodes.json`` (PID plus the
process start time, so a recycled PID is never signalled) and stopped by PID in
:meth:`LabNodes.stop`, also from a fresh process after a crash.

The parts: :mod:`.nodespec` (what a node should be, what runs), :mod:`.sshd`
(keys, ``sshd_config``, readiness), :mod:`.nodeprocs` (processes and mount
namespaces), :mod:`.nodefirewall` (the nftables rules).

Layout of ``BASE`` (the lab directory)::

    ssh/id_ed25519[.pub]   client key (key_file of every inventory host)
    ssh/authorized_keys    the client's public key
    ssh/known_hosts        every node's host key, as ``addr`` or ``[addr]:port``
    nodes/NAME/            ssh_host_ed25519_key, sshd_config, sshd.pid, sshd.log
    nodes.json             running nodes (see :meth:`LabNodes.running`)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import signal
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# LabNodeError lives with every other error; importable from here as before.
from octavia_upgrade.errors import LabNodeError
from octavia_upgrade.lab import nodefirewall, nodeprocs
from octavia_upgrade.lab.nodespec import NodeSpec, RunningNode
from octavia_upgrade.lab.sshd import (
    SSHD,
    bindable,
    check_config,
    keygen,
    known_hosts_name,
    public_key,
    ssh_banner,
    sshd_config,
    tail,
)
from octavia_upgrade.model import API_VERSION

__all__ = ["DEFAULT_FIRST_HOST", "DEFAULT_NET", "SSHD", "LabNodeError", "LabNodes", "NodeSpec",
           "RunningNode", "default_specs", "unavailable_reason"]

#: Default node addresses: ``127.42.0.<10+i>``.
DEFAULT_NET = "127.42.0"
DEFAULT_FIRST_HOST = 10

_START_TIMEOUT = 15.0
_STOP_GRACE = 5.0


def unavailable_reason() -> str | None:
    """Why lab nodes cannot run on this machine, or None if they can."""
    if os.geteuid() != 0:
        return "lab nodes need root (mount namespaces, bind mounts, sshd on port 22)"
    for tool in (SSHD, "ssh-keygen", "unshare", "mount"):
        if not (os.path.exists(tool) if tool.startswith("/") else shutil.which(tool)):
            return f"{tool} is not installed (scripts/bootstrap installs openssh-server)"
    return None


def default_specs(count: int, *, prefix: str = "node", net: str = DEFAULT_NET,
                  first: int = DEFAULT_FIRST_HOST, port: int | None = None,
                  env: Mapping[str, str] | None = None) -> list[NodeSpec]:
    """``count`` bare nodes ``{prefix}1..N`` on ``{net}.{first}``, ``{net}.{first+1}``, ...

    With ``port=None`` the nodes listen on 22, unless another program already
    listens on port 22 of every address (a system sshd on ``0.0.0.0:22``):
    then on 2222.
    """
    addresses = [f"{net}.{first + i}" for i in range(count)]
    if port is None:
        port = 22 if all(bindable(a, 22) for a in addresses) else 2222
    return [NodeSpec(name=f"{prefix}{i + 1}", address=addr, port=port, env=dict(env or {}))
            for i, addr in enumerate(addresses)]


class LabNodes:
    """The sshd nodes of one lab directory.

    Typical use::

        nodes = LabNodes(tmp / "lab")
        running = nodes.start(default_specs(3))
        data = nodes.inventory_data({"node1": ["api"]}, flavor="venv",
                                    deployment="lab", vars={})
        ...
        nodes.stop()

    All methods work from any process: the state lives in ``BASE/nodes.json``.
    ``start`` may be called again to add more nodes; ``stop`` stops them all.
    """

    def __init__(self, base_dir: str | os.PathLike[str]) -> None:
        self.base_dir = Path(base_dir).resolve()
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # -- paths ---------------------------------------------------------------

    @property
    def client_key(self) -> Path:
        """Private key the lab's clients log in with (``BASE/ssh/id_ed25519``)."""
        return self.base_dir / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        """``known_hosts`` with every node's host key (``BASE/ssh/known_hosts``)."""
        return self.base_dir / "ssh" / "known_hosts"

    @property
    def authorized_keys(self) -> Path:
        return self.base_dir / "ssh" / "authorized_keys"

    @property
    def state_file(self) -> Path:
        return self.base_dir / "nodes.json"

    @property
    def nft_table(self) -> str:
        """Name of this lab's own nftables table (one per lab directory)."""
        digest = hashlib.sha256(str(self.base_dir).encode()).hexdigest()[:10]
        return f"octavia_lab_{digest}"

    # -- state ---------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"nodes": {}, "blocked": []}
        except (OSError, ValueError) as exc:
            raise LabNodeError(f"{self.state_file}: unreadable lab state: {exc}") from exc
        raw.setdefault("nodes", {})
        raw.setdefault("blocked", [])
        return raw

    def _save(self, state: Mapping[str, Any]) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.state_file)

    def running(self) -> list[RunningNode]:
        """Nodes recorded in ``nodes.json`` (started and not yet stopped), in start order."""
        return [RunningNode.from_dict(n) for n in self._load()["nodes"].values()]

    def node(self, name: str) -> RunningNode:
        """The recorded node called ``name``."""
        for n in self.running():
            if n.name == name:
                return n
        raise LabNodeError(f"no lab node named {name!r} in {self.state_file}")

    def blocked(self) -> list[str]:
        """Names of the nodes currently made unreachable by :meth:`block`."""
        return list(self._load()["blocked"])

    # -- start ---------------------------------------------------------------

    def start(self, specs: Iterable[NodeSpec]) -> list[RunningNode]:
        """Start one sshd per spec and wait until each accepts SSH connections.

        Creates the client key, ``authorized_keys`` and ``known_hosts`` on first
        use, a host key and ``sshd_config`` per node, and records every node in
        ``nodes.json`` as soon as its process exists (so :meth:`stop` finds it
        even if a later node fails to start).

        Raises:
            LabNodeError: bad spec (duplicate name or address, not a loopback
                address), a tool missing, or a node that did not come up (its
                sshd log is quoted).
        """
        specs = list(specs)
        reason = unavailable_reason()
        if reason:
            raise LabNodeError(f"cannot start lab nodes: {reason}")
        state = self._load()
        self._check_specs(specs, state)
        self._ensure_client_key()
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)

        started: list[RunningNode] = []
        for spec in specs:
            node = self._launch(spec)
            state["nodes"][spec.name] = node.as_dict()
            self._save(state)
            started.append(node)
        self._write_known_hosts()
        deadline = time.monotonic() + _START_TIMEOUT
        for node in started:
            self._wait_ready(node, deadline)
        return started

    def _check_specs(self, specs: list[NodeSpec], state: Mapping[str, Any]) -> None:
        names: set[str] = set(state["nodes"])
        endpoints = {(n["address"], int(n["port"])) for n in state["nodes"].values()}
        for spec in specs:
            if not spec.name or not all(c.isalnum() or c in "-_." for c in spec.name):
                raise LabNodeError(f"lab node name {spec.name!r}: use letters, digits, - _ .")
            if spec.name in names:
                raise LabNodeError(f"lab node {spec.name!r} is already running "
                                   f"(see {self.state_file}); stop the lab first")
            if not spec.address.startswith("127."):
                raise LabNodeError(f"lab node {spec.name}: address {spec.address} is not "
                                   "a loopback (127.0.0.0/8) address")
            if (spec.address, spec.port) in endpoints:
                raise LabNodeError(f"lab node {spec.name}: {spec.address}:{spec.port} "
                                   "is used by another node")
            for target, source in spec.binds.items():
                if not os.path.isabs(target):
                    raise LabNodeError(f"lab node {spec.name}: bind target {target!r} "
                                       "is not an absolute path")
                if not os.path.exists(source):
                    raise LabNodeError(f"lab node {spec.name}: bind source {source} "
                                       "does not exist")
            names.add(spec.name)
            endpoints.add((spec.address, spec.port))

    def _ensure_client_key(self) -> None:
        ssh_dir = self.client_key.parent
        ssh_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(ssh_dir, 0o700)
        if not self.client_key.exists():
            keygen(self.client_key, "octavia-lab-client")
        pub = Path(f"{self.client_key}.pub").read_text(encoding="utf-8")
        self.authorized_keys.write_text(pub, encoding="utf-8")

    def _launch(self, spec: NodeSpec, into: int | None = None) -> RunningNode:
        """Start the node's sshd in a new mount namespace with the spec's binds, or, with
        ``into`` (a PID inside the node's namespace), in that namespace as it is."""
        node_dir = self.base_dir / "nodes" / spec.name
        node_dir.mkdir(parents=True, exist_ok=True)
        host_key = node_dir / "ssh_host_ed25519_key"
        if not host_key.exists():
            keygen(host_key, f"octavia-lab-{spec.name}")
        config = node_dir / "sshd_config"
        config.write_text(sshd_config(spec, node_dir, host_key, self.authorized_keys),
                          encoding="utf-8")
        check_config(config)
        for target, source in spec.binds.items():
            nodeprocs.ensure_mount_point(target, is_dir=os.path.isdir(source))

        mounts = [f"mount --bind {shlex.quote(str(Path(src).resolve()))} {shlex.quote(tgt)}"
                  for tgt, src in spec.binds.items()] if into is None else []
        script = " && ".join([*mounts, f"exec {SSHD} -D -e -f {shlex.quote(str(config))}"])
        enter = (["unshare", "--mount", "--propagation", "private"] if into is None
                 else ["nsenter", f"--mount=/proc/{into}/ns/mnt"])
        log = open(node_dir / "sshd.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            # unshare (nsenter) execs the shell, which execs sshd: one PID all the way,
            # so the PID recorded here is the sshd's. A new session keeps terminal
            # signals (Ctrl-C in the operator's shell) away from the node.
            proc = subprocess.Popen(
                [*enter, "--", "sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                close_fds=True, cwd=node_dir)
        finally:
            log.close()
        self._children[proc.pid] = proc
        # Give unshare a moment to enter the namespace so mnt_ns is the node's own.
        mnt_ns = nodeprocs.wait_own_namespace(proc.pid)
        return RunningNode(name=spec.name, address=spec.address, port=spec.port, pid=proc.pid,
                           started=nodeprocs.start_time(proc.pid), mnt_ns=mnt_ns,
                           dir=str(node_dir), host_key=public_key(host_key),
                           binds=dict(spec.binds), env=dict(spec.env),
                           force_command=spec.force_command)

    def _write_known_hosts(self) -> None:
        lines = [f"{known_hosts_name(n.address, n.port)} {n.host_key}" for n in self.running()]
        self.known_hosts.write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def _wait_ready(self, node: RunningNode, deadline: float) -> None:
        while True:
            if not node.alive():
                self._reap(node.pid)
                raise LabNodeError(f"lab node {node.name} ({node.address}:{node.port}): "
                                   f"sshd exited during start: {tail(node.log_file)}")
            if ssh_banner(node.address, node.port):
                return
            if time.monotonic() > deadline:
                raise LabNodeError(f"lab node {node.name} ({node.address}:{node.port}): "
                                   f"no SSH banner after {_START_TIMEOUT:.0f}s: "
                                   f"{tail(node.log_file)}")
            time.sleep(0.02)

    # -- stop ----------------------------------------------------------------

    def stop(self) -> None:
        """Stop every node by PID and remove the lab's firewall table.

        SIGTERM to the node's sshd and to every other process still inside
        the node's mount namespace (SSH sessions, services started over SSH),
        then SIGKILL after a grace period. Safe to call twice, and from a new
        process after a crash (it reads ``nodes.json``). Lab files stay in
        ``BASE`` for inspection.
        """
        state = self._load()
        nodes = [RunningNode.from_dict(n) for n in state["nodes"].values()]
        nodefirewall.drop_table(self.nft_table)
        targets: dict[int, int | None] = {}
        for node in nodes:
            if node.alive():
                targets[node.pid] = node.started
                # Only while the node's own sshd still lives is its namespace
                # id certain to be its own (ids are reused once a namespace dies).
                if node.mnt_ns:
                    targets.update(nodeprocs.namespace_members(node.mnt_ns))
        nodeprocs.terminate(targets, _STOP_GRACE)
        for pid in list(self._children):
            self._reap(pid)
        state["nodes"] = {}
        state["blocked"] = []
        if self.state_file.exists():
            self._save(state)

    # -- sshd faults -----------------------------------------------------------

    def kill_sshd(self, name: str) -> list[int]:
        """SIGKILL node ``name``'s sshd and every SSH session process it serves, as
        when sshd dies: open connections drop, new ones are refused; commands the
        sessions started, and the node's services, keep running. Returns the PIDs."""
        node = self.node(name)
        if not node.alive():
            raise LabNodeError(f"lab node {name}: its sshd is not running")
        members = nodeprocs.namespace_members(node.mnt_ns) if node.mnt_ns else {}
        sshds = [pid for pid in members if nodeprocs.comm(pid) in ("sshd", "sshd-session")]
        killed = sorted({node.pid, *sshds})
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._reap(node.pid)
        return killed

    def start_sshd(self, name: str) -> RunningNode:
        """Start node ``name``'s sshd again after :meth:`kill_sshd`, in the node's own
        mount namespace while any process of it lives (else in a new one set up as
        at start); the same address, port and host key."""
        state = self._load()
        node = self.node(name)
        if node.alive():
            raise LabNodeError(f"lab node {name}: its sshd is already running")
        # A namespace id that still has members is that namespace (ids are reused only
        # once a namespace is gone).
        members = nodeprocs.namespace_members(node.mnt_ns) if node.mnt_ns else {}
        again = self._launch(NodeSpec(name=node.name, address=node.address, port=node.port,
                                      binds=dict(node.binds), env=dict(node.env),
                                      force_command=node.force_command),
                             into=min(members) if members else None)
        state["nodes"][name] = again.as_dict()
        self._save(state)
        self._wait_ready(again, time.monotonic() + _START_TIMEOUT)
        return again

    def _reap(self, pid: int) -> None:
        proc = self._children.pop(pid, None)
        if proc is not None:
            try:
                proc.wait(timeout=_STOP_GRACE)
            except subprocess.TimeoutExpired:
                self._children[pid] = proc

    # -- network faults ------------------------------------------------------

    def block(self, name: str) -> None:
        """Make node ``name`` unreachable: its packets are dropped, connections time out.

        nftables rules (in this lab's own table, :attr:`nft_table`, hooked
        on output) drop every TCP packet to and from the node's address and
        SSH port, including those of connections already open: new
        connections time out, open ones hang. The sshd keeps running.
        """
        node = self.node(name)
        state = self._load()
        if name in state["blocked"]:
            return
        nodefirewall.block(self.nft_table, name, node.address, node.port)
        state["blocked"].append(name)
        self._save(state)

    def unblock(self, name: str) -> None:
        """Undo :meth:`block` for node ``name`` (no-op if it is not blocked)."""
        state = self._load()
        if name not in state["blocked"]:
            return
        nodefirewall.unblock(self.nft_table, name)
        state["blocked"].remove(name)
        self._save(state)

    # -- inventory -----------------------------------------------------------

    def inventory_data(self, roles: Mapping[str, Iterable[str]], flavor: str,
                       deployment: str, vars: Mapping[str, Any] | None = None,
                       ) -> dict[str, Any]:
        """An Inventory document (``docs/architecture.md``) for the running nodes.

        Args:
            roles: node name → its roles; only these nodes become hosts, in
                this order.
            flavor: flavor name or path (``venv``).
            deployment: deployment name (the lock key).
            vars: inventory-wide vars.

        Every host logs in as root with :attr:`client_key`; ``ssh.known_hosts``
        is the lab's :attr:`known_hosts`, so strict host-key checking stays on.
        """
        running = {n.name: n for n in self.running()}
        hosts: dict[str, Any] = {}
        for name, host_roles in roles.items():
            if name not in running:
                raise LabNodeError(f"no running lab node named {name!r}")
            node = running[name]
            hosts[name] = {"address": node.address, "port": node.port, "user": "root",
                           "key_file": str(self.client_key), "roles": list(host_roles)}
        return {
            "apiVersion": API_VERSION,
            "kind": "Inventory",
            "deployment": deployment,
            "flavor": flavor,
            "vars": dict(vars or {}),
            "ssh": {"known_hosts": str(self.known_hosts), "connect_timeout": "5s"},
            "hosts": hosts,
        }
