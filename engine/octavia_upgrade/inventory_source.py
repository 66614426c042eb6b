"""What ``-i`` names, turned into an :class:`~octavia_upgrade.model.Inventory`.

``-i`` takes the tool's own inventory YAML (``native``) or an existing
Ansible inventory, INI, YAML or JSON (``ansible-inventory --list``), told
apart by content (:func:`octavia_upgrade.ansible_inventory.read`):

``kolla``
    kolla-ansible (``multinode``, ``all-in-one``): groups ``octavia-api``,
    ``octavia-worker``, ``octavia-health-manager``, ``octavia-housekeeping``,
    ``octavia-driver-agent``; flavor ``kolla``. kolla-ansible's settings come
    from ``[all:vars]`` then ``globals.yml`` (``kolla_inventory``); the
    driver-agent role only where kolla enables that container.
``osa``
    OpenStack-Ansible: groups ``octavia_api`` (or ``octavia-api``),
    ``octavia_worker``, ``octavia_housekeeping``, ``octavia_health_manager``
    (``octavia_all`` tells the format apart), as in OSA's
    ``openstack_inventory.json``; flavor ``osa`` (OSA's versioned venvs);
    containers are reached through their physical host (``ansible_hosts``).
``ansible``
    any other Ansible inventory, with a role map file (``--role-map``).

The format is detected unless ``--inventory-format`` says it. For Ansible
inventories: the deployment is ``<format>-<file name without extension>``
(``kolla-multinode``) unless ``--deployment`` or the inventory variable
``octavia_upgrade_deployment`` says otherwise; the ``db-migrate`` host is the
first host of the API group; each host is read as Ansible would reach it
(:mod:`octavia_upgrade.ansible_hosts`: ``ansible_*`` variables, ``ansible.cfg``,
SSH arguments; what is not honoured becomes ``Inventory.warnings``); variables
named ``octavia_upgrade_NAME`` become template variables ``NAME``. Finally the
operator's ssh_config applies (see ``sshconfig``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from octavia_upgrade import model
from octavia_upgrade.errors import Diagnostic, InvalidInput

FORMATS = ("native", "kolla", "osa", "ansible")

#: Variables named ``octavia_upgrade_NAME`` in an Ansible inventory are template variables.
VAR_PREFIX = "octavia_upgrade_"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class RoleMap:
    """Ansible group → roles, and the defaults that go with an inventory format."""

    name: str
    groups: Mapping[str, tuple[str, ...]]
    flavor: str
    deployment: str | None = None
    db_migrate: str | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)


KOLLA = RoleMap("kolla", {
    "octavia-api": ("api",),
    "octavia-worker": ("worker",),
    "octavia-health-manager": ("health-manager",),
    "octavia-housekeeping": ("housekeeping",),
    "octavia-driver-agent": ("driver-agent",),
}, flavor="kolla")

OSA = RoleMap("osa", {
    "octavia_api": ("api",),
    "octavia-api": ("api",),
    "octavia_worker": ("worker",),
    "octavia-worker": ("worker",),
    "octavia_housekeeping": ("housekeeping",),
    "octavia-housekeeping": ("housekeeping",),
    "octavia_health_manager": ("health-manager",),
    "octavia-health-manager": ("health-manager",),
}, flavor="osa")

BUILTIN = {"kolla": KOLLA, "osa": OSA}

#: Groups only OpenStack-Ansible names so (underscores; ``octavia_all``).
_OSA_MARKERS = ("octavia_all", "octavia_api", "octavia_worker", "octavia_housekeeping",
                "octavia_health_manager")


@dataclass(frozen=True)
class InventorySource:
    """``-i PATH`` and the options that say how to read it."""

    path: str
    format: str | None = None      # None = detect
    role_map: str | None = None
    deployment: str | None = None
    flavor: str | None = None
    ssh_config: str | None = None  # None = ~/.ssh/config if it exists
    use_ssh_config: bool = True

    def options(self) -> dict[str, Any]:
        """How the file is read, as a run records it for ``resume``.

        File paths are made absolute, so a resume from another directory reads
        the same files; the deployment is recorded in the run on its own.
        """
        from octavia_upgrade.inventory import is_flavor_path

        def absolute(value: str | None) -> str | None:
            return str(Path(value).expanduser().resolve()) if value else None

        flavor = self.flavor
        return {"format": self.format, "role_map": absolute(self.role_map),
                "flavor": absolute(flavor) if flavor and is_flavor_path(flavor) else flavor,
                "ssh_config": absolute(self.ssh_config), "use_ssh_config": self.use_ssh_config}

    @classmethod
    def resumed(cls, path: str, deployment: str, recorded: Mapping[str, Any] | None,
                given: Mapping[str, Any]) -> InventorySource:
        """The source of a resumed run: the recorded options, each one given again replacing it.

        ``given`` holds the resume command's options, None where not given
        (``use_ssh_config``: False for ``--no-ssh-config``, else None).
        """
        options = {k: v for k, v in (recorded or {}).items() if k in _OPTION_NAMES}
        options.update({k: v for k, v in given.items() if k in _OPTION_NAMES and v is not None})
        if given.get("ssh_config") and given.get("use_ssh_config") is None:
            options["use_ssh_config"] = True  # over a recorded --no-ssh-config
        return cls(path, deployment=deployment, **options)


_OPTION_NAMES = ("format", "role_map", "flavor", "ssh_config", "use_ssh_config")


def open_inventory(source: InventorySource | str) -> model.Inventory:
    """Load, validate and resolve the inventory ``source`` describes.

    Raises:
        InvalidInput: with positions where a file is at fault.
    """
    from octavia_upgrade import sshconfig

    if isinstance(source, str):
        source = InventorySource(source)
    fmt = source.format or detect_format(source.path)
    if source.role_map and fmt in ("native",):
        raise InvalidInput("--role-map applies to Ansible inventories, not to "
                           f"{source.path} (an octavia-upgrade inventory)")
    if fmt == "native":
        from octavia_upgrade.inventory import load_inventory

        inv = load_inventory(source.path)
        if source.deployment:
            inv = replace(inv, deployment=_deployment(source.deployment, "--deployment"))
        if source.flavor:
            inv = replace(inv, flavor=_flavor_arg(source.flavor))
    else:
        inv = from_ansible(source, fmt)
    config = sshconfig.load(source.ssh_config) if source.use_ssh_config else None
    return sshconfig.apply(inv, config)


def detect_format(path: str) -> str:
    """``native``, ``kolla`` or ``osa`` from the file's content (``ansible`` needs a map)."""
    from octavia_upgrade import ansible_inventory, yamlpos

    text = yamlpos.read_input(path, ansible_inventory.MAX_INVENTORY_BYTES).decode(
        "utf-8", errors="replace")
    if not ansible_inventory.looks_like_ini(text) and re.search(
            r"(?m)^kind:\s*['\"]?Inventory\b", text):
        return "native"
    groups = set(ansible_inventory.read(path).groups)
    if groups & set(_OSA_MARKERS):
        return "osa"
    if groups & set(KOLLA.groups):
        return "kolla"
    raise InvalidInput(
        f"{path}: cannot tell which tool wrote this inventory: it has no kolla-ansible "
        f"group ({', '.join(KOLLA.groups)}) and no OpenStack-Ansible group "
        f"({', '.join(_OSA_MARKERS)}). Give --inventory-format ansible with --role-map FILE "
        "(see docs/inventories.md), or an octavia-upgrade inventory (kind: Inventory)")


