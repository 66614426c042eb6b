"""Reading Ansible inventories (INI or YAML) into hosts, groups and variables.

Only what an upgrade needs is read: group membership (``children``
included), and the variables of each host after Ansible's precedence (the
``all`` group first, then parent groups before child groups, then the host's
own variables), with the ``group_vars/`` and ``host_vars/`` folders beside
the file (:mod:`octavia_upgrade.ansible_varsdirs`). Nothing is templated or
executed; dynamic inventory scripts and plugins are not run (their output,
``ansible-inventory --list``, is read).

Why not ansible-core's own loader: importing ``ansible.inventory.manager``
costs about 0.5 s and pulls in all of ansible-core (measured in
``docs/decisions.md``), too much for every start of the tool and too big a
runtime dependency for reading a few groups. The INI dialect is read with the
standard library instead: :mod:`configparser` reads the sections and comments
(each line is kept whole as a key without a value), and :mod:`shlex` splits a
host line into the host name and its ``key=value`` variables, with the same
quoting rules Ansible's INI plugin applies (it uses ``shlex`` too). Values are
read as Python literals where they are ones (``ansible_port=2222`` → 2222),
as Ansible does. YAML inventories are read with positions (``yamlpos``).
"""

from __future__ import annotations

import ast
import configparser
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octavia_upgrade.errors import Diagnostic, InvalidInput
from octavia_upgrade.model import Pos

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_RANGE = re.compile(r"\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\]")

#: Most hosts one range pattern (``ctl[01:99]``, ranges multiplied) may name.
MAX_RANGE_HOSTS = 10_000


@dataclass(frozen=True)
class AnsibleHost:
    name: str
    vars: Mapping[str, Any]
    groups: tuple[str, ...]
    pos: Pos
    #: The host's own variables as the inventory states them (before group vars).
    own_vars: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnsibleInventory:
    """Hosts in file order; ``groups`` maps every group to its hosts (children included)."""

    path: str
    hosts: tuple[AnsibleHost, ...]
    groups: Mapping[str, tuple[str, ...]]
    group_pos: Mapping[str, Pos] = field(default_factory=dict)
    group_vars: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: What was found and not read (vault-encrypted variables files).
    warnings: tuple[str, ...] = ()

    def host(self, name: str) -> AnsibleHost:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)


class _Collect:
    """Groups, their direct hosts, children and vars, as the file states them."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.host_order: list[str] = []
        self.host_pos: dict[str, Pos] = {}
        self.host_vars: dict[str, dict[str, Any]] = {}
        self.group_hosts: dict[str, list[str]] = {"all": [], "ungrouped": []}
        self.children: dict[str, list[str]] = {"all": [], "ungrouped": []}
        self.group_vars: dict[str, dict[str, Any]] = {}
        self.group_pos: dict[str, Pos] = {}
        self._order: dict[str, int] | None = None
        self._listed: dict[str, set[str]] = {}

    def group(self, name: str, pos: Pos) -> None:
        self.group_hosts.setdefault(name, [])
        self.children.setdefault(name, [])
        self.group_pos.setdefault(name, pos)

    def add_host(self, group: str, name: str, hvars: Mapping[str, Any], pos: Pos) -> None:
        if name not in self.host_vars:
            self.host_order.append(name)
            self.host_pos[name] = pos
            self.host_vars[name] = {}
        self.host_vars[name].update(hvars)
        listed = self._listed.setdefault(group, set())
        if name not in listed:
            listed.add(name)
            self.group_hosts[group].append(name)

    def build(self) -> AnsibleInventory:
        # Top-level groups are children of "all"; hosts in no group are "ungrouped".
        child_of_someone = {c for cs in self.children.values() for c in cs}
        for g in self.group_hosts:
            if g not in ("all",) and g not in child_of_someone and g not in self.children["all"]:
                self.children["all"].append(g)
        grouped = {h for g, hs in self.group_hosts.items() if g not in ("all", "ungrouped")
                   for h in hs}
        for h in self.host_order:
            if h not in grouped and h not in self.group_hosts["ungrouped"]:
                self.group_hosts["ungrouped"].append(h)
        depth = self._depths()
        members = {g: self._members(g, set()) for g in self.group_hosts}
        # Host → its groups, built once (a generated inventory has thousands of hosts).
        host_groups: dict[str, list[str]] = {}
        for g, hs in members.items():
            for h in hs:
                host_groups.setdefault(h, []).append(g)
        hosts = []
        for name in self.host_order:
            groups = sorted(host_groups.get(name, ()), key=lambda g: (depth.get(g, 0), g))
            merged: dict[str, Any] = {}
            for g in groups:
                merged.update(self.group_vars.get(g, {}))
            merged.update(self.host_vars[name])
            hosts.append(AnsibleHost(name, merged, tuple(groups), self.host_pos[name],
                                     dict(self.host_vars[name])))
        return AnsibleInventory(self.path, tuple(hosts),
                                {g: tuple(hs) for g, hs in members.items()},
                                dict(self.group_pos), dict(self.group_vars))

    def _members(self, group: str, seen: set[str]) -> list[str]:
        if group in seen:
            return []
        seen.add(group)
        out = set(self.group_hosts.get(group, []))
        for child in self.children.get(group, []):
            out.update(self._members(child, seen))
        if self._order is None:
            self._order = {h: i for i, h in enumerate(self.host_order)}
        order = self._order
        return sorted(out, key=lambda h: order.get(h, 0))

    def _depths(self) -> dict[str, int]:
        depth = {"all": 0}
        frontier = ["all"]
        while frontier:
            nxt = []
            for g in frontier:
                for c in self.children.get(g, []):
                    if depth.get(c, -1) < depth[g] + 1 and depth[g] < 50:
                        depth[c] = depth[g] + 1
                        nxt.append(c)
            frontier = nxt
        return depth

    def fail(self, pos: Pos, rule: str, message: str) -> InvalidInput:
        return InvalidInput(f"inventory {self.path} is invalid",
                            [Diagnostic(self.path, pos.line, pos.col, rule, message)])


def literal(value: str) -> Any:
    """A variable's value as Ansible reads it from INI: a Python literal, else the text."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


