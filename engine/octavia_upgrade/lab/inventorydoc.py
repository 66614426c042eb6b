"""The Inventory document ``lab up`` writes for the engine (``DIR/inventory.yaml``).

Every node has every control-plane role; ``db-migrate`` is on the first node
only, so database steps run exactly once. The flavor is ``venv``; the vars
tell it where the lab keeps the wheelhouses (offline ``pip``) and the MySQL
option file for backups. The generated secrets are listed under
``secrets:`` so the engine redacts them; the haproxy VIP is the probe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from octavia_upgrade.model import ROLES

CONTROL_ROLES = tuple(r for r in ROLES if r != "db-migrate")


def roles_for(names: Sequence[str], flavor: str = "venv") -> dict[str, list[str]]:
    """Node name → roles: all of them everywhere, ``db-migrate`` on the first node.

    The kolla style has no driver agent: kolla-ansible enables it with OVN only.
    """
    roles = tuple(r for r in CONTROL_ROLES if not (flavor == "kolla" and r == "driver-agent"))
    return {n: [*roles, *(("db-migrate",) if i == 0 else ())]
            for i, n in enumerate(names)}


def build(base: Mapping[str, Any], *, vars: Mapping[str, Any],
          secrets: Mapping[str, str], probes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Complete the node part (``LabNodes.inventory_data``) with vars, secrets and probes."""
    doc = dict(base)
    doc["vars"] = {**dict(base.get("vars") or {}), **dict(vars)}
    ssh = dict(doc.get("ssh") or {})
    ssh["strict_host_key_checking"] = True
    doc["ssh"] = ssh
    if secrets:
        doc["secrets"] = dict(secrets)
    if probes:
        doc["probes"] = [dict(p) for p in probes]
    # Keep the documented key order: hosts last, as people read it.
    hosts = doc.pop("hosts")
    doc["hosts"] = hosts
    return doc


HEADER = """\
# Written by `octavia-upgrade lab up`. The lab's inventory for the engine:
#   octavia-upgrade detect -i {path}
# `secrets` are generated for this lab and redacted from logs and reports.
"""