def load_role_map(path: str) -> RoleMap:
    """A role map file, schema-validated with positions."""
    from octavia_upgrade.inventory import is_flavor_path, resolve_path
    from octavia_upgrade.schemas import load_and_validate

    doc, diags = load_and_validate(path, "rolemap")
    if doc is None or any(d.severity == "error" for d in diags):
        raise InvalidInput(f"role map {path} is invalid", sorted(set(diags)))
    data = doc.data
    flavor = data.get("flavor", "deb")
    if is_flavor_path(flavor):
        flavor = resolve_path(flavor, Path(path).resolve().parent)
    return RoleMap(name=path, groups={g: tuple(r) for g, r in data["groups"].items()},
                   flavor=flavor, deployment=data.get("deployment"),
                   db_migrate=data.get("db_migrate"), vars=dict(data.get("vars") or {}))


def from_ansible(source: InventorySource, fmt: str) -> model.Inventory:
    """Build an Inventory from an Ansible inventory and a role map."""
    from octavia_upgrade import ansible_inventory

    if source.role_map:
        rmap = load_role_map(source.role_map)
    elif fmt in BUILTIN:
        rmap = BUILTIN[fmt]
    else:
        raise InvalidInput(f"--inventory-format {fmt} needs --role-map FILE: which groups of "
                           f"{source.path} run which Octavia services (see docs/inventories.md)")
    from octavia_upgrade import ansible_config
    from octavia_upgrade.ansible_hosts import HostReader

    ans = ansible_inventory.read(source.path)
    path = ans.path
    names = {h.name: h for h in ans.hosts}
    reader = HostReader(path, ansible_config.load(),
                        lambda n: names[n].vars if n in names else {})
    roles: dict[str, list[str]] = {}
    api_groups = []
    for group, group_roles in rmap.groups.items():
        members = ans.groups.get(group, ())
        if "api" in group_roles and members:
            api_groups.append(group)
        for h in members:
            roles.setdefault(h, [])
            roles[h] += [r for r in group_roles if r not in roles[h]]
    kolla_vars: dict[str, Any] = {}
    if rmap is KOLLA:
        from octavia_upgrade import kolla_inventory

        kolla_vars = kolla_inventory.settings(_all_vars(ans))
        roles = kolla_inventory.roles_for(roles, kolla_vars)
    if not roles:
        raise InvalidInput(f"inventory {path} is invalid", [Diagnostic(
            path, 1, 1, "no-octavia-hosts",
            f"no host is in any of the groups {', '.join(rmap.groups)} "
            f"({rmap.name} role map)")])
    db_host = rmap.db_migrate or (ans.groups[api_groups[0]][0] if api_groups else None)
    if db_host is not None:
        if db_host not in roles:
            raise InvalidInput(f"role map {rmap.name}: db_migrate host {db_host!r} is not an "
                               f"Octavia host of {path}")
        roles[db_host].append("db-migrate")
    all_vars = _all_vars(ans)
    hosts = []
    for h in ans.hosts:
        if h.name in roles:
            ordered = [r for r in model.ROLES if r in roles[h.name]]
            hosts.append(reader.host(h, ordered))
    kept = {h.name for h in hosts}
    groups = {g: tuple(m for m in members if m in kept) for g, members in ans.groups.items()}
    deployment = (source.deployment or _text(all_vars.get(VAR_PREFIX + "deployment"))
                  or rmap.deployment or _default_deployment(fmt, path))
    flavor = (_flavor_arg(source.flavor) if source.flavor else
              _text(all_vars.get(VAR_PREFIX + "flavor")) or rmap.flavor)
    inv = model.Inventory(path=path, deployment=_deployment(deployment, "deployment"),
                          flavor=flavor, hosts=tuple(hosts), vars={**rmap.vars, **kolla_vars},
                          groups={g: m for g, m in groups.items() if m},
                          warnings=(*ans.warnings, *reader.warnings()))
    _check_unique_addresses(inv, path)
    return inv


