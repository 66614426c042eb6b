"""Host keys: known_hosts files, fingerprints, and the refusal of unknown or changed keys.

Host keys are checked strictly by default: keys come from the inventory's
``ssh.known_hosts`` (or ``~/.ssh/known_hosts``); an unknown host or a changed
key is refused and nothing runs. The errors name the key offered and, for a
changed key, the known_hosts line that expects another one. known_hosts is
never written. paramiko is imported only when a connection is opened.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from octavia_upgrade.errors import HostKeyMismatch, UnknownHostKey

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


def fingerprint(key: Any) -> str:
    """``SHA256:...`` of a paramiko key, as ``ssh-keygen -l`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(address: str, port: int) -> str:
    """How known_hosts names ``address:port``: the bare address for port 22."""
    return address if port == 22 else f"[{address}]:{port}"


def known_hosts_line(path: Path, address: str, port: int) -> tuple[int, str] | None:
    """(line number, key fingerprint) of ``address:port``'s entry in ``path``."""
    import paramiko
    from paramiko.hostkeys import HostKeyEntry

    name = known_hosts_name(address, port)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for number, line in enumerate(lines, start=1):
        try:
            entry = HostKeyEntry.from_line(line, number)
        except Exception:  # noqa: BLE001 - unparsable lines are skipped, as ssh does
            continue
        if entry is None:
            continue
        for host in entry.hostnames:
            matches = (host == name or (host.startswith("|1|")
                       and paramiko.HostKeys.hash_host(name, host) == host))
            if matches:
                return number, fingerprint(entry.key)
    return None


class UnknownHost(Exception):
    """Raised by the strict policy for a host missing from known_hosts (carries its key)."""

    def __init__(self, key: Any) -> None:
        super().__init__("unknown host key")
        self.key = key


def missing_key_policy(strict: bool) -> Any:
    """The paramiko policy for hosts missing from known_hosts.

    Strict: refuse, raising :class:`UnknownHost` with the key offered. Not
    strict: accept the host for this connection only. Changed keys are
    refused by paramiko whatever the policy.
    """
    import paramiko

    class RefuseUnknown(paramiko.RejectPolicy):
        """Refuse unknown hosts (as RejectPolicy), telling which key was offered."""

        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            raise UnknownHost(key)

    class AcceptUnknown(paramiko.MissingHostKeyPolicy):
        """Strict checking off: accept an unknown host for this connection only."""

        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            return None

    return RefuseUnknown() if strict else AcceptUnknown()


def load_known_hosts(client: Any, known_hosts: Path, where: str, *, host: str,
                     address: str, port: int) -> None:
    """Load ``known_hosts`` (if it exists) into a paramiko ``SSHClient``.

    Raises:
        UnknownHostKey: the file exists but cannot be read or parsed.
    """
    if not known_hosts.is_file():
        return
    try:
        client.load_system_host_keys(str(known_hosts))
    except Exception as exc:  # noqa: BLE001 - paramiko raises various types here
        raise UnknownHostKey(f"{where}: cannot read known_hosts file {known_hosts}: {exc}",
                             host=host, address=address, port=port,
                             known_hosts=str(known_hosts)) from None


def unknown_host_error(where: str, key: Any, known_hosts: Path, *, host: str, address: str,
                       port: int) -> UnknownHostKey:
    """The refusal of a host whose key ``key`` is not in ``known_hosts``."""
    missing = "" if known_hosts.is_file() else " (the file does not exist)"
    offered = fingerprint(key)
    return UnknownHostKey(
        f"{where}: host key {key.get_name()} {offered} is not in "
        f"{known_hosts}{missing}; strict host-key checking refuses unknown hosts. "
        f"Verify the key, then add it (e.g. ssh-keyscan -p {port} "
        f"{address} >> {known_hosts})",
        host=host, address=address, port=port, offered=offered, known_hosts=str(known_hosts))


def changed_key_error(where: str, key: Any, expected_key: Any, known_hosts: Path, *,
                      host: str, address: str, port: int) -> HostKeyMismatch:
    """The refusal of a host that offers ``key`` where ``known_hosts`` expects another."""
    entry = known_hosts_line(known_hosts, address, port)
    expected_fp = entry[1] if entry else fingerprint(expected_key)
    expected = (f"{known_hosts}:{entry[0]} expects {expected_fp}" if entry
                else f"{known_hosts} expects {expected_fp}")
    offered = fingerprint(key)
    return HostKeyMismatch(
        f"{where}: host key CHANGED: the host offers {key.get_name()} "
        f"{offered} but {expected}; refusing to connect (possible "
        "man-in-the-middle, or the host was reinstalled: verify, then update "
        "known_hosts)", host=host, address=address, port=port, offered=offered,
        expected=expected_fp, known_hosts=str(known_hosts))
