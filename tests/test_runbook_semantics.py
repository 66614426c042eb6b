"""The shipped runbooks as the engine loads them, frozen.

The committed runbooks are rendered from ``runbook-source/``. Whatever the
renderer or the source's layout changes in the text (comments, key order,
quoting, line folding), the runbook the engine loads must not change unless
the change is meant: this test compares every field of every loaded runbook
(metadata, parameters, steps, rollback, finally, max_failures; not the file's
path, hash or line numbers) with ``tests/golden/runbooks/loaded.json``.
Regenerate with ``UPDATE_GOLDEN=1`` after reviewing a meant change.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from octavia_upgrade.loader import load_runbook
from octavia_upgrade.model import Pos, Runbook

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "runbooks" / "loaded.json"
RUNBOOKS = sorted(p.stem for p in (ROOT / "runbooks").glob("*.yaml"))

#: Where a runbook was read from, where each value was written and in which format
#: version: not semantics.
_LOCATION = ("path", "sha256", "pos", "api_version")


def semantics(value: Any) -> Any:
    """A loaded object as plain JSON data, without paths, hashes and positions."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, Pos):
            return None
        return {f.name: semantics(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in _LOCATION}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): semantics(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [semantics(v) for v in value]
    return value


def _loaded(name: str) -> dict[str, Any]:
    rb: Runbook = load_runbook(ROOT / "runbooks" / f"{name}.yaml")
    return semantics(rb)


def _dump(golden: dict[str, dict[str, Any]]) -> str:
    """JSON with one line per step and per parameter: a change reads as a one-line diff."""
    def one(v: Any) -> str:
        return json.dumps(v, sort_keys=True)

    books = []
    for name in sorted(golden):
        fields = []
        for key, value in sorted(golden[name].items()):
            if isinstance(value, list) and value and isinstance(value[0], dict):
                inner = ",\n".join(f"   {one(v)}" for v in value)
                fields.append(f"  {one(key)}: [\n{inner}\n  ]")
            elif key == "parameters":
                inner = ",\n".join(f"   {one(k)}: {one(v)}" for k, v in sorted(value.items()))
                fields.append(f"  {one(key)}: {{\n{inner}\n  }}")
            else:
                fields.append(f"  {one(key)}: {one(value)}")
        books.append(f" {one(name)}: {{\n" + ",\n".join(fields) + "\n }")
    return "{\n" + ",\n".join(books) + "\n}\n"


def test_golden_covers_every_shipped_runbook() -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(_dump({n: _loaded(n) for n in RUNBOOKS}), encoding="utf-8")
    assert sorted(json.loads(GOLDEN.read_text(encoding="utf-8"))) == RUNBOOKS
    assert len(RUNBOOKS) == 18


@pytest.mark.parametrize("name", RUNBOOKS)
def test_loaded_runbook_is_unchanged(name: str) -> None:
    frozen = json.loads(GOLDEN.read_text(encoding="utf-8"))[name]
    # Through JSON too, so that tuples and lists compare alike.
    assert json.loads(json.dumps(_loaded(name), sort_keys=True)) == frozen
