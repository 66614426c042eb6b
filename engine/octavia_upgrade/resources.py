"""Locate the data shipped with the tool: runbooks, schemas, flavors, catalog.

In a wheel they live under ``octavia_upgrade/_shipped/``; in a source checkout
(editable install, tests) they are the repository's top-level folders.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


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
