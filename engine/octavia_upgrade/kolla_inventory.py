"""A kolla-ansible inventory's settings: its ``all`` vars, then ``globals.yml``.

kolla-ansible runs every playbook with ``-e @/etc/kolla/globals.yml``, so a
setting in ``globals.yml`` wins over the inventory's group variables. The
configuration folder is ``/etc/kolla`` unless ``KOLLA_CONFIG_PATH`` (as for
``kolla-ansible``) or the inventory variable
``octavia_upgrade_kolla_config_dir`` names another; a missing ``globals.yml``
there leaves kolla-ansible's defaults (and the inventory's variables).

Only the settings of :data:`~octavia_upgrade.kolla.SETTINGS` are read, and
they become template variables of the same names; the driver-agent role is
kept only where kolla-ansible enables the service (OVN, or
``enable_octavia_driver_agent: true``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from octavia_upgrade import kolla
from octavia_upgrade.errors import InvalidInput

DEFAULT_CONFIG_DIR = "/etc/kolla"
CONFIG_DIR_VAR = "octavia_upgrade_kolla_config_dir"


def config_dir(all_vars: Mapping[str, Any]) -> Path:
    given = all_vars.get(CONFIG_DIR_VAR) or os.environ.get("KOLLA_CONFIG_PATH")
    return Path(str(given or DEFAULT_CONFIG_DIR)).expanduser()


def read_globals(path: Path) -> dict[str, Any]:
    """The settings ``globals.yml`` at ``path`` holds ({} when there is none).

    Raises:
        InvalidInput: the file exists but is not a YAML mapping.
    """
    from octavia_upgrade import yamlpos

    if not path.exists():
        return {}
    doc = yamlpos.load(str(path))
    if doc.data is None:
        return {}
    if not isinstance(doc.data, Mapping):
        raise InvalidInput(f"{path}:1:1: globals.yml must be a YAML mapping of settings")
    return {k: doc.data[k] for k in kolla.SETTINGS if k in doc.data}


def settings(all_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The kolla settings of an inventory: its ``all`` variables < ``globals.yml``.

    Raises:
        InvalidInput: an unreadable ``globals.yml``, or settings kolla cannot have
            (an unknown container engine).
    """
    found = {k: all_vars[k] for k in kolla.SETTINGS if k in all_vars}
    path = config_dir(all_vars) / "globals.yml"
    found.update(read_globals(path))
    kolla.Settings.from_vars(found, where=str(path) if path.exists() else "inventory")
    return found


def roles_for(roles: Mapping[str, list[str]], kvars: Mapping[str, Any]) -> dict[str, list[str]]:
    """``roles`` without ``driver-agent`` where kolla does not run that container."""
    if kolla.driver_agent_enabled(kvars):
        return {h: list(r) for h, r in roles.items()}
    out = {h: [x for x in r if x != "driver-agent"] for h, r in roles.items()}
    return {h: r for h, r in out.items() if r}
