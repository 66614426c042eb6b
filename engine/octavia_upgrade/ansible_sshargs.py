"""SSH command-line arguments as Ansible passes them (``ansible_ssh_common_args``,
``ansible_ssh_extra_args``, ``ansible.cfg`` ``ssh_args``), mapped onto what
octavia-upgrade's SSH connections support.

Honoured:

=================================  ==========================================
``-J SPEC``, ``-o ProxyJump=SPEC``  bastions (``[user@]host[:port]``, comma-separated)
``-o ProxyCommand="ssh -W %h:%p    one bastion, with that command's ``-p``,
[-p P] [-l U] [-i K] [U@]B"``       ``-l``, ``-i`` (also ``ssh ... B nc %h %p``)
``-o User=``, ``-l``                login user
``-o Port=``, ``-p``                port
``-o IdentityFile=``, ``-i``        key file
``-o ConnectTimeout=``              connect timeout (seconds)
``-o UserKnownHostsFile=``          known_hosts file
=================================  ==========================================

Without effect and not worth a warning (the tool keeps one connection per
host): ``-C``, ``-q``, ``-v``, ``ControlMaster``, ``ControlPersist``,
``ControlPath``, ``ServerAliveInterval``, ``ServerAliveCountMax``,
``Compression``. Anything else (``StrictHostKeyChecking=no`` among them: host
keys stay checked) is not honoured and is reported as a warning naming it.
"""

from __future__ import annotations

import getpass
import shlex
from dataclasses import dataclass, field

from octavia_upgrade.model import Hop

_NO_EFFECT_FLAGS = ("-C", "-q", "-v", "-vv", "-vvv", "-T", "-n")
_NO_EFFECT_OPTIONS = ("controlmaster", "controlpersist", "controlpath", "serveraliveinterval",
                      "serveralivecountmax", "compression", "tcpkeepalive")
_FLAG_VALUE = {"-J": "proxyjump", "-l": "user", "-p": "port", "-i": "identityfile"}


@dataclass
class SshArgs:
    """What a set of SSH arguments says; None where it says nothing."""

    user: str | None = None
    port: int | None = None
    key_file: str | None = None
    proxy_jump: tuple[Hop, ...] = ()
    connect_timeout: float | None = None
    known_hosts: str | None = None
    #: Arguments not honoured, as written (each becomes a warning).
    ignored: list[str] = field(default_factory=list)
    #: Arguments the tool would honour but that are malformed (each an error).
    invalid: list[str] = field(default_factory=list)


def parse(text: str, into: SshArgs | None = None) -> SshArgs:
    """Read ``text`` (later arguments over earlier ones, as ssh's first-wins aside)."""
    out = into or SshArgs()
    try:
        words = shlex.split(text)
    except ValueError as exc:
        out.ignored.append(f"{text!r} (cannot be split: {exc})")
        return out
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-o"):
            option = word[2:] or (words[i + 1] if i + 1 < len(words) else "")
            i += 1 if word[2:] else 2
            key, value = _option(option)
            _apply(out, key, value, f"-o {option}")
            continue
        if word[:2] in _FLAG_VALUE:
            value = word[2:] or (words[i + 1] if i + 1 < len(words) else "")
            i += 1 if word[2:] else 2
            _apply(out, _FLAG_VALUE[word[:2]], value, f"{word[:2]} {value}")
            continue
        if word not in _NO_EFFECT_FLAGS:
            out.ignored.append(word)
        i += 1
    return out


def _option(text: str) -> tuple[str, str]:
    if "=" in text:
        key, _, value = text.partition("=")
    else:
        key, _, value = text.strip().partition(" ")
    return key.strip().lower(), value.strip()


def _apply(out: SshArgs, key: str, value: str, written: str) -> None:
    if key in _NO_EFFECT_OPTIONS:
        return
    if key == "proxyjump":
        if value.lower() != "none":
            try:
                out.proxy_jump = jump_hops(value)
            except ValueError as exc:
                out.invalid.append(f"{written}: {exc}")
    elif key == "proxycommand":
        hop = proxy_command_hop(value)
        if hop is None:
            out.ignored.append(f"{written} (only 'ssh -W %h:%p [user@]bastion' is understood; "
                               "use ProxyJump)")
        else:
            out.proxy_jump = (hop,)
    elif key == "user":
        out.user = value
    elif key == "port" and value.isdigit() and 1 <= int(value) <= 65535:
        out.port = int(value)
    elif key == "identityfile":
        out.key_file = value
    elif key == "connecttimeout" and value.isdigit():
        out.connect_timeout = max(1.0, float(value))
    elif key == "userknownhostsfile":
        out.known_hosts = value.split()[0] if value else None
    else:
        out.ignored.append(written)


def jump_hops(spec: str) -> tuple[Hop, ...]:
    """``[user@]host[:port][,...]`` → bastions, first hop first.

    Raises:
        ValueError: an entry without a valid address or port.
    """
    from octavia_upgrade import netnames

    hops = []
    for entry in (e.strip() for e in spec.split(",")):
        entry = entry.removeprefix("ssh://")
        user, _, rest = entry.rpartition("@")
        address, port = rest, 22
        if rest.count(":") == 1:
            address, _, port_text = rest.partition(":")
            if not (port_text.isdigit() and 1 <= int(port_text) <= 65535):
                raise ValueError(f"bastion {entry!r}: {port_text!r} is not a port number")
            port = int(port_text)
        if not netnames.is_address(address):
            raise ValueError(f"bastion {entry!r}: {address!r} is not {netnames.EXPECTED}")
        hops.append(Hop(address=address, port=port, user=user or getpass.getuser(),
                        name=address))
    return tuple(hops)


def proxy_command_hop(command: str) -> Hop | None:
    """The bastion of ``ssh [-p P] [-l U] [-i K] -W %h:%p [U@]B`` (or ``... B nc %h %p``);
    None for any other command."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or not words[0].endswith("ssh"):
        return None
    words = words[1:]
    forward = False
    user = port = key = None
    dest: str | None = None
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("-W",) and i + 1 < len(words):
            forward = words[i + 1] in ("%h:%p", "[%h]:%p")
            i += 2
        elif w in ("-p", "-l", "-i") and i + 1 < len(words):
            if w == "-p":
                port = words[i + 1]
            elif w == "-l":
                user = words[i + 1]
            else:
                key = words[i + 1]
            i += 2
        elif w == "-o" and i + 1 < len(words):
            i += 2  # the bastion's own options: ssh_config decides them
        elif w.startswith("-"):
            i += 1
        elif dest is None:
            dest = w
            rest = words[i + 1:]
            if rest[:3] in (["nc", "%h", "%p"], ["netcat", "%h", "%p"]):
                forward = True
                break
            i += 1
        else:
            return None
    if not forward or not dest:
        return None
    from octavia_upgrade import netnames

    u, _, address = dest.rpartition("@")
    if not netnames.is_address(address):
        return None
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        return None
    return Hop(address=address, port=int(port or 22), user=user or u or getpass.getuser(),
               key_file=key, name=address)