def expand_ranges(pattern: str) -> list[str]:
    """``ctl[01:03]`` → ``ctl01, ctl02, ctl03`` (also ``[a:c]`` and a ``:step``).

    Raises:
        ValueError: a malformed range, or one that names more than
            :data:`MAX_RANGE_HOSTS` hosts (all ranges of the pattern together).
    """
    total = 1
    for m in _RANGE.finditer(pattern):
        total *= _range_size(pattern, m)
        if total > MAX_RANGE_HOSTS:
            raise ValueError(f"host range {pattern!r} names more than {MAX_RANGE_HOSTS} "
                             "hosts, the most one pattern may name")
    return _expand(pattern)


def _range_size(pattern: str, m: re.Match[str]) -> int:
    start, end, step = m.group(1), m.group(2), int(m.group(3) or 1)
    if step < 1:
        raise ValueError(f"bad host range in {pattern!r}: the step must be at least 1")
    if start.isdigit() and end.isdigit():
        return len(range(int(start), int(end) + 1, step))
    if start.isalpha() and end.isalpha():
        return len(range(ord(start), ord(end) + 1, step))
    raise ValueError(f"bad host range in {pattern!r}")


def _expand(pattern: str) -> list[str]:
    m = _RANGE.search(pattern)
    if not m:
        return [pattern]
    start, end, step = m.group(1), m.group(2), int(m.group(3) or 1)
    head, tail = pattern[:m.start()], pattern[m.end():]
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") else 0
        items = [str(i).zfill(width) for i in range(int(start), int(end) + 1, step)]
    elif start.isalpha() and end.isalpha():
        items = [chr(i) for i in range(ord(start), ord(end) + 1, step)]
    else:
        raise ValueError(f"bad host range in {pattern!r}")
    return [x for item in items for x in _expand(head + item + tail)]


