"""One Ansible host → one :class:`~octavia_upgrade.model.Host`: how Ansible would reach it.

Read, in Ansible's precedence (the host's variables over ``ansible.cfg`` and
its environment variables, those over the operator's ssh_config):

- ``ansible_host``/``ansible_ssh_host``, ``ansible_port``/``ansible_ssh_port``,
  ``ansible_user``/``ansible_ssh_user``, ``ansible_ssh_private_key_file``/
  ``ansible_private_key_file``; ``ansible.cfg`` ``remote_user``,
  ``private_key_file``, ``remote_port``;
- ``ansible_become``, ``ansible_become_user``, ``ansible_become_method``
  (sudo only), ``ansible_become_password``/``ansible_become_pass``/``ansible_sudo_pass``;
- ``ansible_connection``: ``ssh`` (also ``paramiko``, ``smart``, and
  ``openstack.osa.ssh``, OpenStack-Ansible's) or ``local``: commands run on the
  operator machine (kolla-ansible's all-in-one);
- ``ansible_ssh_common_args``, ``ansible_ssh_extra_args`` and ``ansible.cfg``
  ``ssh_args``/``ssh_common_args``/``ssh_extra_args`` (see :mod:`.ansible_sshargs`);
- OpenStack-Ansible's ``container_name``, ``physical_host``, ``physical_host_addr``,
  ``physical_host_addrs``, ``container_user``, ``is_metal``
  (``properties.is_metal`` too): a container is reached as OSA's connection
  plugin reaches it, SSH to the physical host and ``lxc-attach`` into it.

Any other ``ansible_*`` variable is not honoured and becomes a warning naming
it and its hosts (never silence); ``ansible_python_interpreter`` has no effect
(nothing runs Python on the hosts) and is not reported.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from octavia_upgrade import ansible_sshargs, model
from octavia_upgrade.errors import Diagnostic, InvalidInput

#: Variables octavia-upgrade reads (or knows to have no effect).
HONOURED = frozenset({
    "ansible_host", "ansible_ssh_host", "ansible_port", "ansible_ssh_port", "ansible_user",
    "ansible_ssh_user", "ansible_ssh_private_key_file", "ansible_private_key_file",
    "ansible_become", "ansible_become_user", "ansible_become_method",
    "ansible_become_password", "ansible_become_pass", "ansible_sudo_pass",
    "ansible_connection", "ansible_ssh_common_args", "ansible_ssh_extra_args",
    "ansible_python_interpreter",
})

SSH_CONNECTIONS = ("ssh", "paramiko", "paramiko_ssh", "smart", "ansible.builtin.ssh",
                   "ansible.builtin.paramiko_ssh", "openstack.osa.ssh")
LOCAL_CONNECTIONS = ("local", "ansible.builtin.local")

VAR_PREFIX = "octavia_upgrade_"

_CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class HostReader:
    """Builds hosts of one inventory file, collecting what is not honoured."""

    def __init__(self, path: str, config: Any, lookup: Callable[[str], Mapping[str, Any]]
                 ) -> None:
        self.path = path
        self.base = Path(path).resolve().parent
        self.config = config           # an AnsibleConfig
        self.lookup = lookup           # another host's variables (OSA physical hosts)
        self.ignored: dict[str, list[str]] = {}
        self.positions: dict[str, Any] = {}

    def _pos(self, name: str) -> tuple[int, int]:
        pos = self.positions.get(name)
        return (pos.line, pos.col) if pos is not None else (1, 1)

    def warnings(self) -> tuple[str, ...]:
        out = [f"{what} is not honoured by octavia-upgrade (host{'s' if len(hosts) > 1 else ''} "
               f"{', '.join(hosts)})" for what, hosts in self.ignored.items()]
        return (*(self.config.warnings if self.config else ()), *out)

    def _ignore(self, what: str, host: str) -> None:
        hosts = self.ignored.setdefault(what, [])
        if host not in hosts:
            hosts.append(host)

    def host(self, h: Any, roles: list[str]) -> model.Host:
        from octavia_upgrade import netnames
        from octavia_upgrade.inventory import resolve_path

        v = h.vars
        self.positions[h.name] = h.pos

        def fail(message: str, rule: str = "ansible-host") -> InvalidInput:
            return InvalidInput(f"inventory {self.path} is invalid", [Diagnostic(
                self.path, h.pos.line, h.pos.col, rule, f"host {h.name}: {message}")])

        for key, value in v.items():
            if key.startswith(("ansible_", VAR_PREFIX)) and isinstance(value, str) \
                    and "{{" in value:
                raise fail(f"{key} is a Jinja template ({value!r}); octavia-upgrade does not "
                           "evaluate templates or vaults: give the value itself",
                           "ansible-template")
            if key.startswith("ansible_") and key not in HONOURED:
                self._ignore(key, h.name)
        connection = str(v.get("ansible_connection", "ssh"))
        if connection not in SSH_CONNECTIONS + LOCAL_CONNECTIONS:
            raise fail(f"ansible_connection={connection}: octavia-upgrade reaches hosts over "
                       "SSH, or runs commands locally (ansible_connection=local)",
                       "ansible-connection")
        local = connection in LOCAL_CONNECTIONS
        cfg = self.config
        args = ansible_sshargs.SshArgs()
        for origin, text in ((cfg and cfg.origin.get("ssh_args"), cfg and cfg.get("ssh_args")),
                             (cfg and cfg.origin.get("ssh_common_args"),
                              cfg and cfg.get("ssh_common_args")),
                             (cfg and cfg.origin.get("ssh_extra_args"),
                              cfg and cfg.get("ssh_extra_args")),
                             ("ansible_ssh_common_args", v.get("ansible_ssh_common_args")),
                             ("ansible_ssh_extra_args", v.get("ansible_ssh_extra_args"))):
            if text and not local:
                before = len(args.ignored)
                ansible_sshargs.parse(str(text), args)
                for arg in args.ignored[before:]:
                    self._ignore(f"{origin} {arg}", h.name)
                if args.invalid:
                    raise fail(f"{origin}: {args.invalid[0]}", "ansible-ssh-args")
        address = v.get("ansible_host", v.get("ansible_ssh_host", h.name))
        container = None if local else self._container(h.name, v, str(address))
        if container is not None:
            address = container[1]
        if not netnames.is_address(address):
            which = ("physical_host_addr" if container else "ansible_host"
                     if ("ansible_host" in v or "ansible_ssh_host" in v)
                     else "the host name (no ansible_host)")
            raise fail(f"{which} {address!r} is not {netnames.EXPECTED}", "address")
        port = _int(v.get("ansible_port", v.get("ansible_ssh_port", args.port)))
        if port is None and cfg and cfg.get("remote_port"):
            port = _int(cfg.get("remote_port"))
        user = v.get("ansible_user", v.get("ansible_ssh_user", args.user))
        if user is None and cfg and cfg.get("remote_user"):
            user = cfg.get("remote_user")
        key = v.get("ansible_ssh_private_key_file", v.get("ansible_private_key_file",
                                                          args.key_file))
        if key is None and cfg and cfg.get("private_key_file"):
            key = cfg.get("private_key_file")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                                 or not 1 <= port <= 65535):
            raise fail(f"ansible_port {port!r} is not a port number", "ansible-port")
        for what, value in (("ansible_user", user), ("ansible_ssh_private_key_file", key)):
            if value is not None and (isinstance(value, (bool, list, dict)) or value == ""):
                raise fail(f"{what} {value!r} is not a name", "ansible-host")
        if local:
            user = user or getpass.getuser()
        defaulted = frozenset(k for k, given in (("user", user), ("port", port),
                                                 ("key_file", key)) if given is None)
        return model.Host(
            name=h.name, address=str(address), port=int(port or 22), user=str(user or "root"),
            key_file=resolve_path(str(key), self.base) if key else None, roles=tuple(roles),
            vars={k[len(VAR_PREFIX):]: val for k, val in v.items()
                  if k.startswith(VAR_PREFIX) and k not in (VAR_PREFIX + "deployment",
                                                            VAR_PREFIX + "flavor")},
            pos=h.pos, become=_become(v, fail, cfg), defaulted=defaulted,
            proxy_jump=args.proxy_jump,
            known_hosts=args.known_hosts, connect_timeout=args.connect_timeout,
            connection="local" if local else "ssh",
            container=container[0] if container else None)

    def _container(self, name: str, v: Mapping[str, Any], remote: str
                   ) -> tuple[model.Container, str] | None:
        """OpenStack-Ansible's container check (its ``openstack.osa.ssh`` plugin):
        (the container, the physical host's address), or None for a host reached itself."""
        cname, physical = v.get("container_name"), v.get("physical_host")
        props = v.get("properties") if isinstance(v.get("properties"), dict) else {}
        metal = _true(v.get("is_metal", props.get("is_metal", False)))
        if not cname or not physical or metal:
            return None
        for what, value in (("container_name", cname), ("physical_host", physical),
                            ("container_user", v.get("container_user") or "root")):
            if not isinstance(value, str) or not _CONTAINER_NAME.match(value):
                raise InvalidInput(f"inventory {self.path} is invalid", [Diagnostic(
                    self.path, *self._pos(name), "osa-container",
                    f"host {name}: {what} {value!r} is not a name (letters, digits, '.', "
                    "'-', '_')")])
        if cname in (physical, remote):
            return None
        addrs = v.get("physical_host_addrs") if isinstance(v.get("physical_host_addrs"),
                                                           dict) else {}
        ph_addr = v.get("physical_host_addr") or addrs.get(physical) or \
            self.lookup(str(physical)).get("ansible_host") or physical
        if str(ph_addr) == remote:
            return None
        user = str(v.get("container_user") or "root")
        return model.Container(str(cname), user, str(physical)), str(ph_addr)


def _become(v: Mapping[str, Any], fail: Any, cfg: Any = None) -> model.Become | None:
    """The host's ``ansible_become*`` variables over ``ansible.cfg`` ``[privilege_escalation]``."""
    def setting(var: str, name: str, default: Any) -> Any:
        if var in v:
            return v[var]
        return cfg.get(name) if cfg is not None and cfg.get(name) is not None else default

    if not _true(setting("ansible_become", "become", False)):
        return None
    method = str(setting("ansible_become_method", "become_method", "sudo"))
    if method != "sudo":
        raise fail(f"ansible_become_method={method}: only sudo is supported", "become-method")
    password = v.get("ansible_become_password", v.get("ansible_become_pass",
                                                      v.get("ansible_sudo_pass")))
    return model.Become(user=str(setting("ansible_become_user", "become_user", "root")),
                        password=str(password) if password not in (None, "") else None)


def _true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def _int(value: Any) -> Any:
    """``"22"`` → 22 (JSON inventories quote numbers); anything else as it is."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value
