"""The lab directory: where each part lives, ``lab.json`` and ``inventory.yaml``.

State lives in ``DIR/lab.json`` (every PID the lab started, with its start
time) so any later process — ``lab status``, ``lab down`` after a crash —
can act on it.

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
    sudoers.d/          each node's /etc/sudoers.d (``lab up --login``)
    snapshot/           what ``lab reset`` puts back (``lab.snapshot``)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia_upgrade.errors import LabError

if TYPE_CHECKING:
    from octavia_upgrade.lab.nodes import LabNodes

#: What each node gets as its own, inside its mount namespace.
NODE_PATHS = ("/etc/octavia", "/var/lib/octavia", "/var/log/octavia", "/run/octavia",
              "/opt/octavia")

#: What ``lab down`` removes from ``DIR`` once nothing runs any more.
CREATED_DIRS = ("nodes", "ssh", "mariadb", "rabbitmq", "certs", "bin", "haproxy", "amphora",
                "snapshot", "snapshot.new",
                "faults", "sudoers.d", "kolla")
CREATED_FILES = ("nodes.json", "inventory.yaml", "lab.json", "lab.json.tmp")


def state_file(lab_dir: Path) -> Path:
    return lab_dir / "lab.json"


def inventory_file(lab_dir: Path) -> Path:
    return lab_dir / "inventory.yaml"


def node_fs(lab_dir: Path, name: str) -> Path:
    """The folder whose subfolders are bind-mounted over :data:`NODE_PATHS` in node ``name``."""
    return lab_dir / "nodes" / name / "fs"


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path``, readable by its owner only (``mode``) from the start."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


def read_state(lab_dir: Path) -> dict[str, Any]:
    """The lab's recorded state; empty when there is none.

    Raises:
        LabError: ``lab.json`` exists but cannot be read.
    """
    path = state_file(lab_dir)
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LabError(f"{path}: unreadable lab state: {exc}") from None


def save_state(lab_dir: Path, st: dict[str, Any]) -> None:
    """Replace ``lab.json`` with ``st`` at once (a crash leaves the old or the new one)."""
    lab_dir.mkdir(parents=True, exist_ok=True)
    path = state_file(lab_dir)
    tmp = path.with_suffix(".tmp")
    write_private(tmp, json.dumps(st, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def write_inventory(lab_dir: Path, nodes: LabNodes, st: dict[str, Any], *,
                    vars: dict[str, Any], secrets: dict[str, str],
                    probes: list[dict[str, Any]], flavor: str = "venv") -> None:
    """Write ``inventory.yaml`` for the running nodes (mode 0600: it holds the secrets)."""
    import yaml

    from octavia_upgrade.lab import inventorydoc

    path = inventory_file(lab_dir)
    base = nodes.inventory_data(inventorydoc.roles_for(st["nodes"], st.get("flavor", "venv")),
                                flavor=flavor, deployment=st["deployment"])
    if st.get("login"):
        from octavia_upgrade.lab import login

        fields = login.inventory_fields(st["login"]["user"])
        for host in base["hosts"].values():
            host["user"] = fields["user"]
        base["become"] = fields["become"]
    doc = inventorydoc.build(base, vars=vars, secrets=secrets, probes=probes)
    text = inventorydoc.HEADER.format(path=path) + yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=False)
    write_private(path, text)