def read_ini(path: str, text: str) -> AnsibleInventory:
    """An Ansible INI inventory."""
    parser = configparser.ConfigParser(
        allow_no_value=True, delimiters=("\0",), comment_prefixes=("#", ";"),
        inline_comment_prefixes=None, strict=False, interpolation=None,
        empty_lines_in_values=False, default_section="\0")
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    # Hosts listed before any section are ungrouped, as in Ansible.
    head = "" if _first_is_section(text) else "[ungrouped]\n"
    lines = _line_numbers(text, offset=0)
    try:
        parser.read_string(head + text, source=path)
    except configparser.Error as exc:
        line = getattr(exc, "lineno", 1) - (1 if head else 0)
        raise InvalidInput(f"inventory {path} is invalid", [Diagnostic(
            path, max(line, 1), 1, "ansible-ini", _first_line(str(exc)))]) from None
    out = _Collect(path)
    for section in parser.sections():
        name, _, kind = section.partition(":")
        name = name.strip()
        spos = lines.get((section, None), Pos(path, 1, 1))
        out.group(name, spos)
        for entry in parser[section]:
            pos = lines.get((section, entry.strip()), spos)
            if kind == "vars":
                key, sep, value = entry.partition("=")
                if not sep or not key.strip():
                    raise out.fail(pos, "ansible-ini", f"[{section}] expects key=value lines, "
                                   f"got {entry!r}")
                value = literal(value.strip())
                _check_nul(out, pos, key.strip(), value)
                out.group_vars.setdefault(name, {})[key.strip()] = value
            elif kind == "children":
                child = entry.strip()
                out.group(child, pos)
                if child not in out.children[name]:
                    out.children[name].append(child)
            elif kind:
                raise out.fail(spos, "ansible-ini", f"unknown section kind [{section}] "
                               "(use [group], [group:vars] or [group:children])")
            else:
                _host_line(out, name, entry, pos)
    return out.build()


def _host_line(out: _Collect, group: str, entry: str, pos: Pos) -> None:
    try:
        words = shlex.split(entry, comments=True)
    except ValueError as exc:
        raise out.fail(pos, "ansible-ini", f"cannot split host line {entry!r}: {exc}") from None
    if not words:
        return
    hvars: dict[str, Any] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise out.fail(pos, "ansible-ini", f"host {words[0]}: expected key=value, got "
                           f"{word!r}")
        hvars[key] = literal(value)
        _check_nul(out, pos, key, hvars[key])
    _check_nul(out, pos, "host name", words[0])
    try:
        names = expand_ranges(words[0])
    except ValueError as exc:
        raise out.fail(pos, "host-range", str(exc)) from None
    for name in names:
        out.add_host(group, name, hvars, pos)


def _check_nul(out: _Collect, pos: Pos, key: str, value: Any) -> None:
    """A NUL character can reach no command or file name: refused where it is written."""
    if isinstance(value, (list, tuple, set, dict)):
        for v in (value.values() if isinstance(value, dict) else value):
            _check_nul(out, pos, key, v)
    elif isinstance(value, (str, bytes)) and ("\0" in value if isinstance(value, str)
                                               else b"\0" in value):
        raise out.fail(pos, "nul-byte", f"{key}: a NUL character (\\0) is not allowed in a "
                       "value")


def _first_is_section(text: str) -> bool:
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith(("#", ";")):
            return s.startswith("[")
    return True


def _line_numbers(text: str, offset: int) -> dict[tuple[str, str | None], Pos]:
    """Where each section header and entry line is, for messages (configparser keeps none)."""
    out: dict[tuple[str, str | None], Pos] = {}
    section = "ungrouped"
    for number, line in enumerate(text.splitlines(), start=1 + offset):
        m = _SECTION.match(line)
        stripped = line.strip()
        if m:
            section = m.group(1)
            out.setdefault((section, None), Pos("", number, line.index("[") + 1))
        elif stripped and not stripped.startswith(("#", ";")):
            out.setdefault((section, stripped), Pos("", number, len(line) - len(line.lstrip()) + 1))
    return out


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unreadable INI"


def read_yaml(doc: Any) -> AnsibleInventory:
    """An Ansible YAML inventory (a positioned ``yamlpos`` document)."""
    out = _Collect(doc.path)
    data = doc.data
    if not isinstance(data, dict):
        raise out.fail(doc.pos(()), "ansible-yaml", "an Ansible YAML inventory is a mapping "
                       "of groups (e.g. all: {children: ...})")
    for name, body in data.items():
        _yaml_group(out, doc, name, body, (name,))
    return out.build()


