"""Ansible inventories in the dynamic-inventory ("script") format, JSON or YAML.

This is what ``ansible-inventory --list`` prints and what OpenStack-Ansible's
``dynamic_inventory.py`` writes to ``/etc/openstack_deploy/openstack_inventory.json``::

    {"_meta": {"hostvars": {"infra1-octavia-server-container-1a2b3c4d": {...}}},
     "all": {"children": ["ungrouped", "octavia_all"]},
     "octavia_all": {"children": ["octavia_api", "octavia_worker"]},
     "octavia_api": {"hosts": ["infra1-octavia-server-container-1a2b3c4d"]},
     "ungrouped": ["host-in-no-group"]}

Each top-level key but ``_meta`` is a group: a list of host names, or a
mapping with ``hosts`` (list), ``children`` (list) and ``vars`` (mapping).
``_meta.hostvars`` holds each host's own variables, as Ansible's script
inventory plugin reads them. The same structure written as YAML (a JSON file
converted) is read the same way.

A JSON file is read with :mod:`json` (positions from the YAML reader when it
can parse the text too, which it can for ``json.dumps(indent=...)`` output).
"""

from __future__ import annotations

import json
from typing import Any

from octavia_upgrade.ansible_inventory import AnsibleInventory, _Collect, _check_nul, _fix
from octavia_upgrade.errors import Diagnostic, InvalidInput
from octavia_upgrade.model import Pos

_GROUP_KEYS = ("hosts", "children", "vars")


def is_script_format(data: Any) -> bool:
    """Whether parsed data is in the script format rather than Ansible's YAML format.

    ``_meta`` at the top; or every top-level value a group of the script format
    (a list of host names, or a mapping of ``hosts``/``children``/``vars``) and
    at least one using a list where the YAML format has a mapping.
    """
    if not isinstance(data, dict) or not data:
        return False
    if "_meta" in data:
        return True
    listed = False
    for body in data.values():
        if isinstance(body, list) and all(isinstance(h, str) for h in body):
            listed = True
        elif isinstance(body, dict) and set(body) <= set(_GROUP_KEYS):
            listed = listed or any(isinstance(body.get(k), list) for k in ("hosts", "children"))
        elif body is not None:
            return False
    return listed


def load_json(path: str, text: str) -> Any:
    """A JSON inventory file as a positioned document (positions where the YAML reader
    can parse the text; else without positions).

    Raises:
        InvalidInput: not valid JSON (``path:line:col``), or a NUL character.
    """
    from octavia_upgrade import yamlpos

    text = text.removeprefix("\ufeff")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"inventory {path} is invalid", [Diagnostic(
            path, exc.lineno, exc.colno, "ansible-json", f"not valid JSON: {exc.msg}")]) from None
    except RecursionError:
        raise InvalidInput(f"inventory {path} is invalid", [Diagnostic(
            path, 1, 1, "ansible-json", "JSON nested too deeply")]) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"inventory {path} is invalid", [Diagnostic(
            path, 1, 1, "ansible-json", "a JSON inventory is an object of groups "
            "(and _meta.hostvars), as ansible-inventory --list prints it")])
    if len(text) > yamlpos.MAX_FILE_BYTES:
        _refuse_nul(path, data)  # too big to read twice: no positions
        return yamlpos.Document(path, data, "", text)
    try:
        return yamlpos.loads(text, path)
    except InvalidInput as exc:
        if any(d.rule != "yaml-syntax" for d in exc.diagnostics):
            raise  # a duplicate key, a NUL character: the same fault in JSON
    _refuse_nul(path, data)
    return yamlpos.Document(path, data, "", text)


def _refuse_nul(path: str, data: Any) -> None:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack += list(value.keys()) + list(value.values())
        elif isinstance(value, list):
            stack += value
        elif isinstance(value, str) and "\0" in value:
            raise InvalidInput(f"inventory {path} is invalid", [Diagnostic(
                path, 1, 1, "nul-byte", "a NUL character (\\0) is not allowed in a value")])


