"""Applying the operator's OpenSSH client configuration (``~/.ssh/config``) to an inventory.

Read with paramiko's :class:`~paramiko.config.SSHConfig` (the parser fabric
uses), for each host looked up by the address the inventory gives it, as
``ssh ADDRESS`` would:

==================== ===================================================
``HostName``         the address actually connected to (and looked up in known_hosts)
``User``, ``Port``   used when the inventory does not set them
``IdentityFile``     the first existing one, when the inventory sets no key file
``ProxyJump``        bastions, each looked up in the config too (its own
                     ``HostName``, ``User``, ``Port``, ``IdentityFile``);
                     ``a,b`` goes through ``a`` then ``b``
``ConnectTimeout``   per-host connect timeout
``UserKnownHostsFile`` per-host known_hosts (first file), unless the
                     inventory sets ``ssh.known_hosts``
==================== ===================================================

Values written in the inventory win over the configuration, as options
given on ssh's command line do (an Ansible inventory's ``ProxyJump`` from
``ansible_ssh_common_args`` too). Hosts run locally (``ansible_connection=local``)
are left as they are. Strict host-key checking is the inventory's
setting (on by default) for the host and every bastion; ``StrictHostKeyChecking``
in the configuration is not read, so it cannot turn checking off. Keys held
by an SSH agent (``SSH_AUTH_SOCK``) are tried as well.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from octavia_upgrade import model
from octavia_upgrade.errors import InvalidInput

DEFAULT_SSH_CONFIG = "~/.ssh/config"
_MAX_HOPS = 8


def load(path: str | None) -> Any:
    """The parsed ssh_config at ``path``; the default file if None (absent = no config)."""
    import paramiko

    explicit = path is not None
    file = Path(os.path.expanduser(path or DEFAULT_SSH_CONFIG))
    if not file.is_file():
        if explicit:
            raise InvalidInput(f"--ssh-config {path}: no such file")
        return None
    try:
        return paramiko.SSHConfig.from_path(str(file))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read ssh config {file}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - paramiko's ConfigParseError and friends
        raise InvalidInput(f"ssh config {file}: {exc}") from None


def apply(inventory: model.Inventory, config: Any) -> model.Inventory:
    """``inventory`` with every host resolved through ``config`` (None: unchanged)."""
    if config is None:
        return inventory
    hosts = tuple(h if h.connection == "local" else _host(h, config, inventory)
                  for h in inventory.hosts)
    return replace(inventory, hosts=hosts)


def _host(host: model.Host, config: Any, inventory: model.Inventory) -> model.Host:
    found = _lookup(config, host.address, host.name)
    changes: dict[str, Any] = {"address": found.get("hostname", host.address)}
    if "user" in host.defaulted and found.get("user"):
        changes["user"] = found["user"]
    if "port" in host.defaulted and found.get("port"):
        changes["port"] = _port(found["port"], host.name)
    if "key_file" in host.defaulted:
        key = _identity(found)
        if key:
            changes["key_file"] = key
    if found.get("connecttimeout") and host.connect_timeout is None:
        changes["connect_timeout"] = _seconds(found["connecttimeout"], host.name)
    if (inventory.ssh.known_hosts is None and host.known_hosts is None
            and found.get("userknownhostsfile")):
        changes["known_hosts"] = os.path.expanduser(found["userknownhostsfile"].split()[0])
    jump = found.get("proxyjump")
    if jump and jump.lower() != "none" and not host.proxy_jump:
        changes["proxy_jump"] = _hops(jump, config, host.name, 0)
    return replace(host, **changes)


def _lookup(config: Any, alias: str, name: str) -> dict[str, Any]:
    try:
        return dict(config.lookup(alias))
    except Exception as exc:  # noqa: BLE001 - e.g. a Match exec that fails
        raise InvalidInput(f"ssh config lookup for {alias} (host {name}) failed: {exc}") from None


def _hops(spec: str, config: Any, name: str, depth: int) -> tuple[model.Hop, ...]:
    if depth > _MAX_HOPS:
        raise InvalidInput(f"host {name}: ProxyJump chain longer than {_MAX_HOPS} hops "
                           "(a loop in the ssh config?)")
    hops: list[model.Hop] = []
    for i, entry in enumerate(e.strip() for e in spec.split(",") if e.strip()):
        entry = entry.removeprefix("ssh://")
        user, _, rest = entry.rpartition("@")
        address, port = rest, None
        if rest.count(":") == 1:
            address, _, port_text = rest.partition(":")
            port = _port(port_text, name)
        found = _lookup(config, address, name)
        if i == 0 and found.get("proxyjump") and found["proxyjump"].lower() != "none":
            # Like ssh: the first bastion is reached the way the config says.
            hops.extend(_hops(found["proxyjump"], config, name, depth + 1))
        hops.append(model.Hop(
            address=found.get("hostname", address),
            port=port or _port(found.get("port", 22), name),
            user=user or found.get("user") or getpass.getuser(),
            key_file=_identity(found),
            name=address,
        ))
    return tuple(hops)


def _identity(found: dict[str, Any]) -> str | None:
    for path in found.get("identityfile") or ():
        full = os.path.expanduser(path)
        if os.path.isfile(full):
            return full
    return None


def _port(value: Any, name: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise InvalidInput(f"host {name}: ssh config port {value!r} is not a port number")
    return port


def _seconds(value: Any, name: str) -> float:
    try:
        return max(1.0, float(value))
    except (TypeError, ValueError):
        raise InvalidInput(f"host {name}: ssh config ConnectTimeout {value!r} is not a number "
                           "of seconds") from None