def _yaml_group(out: _Collect, doc: Any, name: str, body: Any, path: tuple[Any, ...]) -> None:
    out.group(str(name), _fix(doc.key_pos(path), doc.path))
    if body is None:
        return
    if not isinstance(body, dict):
        raise out.fail(_fix(doc.pos(path), doc.path), "ansible-yaml",
                       f"group {name}: expected a mapping with hosts, vars or children")
    for key in body:
        if key not in ("hosts", "vars", "children"):
            raise out.fail(_fix(doc.key_pos((*path, key)), doc.path), "ansible-yaml",
                           f"group {name}: unknown key {key!r} (hosts, vars, children)")
    hosts = body.get("hosts") or {}
    if not isinstance(hosts, dict):
        raise out.fail(_fix(doc.pos((*path, "hosts")), doc.path), "ansible-yaml",
                       f"group {name}: hosts must be a mapping of host names")
    for host, hvars in hosts.items():
        pos = _fix(doc.key_pos((*path, "hosts", host)), doc.path)
        if hvars is not None and not isinstance(hvars, dict):
            raise out.fail(pos, "ansible-yaml", f"host {host}: variables must be a mapping")
        try:
            names = expand_ranges(str(host))
        except ValueError as exc:
            raise out.fail(pos, "host-range", str(exc)) from None
        for h in names:
            out.add_host(str(name), h, dict(hvars or {}), pos)
    gvars = body.get("vars") or {}
    if not isinstance(gvars, dict):
        raise out.fail(_fix(doc.pos((*path, "vars")), doc.path), "ansible-yaml",
                       f"group {name}: vars must be a mapping")
    out.group_vars.setdefault(str(name), {}).update(gvars)
    children = body.get("children") or {}
    if not isinstance(children, dict):
        raise out.fail(_fix(doc.pos((*path, "children")), doc.path), "ansible-yaml",
                       f"group {name}: children must be a mapping of groups")
    for child, cbody in children.items():
        if str(child) not in out.children[str(name)]:
            out.children[str(name)].append(str(child))
        _yaml_group(out, doc, str(child), cbody, (*path, "children", child))


def _fix(pos: Pos, path: str) -> Pos:
    return Pos(path, pos.line, pos.col)


#: Most values aliases in an Ansible YAML inventory may expand to
#: (``ansible-inventory --list --yaml`` anchors the variables hosts share).
MAX_ALIAS_NODES = 200_000

#: Largest Ansible inventory read: generated ones (OpenStack-Ansible's
#: ``openstack_inventory.json`` of a large cloud) outgrow the 1 MiB of other inputs.
MAX_INVENTORY_BYTES = 16 * 1024 * 1024


def read(path: str | Path) -> AnsibleInventory:
    """An Ansible inventory file, told apart by its content: JSON (``ansible-inventory
    --list``, OpenStack-Ansible's ``openstack_inventory.json``), INI or YAML (the YAML
    inventory format, aliases allowed, or the ``--list`` structure written as YAML),
    with the ``group_vars/`` and ``host_vars/`` folders beside it (``ansible_varsdirs``).

    Raises:
        InvalidInput: a file that cannot be read as any of them, with its position;
            OpenStack-Ansible's ``openstack_user_config.yml`` (``osa-user-config``).
    """
    from octavia_upgrade import ansible_script, ansible_varsdirs, yamlpos

    name = str(path)
    raw = yamlpos.read_input(name, MAX_INVENTORY_BYTES)
    text = raw.decode("utf-8", errors="replace")
    if text.lstrip("\ufeff \t\r\n").startswith("{"):
        return ansible_varsdirs.apply(
            ansible_script.read_script(ansible_script.load_json(name, text)))
    if looks_like_ini(text):
        if "\0" in text:
            offset = text.index("\0")
            line = text.count("\n", 0, offset) + 1
            col = offset - (text.rfind("\n", 0, offset) + 1) + 1
            raise InvalidInput(f"inventory {name} is invalid", [Diagnostic(
                name, line, col, "nul-byte", "a NUL character is not allowed in an inventory")])
        inv = read_ini(name, text)
        # Positions from the line scan carry no path yet.
        return ansible_varsdirs.apply(AnsibleInventory(inv.path, tuple(
            AnsibleHost(h.name, h.vars, h.groups, _fix(h.pos, name), h.own_vars)
            for h in inv.hosts),
            inv.groups, {g: _fix(p, name) for g, p in inv.group_pos.items()}, inv.group_vars))
    doc = yamlpos.loads(raw, name, max_alias_nodes=MAX_ALIAS_NODES)
    ansible_script.refuse_osa_user_config(doc)
    if ansible_script.is_script_format(doc.data):
        return ansible_varsdirs.apply(ansible_script.read_script(doc))
    return ansible_varsdirs.apply(read_yaml(doc))


def looks_like_ini(text: str) -> bool:
    """INI when the first meaningful line is a ``[section]`` or a bare host line."""
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith(("#", ";")) or s == "---":
            if s == "---":
                return False
            continue
        # A YAML mapping starts with "key:" followed by a space or the line's end.
        return bool(_SECTION.match(s)) or not re.match(r"^[^\s#]+:(\s|$)", s)
    return False
