"""Locate the data shipped with the tool: runbooks, schemas, flavors, examples, catalog.

In a wheel they live under ``octavia_upgrade/_shipped/``; in a source checkout
(editable install, tests) they are the repository's top-level folders.

Shipped runbooks are addressable by name: :func:`resolve_runbook` turns
``dalmatian-to-epoxy`` into the shipped file, while a path that exists always
wins.
"""

from __future__ import annotations

import difflib
import os
from functools import cache
from pathlib import Path

from octavia_upgrade.errors import InvalidInput

_PACKAGE = Path(__file__).resolve().parent

#: ``octavia-upgrade example NAME`` → the shipped file, relative to its data folder.
EXAMPLES: dict[str, tuple[str, str]] = {
    "inventory": ("inventory", "native/inventory.yaml"),
    "kolla": ("inventory", "kolla/multinode"),
    "osa": ("inventory", "osa/inventory.yaml"),
    "config": ("etc", "octavia-upgrade.conf.sample"),
}


@cache
def _root(name: str) -> Path:
    shipped = _PACKAGE / "_shipped" / name
    if shipped.is_dir():
        return shipped
    checkout = _PACKAGE.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"octavia-upgrade is installed without its {name}/ folder")


def data_path(name: str) -> Path:
    """A file of package data (``engine/octavia_upgrade/data/``)."""
    return _PACKAGE / "data" / name


def runbooks_dir() -> Path:
    return _root("runbooks")


def schemas_dir() -> Path:
    return _root("schemas")


def inventory_dir() -> Path:
    return _root("inventory")


def flavors_dir() -> Path:
    return inventory_dir() / "flavors"


def example_path(name: str) -> Path:
    """The shipped example ``name`` (a key of :data:`EXAMPLES`)."""
    folder, rel = EXAMPLES[name]
    return _root(folder) / rel


def shipped_runbooks() -> list[Path]:
    """Every shipped runbook file, sorted by name."""
    return sorted(runbooks_dir().glob("*.yaml"))


def is_runbook_name(arg: str) -> bool:
    """True when ``arg`` names a runbook rather than a path: no folder, no .yaml suffix."""
    return bool(arg) and os.sep not in arg and "/" not in arg and \
        not arg.endswith((".yaml", ".yml"))


def resolve_runbook(arg: str) -> Path:
    """The runbook file ``arg`` names: an existing path, else a shipped runbook's name.

    Raises:
        InvalidInput: neither a file nor a shipped runbook (the closest names are given).
    """
    path = Path(arg).expanduser()
    if path.is_dir():
        raise InvalidInput(f"runbook {arg}: is a folder; give one runbook file or name")
    if path.exists():
        return path  # a FIFO or device too: reading it refuses it with the reason
    shipped = {p.stem: p for p in shipped_runbooks()}
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    if is_runbook_name(arg):
        if stem in shipped:
            return shipped[stem]
        chain = _chain(stem, list(shipped))
        close = difflib.get_close_matches(stem, list(shipped), n=3, cutoff=0.6)
        hint = (f"upgrades are sequential: use {', then '.join(chain)}" if chain else
                f"closest: {', '.join(close)}" if close else
                "shipped runbooks are named FROM-to-TO, e.g. dalmatian-to-epoxy")
        raise InvalidInput(f"unknown runbook {arg!r}: no such file and no shipped runbook of "
                           f"that name; {hint}")
    hint = f" (the shipped runbook of that name is `{stem}`)" if stem in shipped else ""
    raise InvalidInput(f"runbook {arg}: no such file{hint}")


def _chain(name: str, shipped: list[str]) -> list[str]:
    """The shipped runbooks that lead from FROM to TO of ``FROM-to-TO``, if any."""
    start, sep, end = name.partition("-to-")
    hop = dict(n.split("-to-", 1) for n in shipped if "-to-" in n)
    chain: list[str] = []
    at = start
    while sep and at in hop and len(chain) < len(hop):
        chain.append(f"{at}-to-{hop[at]}")
        at = hop[at]
        if at == end:
            return chain
    return []
