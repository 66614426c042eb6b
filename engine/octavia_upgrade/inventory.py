"""Inventory loading: YAML with positions → JSON Schema → semantic checks → ``Inventory``.

Semantic rules after the schema's:

=====================  =====================================================
rule                   meaning
=====================  =====================================================
``duplicate-address``  two hosts with the same ``address:port``
``address``            an address that is neither an IP literal nor an RFC 1123
                       DNS name (see :mod:`octavia_upgrade.netnames`)
``unknown-flavor``     ``flavor`` is neither a shipped flavor nor an existing file
``no-db-migrate``      (warning) no host has the ``db-migrate`` role
=====================  =====================================================

Paths (``key_file``, ``ssh.known_hosts``, a flavor given as a path) are
resolved: ``~`` is expanded and relative paths are taken relative to the
inventory file's folder, so an inventory works from any working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from octavia_upgrade import model
from octavia_upgrade.errors import Diagnostic, InvalidInput
from octavia_upgrade.yamlpos import Document


def check_inventory(path: str | Path) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) for the inventory at ``path``, sorted."""
    from octavia_upgrade.schemas import load_and_validate

    doc, diags = load_and_validate(str(path), "inventory")
    if doc is not None:
        diags += _semantics(doc)
    return sorted(set(diags))


def check_document(doc: Document) -> list[Diagnostic]:
    """Schema and semantic diagnostics for an already loaded inventory document."""
    from octavia_upgrade.schemas import validate

    return sorted(set(validate(doc, "inventory") + _semantics(doc)))


def load_inventory(path: str | Path) -> model.Inventory:
    """Load, validate and build the inventory at ``path``.

    Raises:
        InvalidInput: with every diagnostic found (sorted) when any is an error.
    """
    from octavia_upgrade import yamlpos

    name = str(path)
    doc = yamlpos.load(name)
    diags = check_document(doc)
    if any(d.severity == "error" for d in diags):
        raise InvalidInput(f"inventory {name} is invalid", diags)
    return build(doc)


def resolve_path(value: str, base: Path) -> str:
    """``~`` expanded; relative paths taken relative to ``base`` (a folder)."""
    expanded = Path(os.path.expanduser(value))
    return str(expanded if expanded.is_absolute() else (base / expanded).resolve())


def is_flavor_path(value: str) -> bool:
    """A flavor given as a file path rather than a shipped flavor's name."""
    return "/" in value or value.endswith((".yaml", ".yml"))


def _semantics(doc: Document) -> list[Diagnostic]:
    from octavia_upgrade import netnames

    out: list[Diagnostic] = []

    def add(path: tuple[Any, ...], rule: str, message: str, severity: str = "error",
            *, key: bool = False) -> None:
        pos = doc.key_pos(path) if key else doc.pos(path)
        out.append(Diagnostic(doc.path, pos.line, pos.col, rule, message, severity))

    data = doc.data
    hosts = data.get("hosts")
    if isinstance(hosts, dict):
        seen: dict[tuple[str, int], str] = {}
        any_db = False
        for name, host in hosts.items():
            if not isinstance(host, dict):
                continue
            roles = host.get("roles")
            if isinstance(roles, list) and "db-migrate" in roles:
                any_db = True
            address, port = host.get("address"), host.get("port", 22)
            if isinstance(address, str) and address and not netnames.is_address(address):
                add(("hosts", name, "address"), "address",
                    f"host {name!r}: address {address!r} is not {netnames.EXPECTED}")
                continue
            if not isinstance(address, str) or not isinstance(port, int):
                continue
            key = (address.strip().lower(), port)
            if key in seen:
                add(("hosts", name, "address"), "duplicate-address",
                    f"host {name!r} has the same address {address}:{port} as host "
                    f"{seen[key]!r}")
            else:
                seen[key] = name
        if hosts and not any_db:
            add(("hosts",), "no-db-migrate",
                "no host has the db-migrate role: backup and db_migrate steps cannot run",
                "warning", key=True)
    flavor = data.get("flavor")
    if isinstance(flavor, str) and flavor:
        base = Path(doc.path).resolve().parent
        if is_flavor_path(flavor):
            if not Path(resolve_path(flavor, base)).is_file():
                add(("flavor",), "unknown-flavor", f"flavor file {flavor!r} does not exist "
                    f"(relative paths are relative to {base})")
        else:
            shipped = _shipped_flavors()
            if flavor not in shipped:
                add(("flavor",), "unknown-flavor",
                    f"unknown flavor {flavor!r}; shipped flavors: "
                    f"{', '.join(shipped) or '(none)'}, or give a path to a flavor file")
    return out


def _shipped_flavors() -> list[str]:
    from octavia_upgrade.resources import flavors_dir

    try:
        folder = flavors_dir()
    except FileNotFoundError:
        return []
    return sorted(p.stem for p in folder.glob("*.yaml"))