def _all_vars(ans: Any) -> dict[str, Any]:
    """Deployment-wide settings live in the ``all`` group's variables."""
    return dict(ans.group_vars.get("all", {}))


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _default_deployment(fmt: str, path: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(path).stem).strip("-._") or "inventory"
    return f"{fmt}-{stem}"


def _deployment(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise InvalidInput(f"{what} {value!r}: use letters, digits, '.', '-' and '_'")
    return value


def _flavor_arg(value: str) -> str:
    from octavia_upgrade.inventory import _shipped_flavors, is_flavor_path

    if is_flavor_path(value):
        full = Path(value).expanduser().resolve()
        if not full.is_file():
            raise InvalidInput(f"--flavor {value}: no such file")
        return str(full)
    if value not in _shipped_flavors():
        raise InvalidInput(f"--flavor {value}: unknown flavor; shipped flavors: "
                           f"{', '.join(_shipped_flavors())}, or give a path to a flavor file")
    return value


def _check_unique_addresses(inv: model.Inventory, path: str) -> None:
    seen: dict[tuple[str, int, str, str], str] = {}
    for h in inv.hosts:
        # Containers of one physical host share its address; local hosts have none.
        key = (h.address.lower(), h.port, h.container.name if h.container else "",
               h.connection)
        if key in seen:
            pos = h.pos or model.Pos(path, 1, 1)
            where = "runs locally as" if h.connection == "local" else \
                f"has the same address {h.address}:{h.port} as"
            raise InvalidInput(f"inventory {path} is invalid", [Diagnostic(
                path, pos.line, pos.col, "duplicate-address",
                f"host {h.name!r} {where} host {seen[key]!r}")])
        seen[key] = h.name