def read_script(doc: Any) -> AnsibleInventory:
    """The script-format inventory held by ``doc`` (a ``yamlpos`` document)."""
    out = _Collect(doc.path)
    data = doc.data

    def fail(where: tuple[Any, ...], message: str, *, key: bool = False) -> InvalidInput:
        pos = doc.key_pos(where) if key else doc.pos(where)
        return out.fail(_fix(pos, doc.path), "ansible-json", message)

    meta = data.get("_meta") or {}
    if not isinstance(meta, dict):
        raise fail(("_meta",), "_meta must be a mapping with hostvars")
    hostvars = meta.get("hostvars") or {}
    if not isinstance(hostvars, dict):
        raise fail(("_meta", "hostvars"), "_meta.hostvars must map host names to variables")
    for host, hvars in hostvars.items():
        if hvars is not None and not isinstance(hvars, dict):
            raise fail(("_meta", "hostvars", host), f"_meta.hostvars.{host}: the variables "
                       "must be a mapping")
    for name, body in data.items():
        if name == "_meta":
            continue
        _group(out, doc, str(name), body, hostvars, fail)
    return out.build()


def _group(out: _Collect, doc: Any, name: str, body: Any, hostvars: dict[str, Any],
           fail: Any) -> None:
    out.group(name, _fix(doc.key_pos((name,)), doc.path))
    if body is None:
        return
    if isinstance(body, list):
        body = {"hosts": body}
        where: tuple[Any, ...] = (name,)
    elif isinstance(body, dict):
        for key in body:
            if key not in _GROUP_KEYS:
                raise fail((name, key), f"group {name}: unknown key {key!r} "
                           f"({', '.join(_GROUP_KEYS)})", key=True)
        where = (name, "hosts")
    else:
        raise fail((name,), f"group {name}: expected a list of hosts or a mapping with "
                   "hosts, children and vars")
    hosts = body.get("hosts") or []
    if not isinstance(hosts, list):
        raise fail(where, f"group {name}: hosts must be a list of host names")
    for i, host in enumerate(hosts):
        if not isinstance(host, str) or not host:
            raise fail((*where, i), f"group {name}: host {host!r} is not a host name")
        pos = _host_pos(doc, host, (*where, i))
        hvars = dict(hostvars.get(host) or {})
        for key, value in hvars.items():
            _check_nul(out, pos, key, value)
        out.add_host(name, host, hvars, pos)
    children = body.get("children") or []
    if not isinstance(children, list) or not all(isinstance(c, str) for c in children):
        raise fail((name, "children"), f"group {name}: children must be a list of group names")
    for child in children:
        out.group(child, _fix(doc.pos((name, "children")), doc.path))
        if child not in out.children[name]:
            out.children[name].append(child)
    gvars = body.get("vars") or {}
    if not isinstance(gvars, dict):
        raise fail((name, "vars"), f"group {name}: vars must be a mapping")
    out.group_vars.setdefault(name, {}).update(gvars)


def _host_pos(doc: Any, host: str, listed: tuple[Any, ...]) -> Pos:
    """Where a host is described: its ``_meta.hostvars`` entry, else where it is listed."""
    if doc.has(("_meta", "hostvars", host)):
        return _fix(doc.key_pos(("_meta", "hostvars", host)), doc.path)
    return _fix(doc.pos(listed), doc.path)


#: Top-level keys only OpenStack-Ansible's ``openstack_user_config.yml`` (and its
#: ``conf.d/*.yml`` fragments) have.
_USER_CONFIG_KEYS = ("cidr_networks", "used_ips", "global_overrides")


def refuse_osa_user_config(doc: Any) -> None:
    """Refuse OpenStack-Ansible's ``openstack_user_config.yml``: the generator's input.

    It names physical hosts by group (``octavia-infra_hosts: {infra1: {ip: ...}}``),
    not the containers that run Octavia; the inventory OSA generates from it
    does, and is what to give instead.

    Raises:
        InvalidInput: ``doc`` looks like that file (rule ``osa-user-config``).
    """
    data = doc.data
    if not isinstance(data, dict):
        return
    found = [k for k in data if k in _USER_CONFIG_KEYS]
    found += [k for k, v in data.items() if str(k).endswith("_hosts") and isinstance(v, dict)
              and v and all(isinstance(h, dict) and "ip" in h for h in v.values())]
    if not found:
        return
    pos = _fix(doc.key_pos((found[0],)), doc.path)
    raise InvalidInput(f"inventory {doc.path} is invalid", [Diagnostic(
        doc.path, pos.line, pos.col, "osa-user-config",
        f"this is OpenStack-Ansible's openstack_user_config.yml (key {found[0]!r}), the "
        "input of OSA's inventory generator, not an inventory: give the inventory it "
        "generates, -i /etc/openstack_deploy/openstack_inventory.json")])
