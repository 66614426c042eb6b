"""``lint``: check runbooks, inventories and flavors without touching any host.

Each YAML file is loaded once; its top-level ``kind:`` (``Runbook``,
``Inventory``, ``Flavor``, ``RoleMap``) decides which schema and semantic
checks apply; a YAML Ansible inventory has no ``kind:`` and is recognised by
its shape. A file not named ``*.yaml``/``*.yml`` whose content is INI (as
``-i`` tells them apart) is read as an Ansible inventory, the way ``-i``
reads it (kolla-ansible ``multinode``). Directories are searched recursively
for ``*.yaml`` and ``*.yml`` (hidden folders such as ``.git`` are skipped).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octavia_upgrade.errors import Diagnostic, InvalidInput
from octavia_upgrade.yamlpos import Document

#: Top-level ``kind:`` → the checker for that kind of file.
KINDS = ("Runbook", "Inventory", "Flavor", "RoleMap")


@dataclass(frozen=True)
class LintResult:
    """What ``lint`` found: the files it read and every diagnostic, sorted."""

    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity == "warning")

    @property
    def ok(self) -> bool:
        return self.errors == 0


def collect(paths: Iterable[str | Path]) -> tuple[list[Path], list[Diagnostic]]:
    """Expand files and directories into YAML files; missing paths are diagnostics."""
    files: list[Path] = []
    missing: list[Diagnostic] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = [f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file()
                     and not any(part.startswith(".") for part in f.relative_to(p).parts[:-1])]
            files.extend(sorted(found))
        elif p.exists():
            files.append(p)
        else:
            missing.append(Diagnostic(str(raw), 0, 0, "missing-path",
                                      "no such file or directory"))
    seen: set[Path] = set()
    unique = []
    for f in files:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return unique, missing


def lint_file(path: str | Path) -> list[Diagnostic]:
    """Every diagnostic for one file, whatever its kind, sorted."""
    from octavia_upgrade import yamlpos

    name = str(path)
    if is_ini_inventory(Path(name)) or _is_json(Path(name)):
        return sorted(_ansible_diagnostics(name))
    try:
        doc = yamlpos.load(name)
    except InvalidInput as exc:
        if any(d.rule == "yaml-alias" for d in exc.diagnostics) and not _has_kind(Path(name)):
            # ansible-inventory --list --yaml output: aliases are read there (with a limit)
            return sorted(_ansible_diagnostics(name))
        return sorted(exc.diagnostics)
    return lint_document(doc)


def _head(path: Path) -> str:
    try:
        return path.read_bytes()[:65536].decode("utf-8", errors="replace")
    except OSError:
        return ""


def _is_json(path: Path) -> bool:
    """A JSON Ansible inventory (``ansible-inventory --list``), as ``-i`` decides: by content."""
    return _head(path).lstrip("\ufeff \t\r\n").startswith("{")


def _has_kind(path: Path) -> bool:
    import re

    return bool(re.search(r"(?m)^kind:", _head(path)))


def lint_document(doc: Document) -> list[Diagnostic]:
    """Dispatch a loaded document to the checks of its ``kind:``."""
    kind = doc.data.get("kind")
    checker = _checkers().get(kind) if isinstance(kind, str) else None
    if checker is None and _is_ansible_yaml(doc.data):
        checker = _check_ansible
    if checker is None:
        if "kind" in doc.data:
            pos = doc.pos(("kind",))
            close = difflib.get_close_matches(str(kind), KINDS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"unknown document kind {kind!r}{hint}; expected one of: {', '.join(KINDS)}"
        else:
            pos = doc.pos(())
            msg = f"no top-level 'kind:'; expected one of: {', '.join(KINDS)}"
        return [Diagnostic(doc.path, pos.line, pos.col, "unknown-document-kind", msg)]
    return checker(doc)


def lint_paths(paths: Sequence[str | Path]) -> LintResult:
    """Lint files and directories (recursively)."""
    files, diags = collect(paths)
    for f in files:
        diags.extend(lint_file(f))
    return LintResult(tuple(str(f) for f in files), tuple(sorted(set(diags))))


def format_text(diag: Diagnostic) -> str:
    """``path:line:col: rule: message``; warnings say so before the message."""
    if diag.severity == "error":
        return str(diag)
    return f"{diag.path}:{diag.line}:{diag.col}: {diag.rule}: {diag.severity}: {diag.message}"


def _checkers() -> dict[str, Callable[[Document], list[Diagnostic]]]:
    from octavia_upgrade import flavors, inventory, loader, schemas

    return {
        "Runbook": lambda d: loader.check_document(d),
        "Inventory": inventory.check_document,
        "Flavor": flavors.check_document,
        "RoleMap": lambda d: schemas.validate(d, "rolemap"),
    }


def _is_ansible_yaml(data: Any) -> bool:
    """An Ansible YAML inventory: groups mapping to hosts/children/vars, no ``kind:``;
    or the ``--list`` structure in YAML; or OSA's ``openstack_user_config.yml`` (refused
    there with what to give instead)."""
    from octavia_upgrade.ansible_script import is_script_format

    if not isinstance(data, dict) or not data or "kind" in data:
        return False
    if is_script_format(data) or "cidr_networks" in data or "global_overrides" in data:
        return True
    return all(isinstance(v, dict) and v and set(v) <= {"hosts", "children", "vars"}
               for v in data.values())


def is_ini_inventory(path: Path) -> bool:
    """An INI Ansible inventory: not named *.yaml/*.yml, and INI by content (as ``-i`` decides)."""
    from octavia_upgrade.ansible_inventory import looks_like_ini

    if path.suffix in (".yaml", ".yml", ".json"):
        return False
    try:
        head = path.read_bytes()[:65536].decode("utf-8", errors="replace")
    except OSError:
        return False
    return looks_like_ini(head)


def _check_ansible(doc: Document) -> list[Diagnostic]:
    return _ansible_diagnostics(doc.path)


def _ansible_diagnostics(path: str) -> list[Diagnostic]:
    """Read an Ansible inventory as ``-i`` does (format detected, no ssh_config)."""
    from octavia_upgrade.inventory_source import InventorySource, open_inventory

    try:
        inv = open_inventory(InventorySource(path, use_ssh_config=False))
    except InvalidInput as exc:
        return list(exc.diagnostics) or [
            Diagnostic(path, 1, 1, "ansible-inventory", str(exc))]
    return [Diagnostic(path, 1, 1, "ansible-not-honoured", w, "warning")
            for w in inv.warnings]
