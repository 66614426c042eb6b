"""``group_vars/`` and ``host_vars/`` beside an Ansible inventory, read as Ansible reads them.

Ansible's ``host_group_vars`` plugin looks next to the inventory source for
``group_vars/GROUP`` and ``host_vars/HOST``: a file with no extension or with
``.yml``, ``.yaml`` or ``.json``, or a folder of such files read in sorted
order (later files win). Their variables rank as Ansible ranks them
(variable precedence, lowest first)::

    inventory file group vars  <  group_vars/all  <  group_vars/GROUP
    <  inventory file host vars  <  host_vars/HOST

and among groups a child group wins over its parents, as in the file.
Nothing is templated. What cannot be read is never silent:

* a vault-encrypted file (``$ANSIBLE_VAULT;`` header) or value (``!vault``)
  is skipped with a warning naming it: the tool has no vault password, and a
  variable it needs from there must be given another way (docs/inventories.md);
* a file that is not a mapping of variables is an input error with its
  position (exit 2); an empty one holds no variables, as for Ansible.

``group_vars`` beside the *playbook* (kolla-ansible's ``ansible/group_vars``)
are not read: the inventory does not say where the playbooks are. kolla's
settings come from ``globals.yml`` instead (``kolla_inventory``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from octavia_upgrade.ansible_inventory import AnsibleInventory

#: The extensions Ansible's ``yaml_valid_extensions`` allows (and none).
EXTENSIONS = ("", ".yml", ".yaml", ".json")
_VAULT = "$ANSIBLE_VAULT;"


def apply(inv: AnsibleInventory) -> AnsibleInventory:
    """``inv`` with the variables of the folders beside it merged in (and their warnings)."""
    base = Path(inv.path).parent
    gdir, hdir = base / "group_vars", base / "host_vars"
    if not gdir.is_dir() and not hdir.is_dir():
        return inv
    warnings: list[str] = []
    groups = {g: _read(gdir, g, warnings) for g in ("all", *inv.groups)}
    groups = {g: v for g, v in groups.items() if v}
    hosts = {h.name: _read(hdir, h.name, warnings) for h in inv.hosts}
    out_hosts = []
    for h in inv.hosts:
        merged: dict[str, Any] = {}
        for g in h.groups:
            merged.update(inv.group_vars.get(g, {}))
        merged.update(groups.get("all", {}))
        for g in h.groups:
            if g != "all":
                merged.update(groups.get(g, {}))
        merged.update(h.own_vars)
        merged.update(hosts.get(h.name, {}))
        out_hosts.append(replace(h, vars=merged))
    group_vars = {g: {**inv.group_vars.get(g, {}), **groups.get(g, {})}
                  for g in {*inv.group_vars, *groups}}
    return replace(inv, hosts=tuple(out_hosts), group_vars=group_vars,
                   warnings=(*inv.warnings, *warnings))


def _read(folder: Path, name: str, warnings: list[str]) -> dict[str, Any]:
    """The variables ``folder`` holds for ``name`` (files, then a folder's files, sorted)."""
    if not folder.is_dir():
        return {}
    out: dict[str, Any] = {}
    for path in _files(folder, name):
        out.update(_load(path, warnings))
    return out


def _files(folder: Path, name: str) -> Iterable[Path]:
    for ext in EXTENSIONS:
        path = folder / f"{name}{ext}"
        if path.is_file():
            yield path
    sub = folder / name
    if sub.is_dir():
        for path in sorted(sub.rglob("*")):
            if path.is_file() and path.suffix in EXTENSIONS and not path.name.startswith("."):
                yield path


def _load(path: Path, warnings: list[str]) -> dict[str, Any]:
    from octavia_upgrade import yamlpos
    from octavia_upgrade.ansible_inventory import MAX_ALIAS_NODES, MAX_INVENTORY_BYTES

    raw = yamlpos.read_input(str(path), MAX_INVENTORY_BYTES)
    if raw.lstrip().startswith(_VAULT.encode()):
        warnings.append(f"{path}: vault-encrypted, not read (the tool has no vault "
                        "password): give what the upgrade needs from it another way")
        return {}
    text = raw.decode("utf-8", errors="replace")
    vaulted = _vault_values(text)
    if vaulted:
        text = _without_vault_tags(text)
    if not any(ln.strip() and not ln.lstrip().startswith("#") and ln.strip() not in ("---", "...")
               for ln in text.splitlines()):
        return {}  # Ansible reads an empty file as no variables
    # Anything but a mapping is an error with its position (yaml-not-mapping).
    data = yamlpos.loads(text.encode(), str(path), max_alias_nodes=MAX_ALIAS_NODES).data
    out = {str(k): v for k, v in data.items() if str(k) not in vaulted}
    for key in sorted(vaulted):
        warnings.append(f"{path}: {key} is vault-encrypted (!vault), not read")
    return out


def _vault_values(text: str) -> set[str]:
    """Top-level keys whose value is a ``!vault`` block."""
    import re

    return set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*!vault\b", text, re.M))


def _without_vault_tags(text: str) -> str:
    """The text with ``!vault`` tags dropped, so the rest parses (their values are skipped)."""
    import re

    return re.sub(r"^([A-Za-z_][A-Za-z0-9_]*\s*:\s*)!vault\b", r"\1", text, flags=re.M)
