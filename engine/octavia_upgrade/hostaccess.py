"""How each host is reached, and as whom its commands run: the plan's host entries.

A plan records, for every inventory host, the SSH login (user, address,
port), the privilege escalation (``become``: sudo to which user, and whether
a password is given, never the password) and the bastions (``proxy_jump``)
on the way, first hop first. The dry run, ``show`` and the reports word an
entry with the functions below; entries of plans recorded before schema 3
have none of these keys, and are worded as "not recorded".

A host run on the operator machine (``ansible_connection=local``) has
``connection: local``; a host whose commands run in an LXC container on the
host reached (OpenStack-Ansible) has ``container`` (``{"name", "user",
"physical_host"}``). Both keys are present only then, so the entries of every
other host are as before.

Pure: a :class:`~octavia_upgrade.model.Host` in, plain data and words out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from octavia_upgrade.model import Become, Hop, Host

#: Said of a plan entry that has no access keys (a plan of schema 1 or 2).
NOT_RECORDED = "not recorded"


def host_entry(host: Host) -> dict[str, Any]:
    """The plan's entry for ``host``: ``name``, ``address``, ``port``, ``roles``,
    ``user``, ``become`` (None or ``{"method", "user", "password_given"}``) and
    ``proxy_jump`` (``[{"name", "address", "port", "user"}]``, first hop first)."""
    entry: dict[str, Any] = {
        "name": host.name, "address": host.address, "port": host.port,
        "roles": list(host.roles), "user": host.user, "become": become_entry(host.become),
        "proxy_jump": [hop_entry(h) for h in host.proxy_jump]}
    if host.connection != "ssh":
        entry["connection"] = host.connection
    if host.container is not None:
        entry["container"] = {"name": host.container.name, "user": host.container.user,
                              "physical_host": host.container.physical_host}
    return entry


def become_entry(become: Become | None) -> dict[str, Any] | None:
    """``{"method", "user", "password_given"}``; None when commands run as the login user.

    The key is not ``password``: a value under a secret-looking key is masked
    whole wherever a plan is stored or shown, and this one is no secret.
    """
    if become is None:
        return None
    return {"method": become.method, "user": become.user,
            "password_given": become.password is not None}


def hop_entry(hop: Hop) -> dict[str, Any]:
    return {"name": hop.name or hop.address, "address": hop.address, "port": hop.port,
            "user": hop.user}


def recorded(entry: Mapping[str, Any]) -> bool:
    """Whether ``entry`` (a plan's host, or a report's) says how the host is reached:
    plans of schema 3 and later do; a report holds None for what its plan did not."""
    return entry.get("user") is not None and "become" in entry


def _get(entry: Any, key: str) -> Any:
    """A key of a plan's entry, or an attribute of a report's host (None if absent)."""
    if isinstance(entry, Mapping):
        return entry.get(key)
    return getattr(entry, key, None)


def login(entry: Mapping[str, Any]) -> str:
    """``ops@192.0.2.11:22``; without the user for entries that did not record it;
    ``local (the operator machine, as ops)`` for a host run locally; ``… then
    lxc-attach into CONTAINER`` for an OpenStack-Ansible container."""
    if _get(entry, "connection") == "local":
        return f"local (the operator machine, as {_get(entry, 'user')})"
    where = f"{entry.get('address')}:{entry.get('port', 22)}"
    text = f"{entry['user']}@{where}" if entry.get("user") else where
    container = _get(entry, "container")
    if container:
        name = container.get("name") if isinstance(container, Mapping) else container
        text += f", then lxc-attach into container {name}"
    return text


def privileges(entry: Mapping[str, Any]) -> str:
    """``sudo to root without a password (sudo -n)``, ``sudo to root with a password``
    or ``no sudo: commands run as root``."""
    if not recorded(entry):
        return NOT_RECORDED
    become = entry.get("become")
    if not become:
        return f"no sudo: commands run as {entry.get('user')}"
    how = ("with a password" if become.get("password_given")
           else "without a password (sudo -n)")
    return f"{become.get('method', 'sudo')} to {become.get('user', 'root')} {how}"


def route(entry: Mapping[str, Any]) -> str:
    """``direct (no bastion)`` or ``via bastion (jump@203.0.113.5:22)``, hops in order
    (``, then`` between them)."""
    if not recorded(entry):
        return NOT_RECORDED
    if _get(entry, "connection") == "local":
        return "no SSH: commands run on the operator machine"
    hops = entry.get("proxy_jump") or ()
    if not hops:
        return "direct (no bastion)"
    return "via " + ", then ".join(_hop(h) for h in hops)


def _hop(hop: Mapping[str, Any]) -> str:
    where = f"{hop.get('user')}@{hop.get('address')}:{hop.get('port', 22)}"
    name = hop.get("name")
    return f"{name} ({where})" if name and name != hop.get("address") else where


def describe(entry: Mapping[str, Any]) -> str:
    """One line: ``ops@192.0.2.11:22, sudo to root with a password, direct (no bastion)``."""
    if not recorded(entry):
        return f"{login(entry)} (login user, sudo and bastions {NOT_RECORDED})"
    return f"{login(entry)}, {privileges(entry)}, {route(entry)}"
