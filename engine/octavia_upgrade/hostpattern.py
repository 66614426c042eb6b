"""``--limit`` as Ansible reads it: host patterns over groups and hosts.

A limit is a list of patterns, separated by ``,`` (or ``:``, as Ansible still
allows; not when the limit holds a ``,``), each one:

============  ===============================================================
``NAME``      a group (every host in it) or a host
``*``/``all``  every host
``web*``      wildcards (``*``, ``?``, ``[..]``) over group and host names
``~REGEX``    a regular expression over group and host names (``re.match``)
``&PAT``      intersection: only hosts also matched by ``PAT``
``!PAT``      exclusion: not the hosts matched by ``PAT``
============  ===============================================================

Subscripts (``group[0]``, ``group[0:2]``) are refused with a clear error. As Ansible does, plain patterns are applied first (their union), then the
``&`` patterns, then the ``!`` ones; a limit of only ``&``/``!`` patterns
starts from every host. Groups are the Ansible inventory's groups; for an
octavia-upgrade inventory they are its roles (``api``, ``worker``, …). A
pattern that matches nothing is an error (Ansible warns and runs nothing).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence

from octavia_upgrade.errors import InvalidInput, UnknownHosts
from octavia_upgrade.model import Inventory

_WILD = re.compile(r"[*?\[]")
_SUBSCRIPT = re.compile(r"^(.+)\[(-?\d*)(?::(-?\d*))?\]$")


def split(limit: str) -> list[str]:
    """``a:b,c`` → patterns; ``,`` wins over ``:`` (Ansible's own rule)."""
    text = limit.strip()
    if "," in text:
        parts = text.split(",")
    elif re.search(r"\[[^\]]*:[^\]]*\]", text) or text.count(":") > 1 and _is_ipv6(text):
        parts = [text]
    else:
        parts = text.split(":")
    return [p.strip() for p in parts if p.strip()]


def _is_ipv6(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9A-Fa-f:]+(%\w+)?", text))


def groups_of(inventory: Inventory) -> Mapping[str, tuple[str, ...]]:
    """The groups a pattern may name: the inventory's, else its roles."""
    if inventory.groups:
        return inventory.groups
    out: dict[str, list[str]] = {}
    for h in inventory.hosts:
        for role in h.roles:
            out.setdefault(role, []).append(h.name)
    return {g: tuple(hs) for g, hs in out.items()}


def select(inventory: Inventory, limit: str) -> list[str]:
    """The host names ``limit`` selects, in inventory order.

    Raises:
        UnknownHosts: a plain name that is neither a host nor a group.
        InvalidInput: a malformed pattern, or one that matches no host.
    """
    names = [h.name for h in inventory.hosts]
    groups = groups_of(inventory)
    patterns = split(limit)
    if not patterns:
        raise InvalidInput(f"--limit {limit!r}: no host pattern in it")
    for p in patterns:
        bare = p.lstrip("&!")
        if not bare:
            raise InvalidInput(f"--limit {limit!r}: {p!r} names no host or group")
        sub = _SUBSCRIPT.match(bare)
        if sub and sub.group(1) in groups:
            raise InvalidInput(f"--limit {limit!r}: subscripts ({bare}) are not supported; "
                               "name the hosts, or use a wildcard")
    plain = [p for p in patterns if not p.startswith(("&", "!"))]
    inter = [p[1:] for p in patterns if p.startswith("&")]
    excl = [p[1:] for p in patterns if p.startswith("!")]
    unknown = [p for p in plain + inter + excl
               if not _WILD.search(p) and not p.startswith("~") and p not in ("all", "*")
               and p not in groups and p not in names]
    if unknown:
        raise UnknownHosts(unknown, sorted(set(names) | set(groups)), inventory.path)
    chosen: set[str] = set() if plain else set(names)
    for p in plain:
        chosen |= _match(p, names, groups, limit)
    for p in inter:
        chosen &= _match(p, names, groups, limit)
    for p in excl:
        chosen -= _match(p, names, groups, limit)
    if not chosen:
        raise InvalidInput(f"--limit {limit!r} selects no host of {inventory.path}")
    return [n for n in names if n in chosen]


def _match(pattern: str, names: Sequence[str], groups: Mapping[str, Sequence[str]],
           limit: str) -> set[str]:
    if pattern in ("all", "*"):
        return set(names)
    if pattern.startswith("~"):
        try:
            rx = re.compile(pattern[1:])
        except re.error as exc:
            raise InvalidInput(f"--limit {limit!r}: bad regular expression "
                               f"{pattern[1:]!r}: {exc}") from None
        test = rx.match
    elif _WILD.search(pattern):
        def test(name: str) -> bool:  # type: ignore[misc]
            return fnmatch.fnmatchcase(name, pattern)
    else:
        def test(name: str) -> bool:  # type: ignore[misc]
            return name == pattern
    out = {n for n in names if test(n)}
    for group, members in groups.items():
        if test(group):
            out |= set(members)
    if not out and (_WILD.search(pattern) or pattern.startswith("~")):
        raise InvalidInput(f"--limit {limit!r}: pattern {pattern!r} matches no host or group")
    return out
