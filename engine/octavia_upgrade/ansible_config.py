"""The operator's ``ansible.cfg``, found as Ansible finds it, for the settings that say
how hosts are reached.

Ansible reads one configuration file, the first that exists of (Ansible's
documented order, "Ansible Configuration Settings"):

1. ``ANSIBLE_CONFIG`` (a file, or a folder holding ``ansible.cfg``);
2. ``ansible.cfg`` in the current directory (skipped, with a warning, when
   the directory is world-writable, as Ansible does);
3. ``~/.ansible.cfg``;
4. ``/etc/ansible/ansible.cfg``.

Read from it: ``[defaults] remote_user``, ``private_key_file`` (relative to
the file's folder), ``remote_port``; ``[ssh_connection] ssh_args``,
``ssh_common_args``, ``ssh_extra_args``; ``[privilege_escalation] become``,
``become_user``, ``become_method``. ``[defaults] host_key_checking = False`` is
not honoured (host keys stay checked): a warning says so. The environment variables Ansible
gives precedence over the file (``ANSIBLE_REMOTE_USER``,
``ANSIBLE_PRIVATE_KEY_FILE``, ``ANSIBLE_REMOTE_PORT``, ``ANSIBLE_SSH_ARGS``,
``ANSIBLE_SSH_COMMON_ARGS``, ``ANSIBLE_SSH_EXTRA_ARGS``) win here too. A
host's own variables (``ansible_user``, …) win over both.
"""

from __future__ import annotations

import configparser
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from octavia_upgrade.errors import InvalidInput

#: Where Ansible looks, after ``ANSIBLE_CONFIG`` and the current directory.
USER_FILE = "~/.ansible.cfg"
SYSTEM_FILE = "/etc/ansible/ansible.cfg"

#: setting → (section, key, environment variable)
_SETTINGS = {
    "remote_user": ("defaults", "remote_user", "ANSIBLE_REMOTE_USER"),
    "private_key_file": ("defaults", "private_key_file", "ANSIBLE_PRIVATE_KEY_FILE"),
    "remote_port": ("defaults", "remote_port", "ANSIBLE_REMOTE_PORT"),
    "ssh_args": ("ssh_connection", "ssh_args", "ANSIBLE_SSH_ARGS"),
    "ssh_common_args": ("ssh_connection", "ssh_common_args", "ANSIBLE_SSH_COMMON_ARGS"),
    "ssh_extra_args": ("ssh_connection", "ssh_extra_args", "ANSIBLE_SSH_EXTRA_ARGS"),
    "become": ("privilege_escalation", "become", "ANSIBLE_BECOME"),
    "become_user": ("privilege_escalation", "become_user", "ANSIBLE_BECOME_USER"),
    "become_method": ("privilege_escalation", "become_method", "ANSIBLE_BECOME_METHOD"),
    "host_key_checking": ("defaults", "host_key_checking", "ANSIBLE_HOST_KEY_CHECKING"),
}


@dataclass(frozen=True)
class AnsibleConfig:
    """The settings found; ``path`` is None when no file was found."""

    path: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    #: Where each value came from (``/etc/ansible/ansible.cfg`` or ``ANSIBLE_REMOTE_USER``).
    origin: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def find(environ: Mapping[str, str] | None = None, cwd: str | None = None) -> tuple[
        str | None, list[str]]:
    """The configuration file Ansible would read (None: none) and warnings."""
    env = os.environ if environ is None else environ
    warnings: list[str] = []
    given = env.get("ANSIBLE_CONFIG")
    if given:
        path = Path(os.path.expanduser(given))
        if path.is_dir():
            path = path / "ansible.cfg"
        if path.is_file():
            return str(path), warnings
        warnings.append(f"ANSIBLE_CONFIG={given}: no such file; looking further, as Ansible "
                        "does")
    here = Path(cwd or os.getcwd())
    local = here / "ansible.cfg"
    if local.is_file():
        try:
            world_writable = bool(here.stat().st_mode & stat.S_IWOTH)
        except OSError:
            world_writable = True  # cannot tell: as unsafe
        if world_writable:
            warnings.append(f"{local} ignored: the directory {here} is world-writable "
                            "(Ansible ignores it too)")
        else:
            return str(local), warnings
    for candidate in (Path(os.path.expanduser(USER_FILE)), Path(SYSTEM_FILE)):
        if candidate.is_file():
            return str(candidate), warnings
    return None, warnings


def load(environ: Mapping[str, str] | None = None, cwd: str | None = None) -> AnsibleConfig:
    """The settings of the file :func:`find` names, environment variables over them.

    Raises:
        InvalidInput: the file cannot be read or parsed (``path:line``).
    """
    env = os.environ if environ is None else environ
    path, warnings = find(env, cwd)
    values: dict[str, str] = {}
    origin: dict[str, str] = {}
    if path is not None:
        parser = _read(path)
        for name, (section, key, _) in _SETTINGS.items():
            if parser.has_option(section, key):
                value = (parser.get(section, key) or "").strip()
                if value:
                    values[name] = value
                    origin[name] = f"{path} [{section}] {key}"
        key_file = values.get("private_key_file")
        if key_file:
            full = Path(os.path.expanduser(key_file))
            if not full.is_absolute():
                full = Path(path).resolve().parent / full
            values["private_key_file"] = str(full)
    for name, (_, _, var) in _SETTINGS.items():
        if env.get(var):
            values[name] = env[var]
            origin[name] = var
    if values.get("host_key_checking", "true").strip().lower() in ("false", "no", "0", "off"):
        warnings.append(f"{origin['host_key_checking']} = {values['host_key_checking']} is not "
                        "honoured: octavia-upgrade checks every host key (known_hosts)")
    return AnsibleConfig(path, values, origin, tuple(warnings))


def _read(path: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False,
                                       comment_prefixes=("#", ";"),
                                       inline_comment_prefixes=(";",))
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f, source=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read Ansible configuration {path}: {exc}") from None
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}:{line}" if line else path
        first = str(exc).strip().splitlines()[0]
        raise InvalidInput(f"{where}: Ansible configuration is not valid INI: {first}") from None
    return parser