def build(doc: Document) -> model.Inventory:
    """Build an :class:`~octavia_upgrade.model.Inventory` from a valid document."""
    data = doc.data
    base = Path(doc.path).resolve().parent
    ssh = data.get("ssh") or {}
    default_become = become_setting(data.get("become"), doc, ("become",))
    hosts = []
    for name, raw in data["hosts"].items():
        key_file = raw.get("key_file")
        become = (become_setting(raw["become"], doc, ("hosts", name, "become"))
                  if "become" in raw else default_become)
        hosts.append(model.Host(
            name=name,
            address=raw["address"],
            port=int(raw.get("port", 22)),
            user=raw.get("user", "root"),
            key_file=resolve_path(key_file, base) if key_file else None,
            roles=tuple(raw.get("roles") or ()),
            vars=dict(raw.get("vars") or {}),
            pos=doc.key_pos(("hosts", name)),
            become=become,
            defaulted=frozenset(k for k in ("user", "port", "key_file") if k not in raw),
        ))
    known_hosts = ssh.get("known_hosts")
    flavor = data["flavor"]
    return model.Inventory(
        path=doc.path,
        deployment=data["deployment"],
        flavor=resolve_path(flavor, base) if is_flavor_path(flavor) else flavor,
        hosts=tuple(hosts),
        vars=dict(data.get("vars") or {}),
        ssh=model.SshSettings(
            known_hosts=resolve_path(known_hosts, base) if known_hosts else None,
            connect_timeout=model.parse_duration(ssh.get("connect_timeout", 10)),
            strict_host_key_checking=bool(ssh.get("strict_host_key_checking", True)),
        ),
        probes=tuple(
            model.Probe(name=p["name"], url=p["url"],
                        interval=model.parse_duration(p.get("interval", 0.2)),
                        timeout=model.parse_duration(p.get("timeout", 1)))
            for p in data.get("probes") or ()
        ),
        secrets=dict(data.get("secrets") or {}),
        api_probe=_api_probe(data.get("api_probe", True)),
        change_windows=tuple(_window(doc, i, w, base)
                             for i, w in enumerate(data.get("change_windows") or ())),
    )


def _api_probe(value: Any) -> model.ApiProbe | None:
    """``api_probe``: true (the default), false, or ``{interval, timeout}``."""
    if value is False:
        return None
    if not isinstance(value, dict):
        return model.ApiProbe()
    return model.ApiProbe(interval=model.parse_duration(value.get("interval", 0.2)),
                          timeout=model.parse_duration(value.get("timeout", 1)))


def _window(doc: Document, i: int, raw: Any, base: Path) -> dict[str, Any]:
    """One ``change_windows`` entry, checked (input error at its position), resolved."""
    from octavia_upgrade import windows

    pos = doc.pos(("change_windows", i))
    where = windows.Where(doc.path, pos.line, pos.col)
    if "calendar" in raw:
        path = resolve_path(raw["calendar"], base)
        windows.load_calendar(path, where)
        return {"calendar": path, "where": str(where)}
    windows.cron_rule(raw["cron"], raw["length"], raw.get("timezone", "UTC"), where)
    return {"cron": raw["cron"], "length": raw["length"],
            "timezone": raw.get("timezone", "UTC"), "where": str(where)}


def become_setting(value: Any, doc: Document, path: tuple[Any, ...]) -> model.Become | None:
    """The ``become:`` value at ``path`` (already schema-valid) as a :class:`~model.Become`.

    Raises:
        InvalidInput: ``password_env`` names a variable that is not set.
    """
    if value is None or value is False:
        return None
    if value is True:
        return model.Become()
    password = value.get("password")
    env = value.get("password_env")
    if env:
        password = os.environ.get(env)
        if not password:
            pos = doc.pos((*path, "password_env"))
            raise InvalidInput(f"inventory {doc.path} is invalid", [Diagnostic(
                doc.path, pos.line, pos.col, "become-password",
                f"environment variable {env} (the sudo password) is not set or empty")])
    return model.Become(user=value.get("user", "root"), password=password or None)


def secret_var_values(inventory: model.Inventory,
                      flavor: model.Flavor | None = None) -> list[str]:
    """Values of template variables whose names look secret (``db_password``, ``api_token``).

    The rule is the one the redactor applies to keys (:data:`~octavia_upgrade.logs.SECRET_KEY`):
    such a variable's value is a secret wherever it is rendered (a command in
    the plan, the dry run, the stored plan, logs and reports), as the
    inventory's ``secrets`` are. Flavor, inventory and host variables count
    (Ansible inventories: ``octavia_upgrade_NAME`` variables).
    """
    from octavia_upgrade.logs import SECRET_KEY

    scopes = [inventory.vars, *(h.vars for h in inventory.hosts)]
    if flavor is not None:
        scopes.append(flavor.vars)
    out: list[str] = []
    for scope in scopes:
        for key, value in (scope or {}).items():
            if isinstance(key, str) and SECRET_KEY.search(key):
                out += [str(v) for v in _leaves(value) if v not in (None, "")
                        and not isinstance(v, bool)]
    return out


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _leaves(v)]
    return [value]
