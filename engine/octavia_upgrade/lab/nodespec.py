"""A lab node as asked for (:class:`NodeSpec`) and as started (:class:`RunningNode`).

:mod:`.nodes` starts, records and stops them; ``nodes.json`` holds each
:class:`RunningNode` as :meth:`RunningNode.as_dict` writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octavia_upgrade.lab import nodeprocs


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
        force_command: a program sshd runs for every session instead of the
            client's command (sshd ``ForceCommand``; the command is in
            ``SSH_ORIGINAL_COMMAND``): the lab's command audit, or None.
    """

    name: str
    address: str
    port: int = 22
    binds: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    force_command: str | None = None


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
        binds, env, force_command: as in the :class:`NodeSpec`.
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
    force_command: str | None = None

    @property
    def log_file(self) -> Path:
        return Path(self.dir) / "sshd.log"

    def alive(self) -> bool:
        """True while this node's sshd (this very process, not a recycled PID) runs."""
        return nodeprocs.alive(self.pid, self.started)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "port": self.port,
                "pid": self.pid, "started": self.started, "mnt_ns": self.mnt_ns,
                "dir": self.dir, "host_key": self.host_key,
                "binds": dict(self.binds), "env": dict(self.env),
                "force_command": self.force_command}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RunningNode:
        return cls(name=str(raw["name"]), address=str(raw["address"]), port=int(raw["port"]),
                   pid=int(raw["pid"]), started=raw.get("started"),
                   mnt_ns=str(raw.get("mnt_ns", "")), dir=str(raw["dir"]),
                   host_key=str(raw.get("host_key", "")), binds=dict(raw.get("binds", {})),
                   env=dict(raw.get("env", {})), force_command=raw.get("force_command"))
