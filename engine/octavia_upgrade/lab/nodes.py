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

Layout of ``BASE`` (the lab directory)::

    ssh/id_ed25519[.pub]   client key (key_file of every inventory host)
    ssh/authorized_keys    the client's public key
    ssh/known_hosts        every node's host key, as ``addr`` or ``[addr]:port``
    nodes/NAME/            ssh_host_ed25519_key, sshd_config, sshd.pid, sshd.log
    nodes.json             running nodes (see :meth:`LabNodes.running`)
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octavia_upgrade.errors import UpgradeError
from octavia_upgrade.model import API_VERSION

SSHD = "/usr/sbin/sshd"

#: Default node addresses: ``127.42.0.<10+i>``.
DEFAULT_NET = "127.42.0"
DEFAULT_FIRST_HOST = 10

_START_TIMEOUT = 15.0
_STOP_GRACE = 5.0


class LabNodeError(UpgradeError):
    """A lab node could not be created, started, blocked or stopped."""


@dataclass(frozen=True)
class NodeSpec:
    """What a node should be.

    Attributes:
        name: node name, also the inventory host name (``node1``).
        address: a 127.0.0.0/8 address of its own (``127.42.0.10``).
        port: sshd port on that address.
        binds: target path inside the node → source path on the host (a
            directory or a file) bind-mounted over it in the node's namespace.
            Targets missing on the host are created as empty mount points
            (directory or empty file); existing host files are never changed.
        env: environment every SSH session on the node gets (sshd ``SetEnv``),
            in addition to ``OCTAVIA_LAB_NODE=<name>`` and ``SHLVL=1``.
    """

    name: str
    address: str
    port: int = 22
    binds: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunningNode:
    """A started node, as recorded in ``nodes.json``.

    Attributes:
        name, address, port: as in the :class:`NodeSpec`.
        pid: PID of the node's sshd (also the PID of its namespace's first process).
        started: the sshd's start time (``/proc/PID/stat`` field 22), its identity.
        mnt_ns: the node's mount namespace (``mnt:[4026532...]``).
        dir: the node's directory under ``BASE/nodes/``.
        host_key: the node's public host key line (``ssh-ed25519 AAAA...``).
        binds, env: as in the :class:`NodeSpec`.
    """

    name: str
    address: str
    port: int
    pid: int
    started: int | None
    mnt_ns: str
    dir: str
    host_key: str
    binds: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def log_file(self) -> Path:
        return Path(self.dir) / "sshd.log"

    def alive(self) -> bool:
        """True while this node's sshd (this very process, not a recycled PID) runs."""
        return _start_time(self.pid) == self.started and _state(self.pid) not in (None, "Z")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "port": self.port,
                "pid": self.pid, "started": self.started, "mnt_ns": self.mnt_ns,
                "dir": self.dir, "host_key": self.host_key,
                "binds": dict(self.binds), "env": dict(self.env)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RunningNode:
        return cls(name=str(raw["name"]), address=str(raw["address"]), port=int(raw["port"]),
                   pid=int(raw["pid"]), started=raw.get("started"),
                   mnt_ns=str(raw.get("mnt_ns", "")), dir=str(raw["dir"]),
                   host_key=str(raw.get("host_key", "")), binds=dict(raw.get("binds", {})),
                   env=dict(raw.get("env", {})))


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
        port = 22 if all(_bindable(a, 22) for a in addresses) else 2222
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
            _keygen(self.client_key, "octavia-lab-client")
        pub = Path(f"{self.client_key}.pub").read_text(encoding="utf-8")
        self.authorized_keys.write_text(pub, encoding="utf-8")

    def _launch(self, spec: NodeSpec) -> RunningNode:
        node_dir = self.base_dir / "nodes" / spec.name
        node_dir.mkdir(parents=True, exist_ok=True)
        host_key = node_dir / "ssh_host_ed25519_key"
        if not host_key.exists():
            _keygen(host_key, f"octavia-lab-{spec.name}")
        config = node_dir / "sshd_config"
        config.write_text(self._sshd_config(spec, node_dir, host_key), encoding="utf-8")
        _check_config(config)
        for target, source in spec.binds.items():
            _ensure_mount_point(target, is_dir=os.path.isdir(source))

        mounts = [f"mount --bind {shlex.quote(str(Path(src).resolve()))} {shlex.quote(tgt)}"
                  for tgt, src in spec.binds.items()]
        script = " && ".join([*mounts, f"exec {SSHD} -D -e -f {shlex.quote(str(config))}"])
        log = open(node_dir / "sshd.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            # unshare execs the shell, which execs sshd: one PID all the way, so
            # the PID recorded here is the sshd's. A new session keeps terminal
            # signals (Ctrl-C in the operator's shell) away from the node.
            proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                close_fds=True, cwd=node_dir)
        finally:
            log.close()
        self._children[proc.pid] = proc
        # Give unshare a moment to enter the namespace so mnt_ns is the node's own.
        mnt_ns = _wait_own_namespace(proc.pid)
        return RunningNode(name=spec.name, address=spec.address, port=spec.port, pid=proc.pid,
                           started=_start_time(proc.pid), mnt_ns=mnt_ns, dir=str(node_dir),
                           host_key=_public_key(host_key), binds=dict(spec.binds),
                           env=dict(spec.env))

    def _sshd_config(self, spec: NodeSpec, node_dir: Path, host_key: Path) -> str:
        env = {"SHLVL": "1", "OCTAVIA_LAB_NODE": spec.name, **spec.env}
        for key, value in env.items():
            if not key.replace("_", "a").isalnum() or any(c in value for c in "\n\"\\"):
                raise LabNodeError(f"lab node {spec.name}: unusable env entry {key}={value!r}")
        set_env = " ".join(f'"{k}={v}"' for k, v in env.items())
        return "\n".join([
            f"# lab node {spec.name}; generated by octavia-upgrade, do not edit",
            f"ListenAddress {spec.address}:{spec.port}",
            f"HostKey {host_key}",
            f"PidFile {node_dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "X11Forwarding no",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            # The engine and the lab open many channels at once on one connection.
            "MaxSessions 100",
            "MaxStartups 100:30:200",
            "LogLevel INFO",
            # Without SHLVL=1 Debian's bash reads ~/.bashrc for every command.
            f"SetEnv {set_env}",
            "Subsystem sftp internal-sftp",
            "",
        ])

    def _write_known_hosts(self) -> None:
        lines = [f"{_known_hosts_name(n.address, n.port)} {n.host_key}" for n in self.running()]
        self.known_hosts.write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def _wait_ready(self, node: RunningNode, deadline: float) -> None:
        while True:
            if not node.alive():
                self._reap(node.pid)
                raise LabNodeError(f"lab node {node.name} ({node.address}:{node.port}): "
                                   f"sshd exited during start: {_tail(node.log_file)}")
            if _ssh_banner(node.address, node.port):
                return
            if time.monotonic() > deadline:
                raise LabNodeError(f"lab node {node.name} ({node.address}:{node.port}): "
                                   f"no SSH banner after {_START_TIMEOUT:.0f}s: "
                                   f"{_tail(node.log_file)}")
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
        self._drop_nft_table()
        targets: dict[int, int | None] = {}
        for node in nodes:
            if node.alive():
                targets[node.pid] = node.started
                # Only while the node's own sshd still lives is its namespace
                # id certain to be its own (ids are reused once a namespace dies).
                if node.mnt_ns:
                    targets.update(_namespace_members(node.mnt_ns))
        _terminate(targets, _STOP_GRACE)
        for pid in list(self._children):
            self._reap(pid)
        state["nodes"] = {}
        state["blocked"] = []
        if self.state_file.exists():
            self._save(state)

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
        self._nft(f"add table inet {self.nft_table}")
        self._nft(f"add chain inet {self.nft_table} output "
                  "{ type filter hook output priority 0 ; policy accept ; }")
        # Both directions, so that even replies on open connections vanish.
        self._nft(f"add rule inet {self.nft_table} output ip daddr {node.address} "
                  f"tcp dport {node.port} drop comment \"{_rule_tag(name)}\"")
        self._nft(f"add rule inet {self.nft_table} output ip saddr {node.address} "
                  f"tcp sport {node.port} drop comment \"{_rule_tag(name)}\"")
        state["blocked"].append(name)
        self._save(state)

    def unblock(self, name: str) -> None:
        """Undo :meth:`block` for node ``name`` (no-op if it is not blocked)."""
        state = self._load()
        if name not in state["blocked"]:
            return
        listing = subprocess.run(["nft", "-a", "list", "chain", "inet", self.nft_table, "output"],
                                 capture_output=True, text=True, check=False)
        for line in listing.stdout.splitlines():
            if f'"{_rule_tag(name)}"' in line and "# handle" in line:
                handle = line.rsplit("# handle", 1)[1].strip()
                self._nft(f"delete rule inet {self.nft_table} output handle {handle}")
        state["blocked"].remove(name)
        self._save(state)

    def _nft(self, command: str) -> None:
        if not shutil.which("nft"):
            raise LabNodeError("nft is not installed (Debian package nftables; "
                               "scripts/bootstrap installs it)")
        done = subprocess.run(["nft", command], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LabNodeError(f"nft {command}: {done.stderr.strip()}")

    def _drop_nft_table(self) -> None:
        if shutil.which("nft"):
            subprocess.run(["nft", f"delete table inet {self.nft_table}"],
                           capture_output=True, check=False)

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


# -- helpers -----------------------------------------------------------------


def _rule_tag(name: str) -> str:
    return f"octavia-lab-block-{name}"


def _known_hosts_name(address: str, port: int) -> str:
    # OpenSSH and paramiko look up port 22 by the bare address.
    return address if port == 22 else f"[{address}]:{port}"


def _keygen(path: Path, comment: str) -> None:
    done = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                           "-f", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabNodeError(f"ssh-keygen {path}: {done.stderr.strip()}")


def _public_key(private: Path) -> str:
    parts = Path(f"{private}.pub").read_text(encoding="utf-8").split()
    return " ".join(parts[:2])


def _check_config(config: Path) -> None:
    done = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise LabNodeError(f"{config}: sshd rejects the configuration: {done.stderr.strip()}")


def _ensure_mount_point(target: str, *, is_dir: bool) -> None:
    """Create an empty directory/file at ``target`` if the host has nothing there."""
    path = Path(target)
    if path.exists():
        if path.is_dir() != is_dir:
            kind = "directory" if is_dir else "file"
            raise LabNodeError(f"bind target {target} exists on the host but is not a {kind}")
        return
    if is_dir:
        path.mkdir(parents=True, exist_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def _bindable(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def _ssh_banner(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1.0) as s:
            s.settimeout(2.0)
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            data = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; it ends at the last ')'.
    return data[data.rindex(")") + 2:].split()


def _start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _state(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def _mnt_ns(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _wait_own_namespace(pid: int) -> str:
    host_ns = _mnt_ns("self")
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        ns = _mnt_ns(pid)
        if ns is None:
            break
        if ns != host_ns:
            return ns
        time.sleep(0.002)
    return ""


def _namespace_members(mnt_ns: str) -> dict[int, int | None]:
    """PID → start time of every process inside mount namespace ``mnt_ns``."""
    members: dict[int, int | None] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _mnt_ns(entry) == mnt_ns:
            members[int(entry)] = _start_time(int(entry))
    return members


def _terminate(targets: Mapping[int, int | None], grace: float) -> None:
    """SIGTERM each PID (whose start time still matches), SIGKILL whatever outlives ``grace``."""

    def alive(pid: int, started: int | None) -> bool:
        return _start_time(pid) == started and _state(pid) not in (None, "Z")

    def signal_all(sig: int) -> None:
        for pid, started in targets.items():
            if alive(pid, started):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass

    signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(alive(p, s) for p, s in targets.items()):
            return
        time.sleep(0.02)
    signal_all(signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p, s) for p, s in targets.items()):
        time.sleep(0.02)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
