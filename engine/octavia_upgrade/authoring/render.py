"""Rendering every hop of the source and comparing with the committed runbooks.

The source lives in a checkout (``runbook-source/``): the shared procedure
``cold-upgrade.yaml`` and one overlay per hop in ``hops/``. Rendering is
pure (source text in, runbook text out); reading and writing files happens in
:func:`render_dir`, :func:`compare` and :func:`write`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from octavia_upgrade.authoring.emit import emit
from octavia_upgrade.authoring.merge import compose
from octavia_upgrade.authoring.source import load_hop, load_shared
from octavia_upgrade.catalog import Catalog
from octavia_upgrade.errors import InvalidInput

SHARED_FILE = "cold-upgrade.yaml"
HOPS_DIR = "hops"


@dataclass(frozen=True)
class Rendered:
    """One runbook rendered from the source: ``<name>.yaml`` with ``text``."""

    name: str
    text: str

    @property
    def filename(self) -> str:
        return f"{self.name}.yaml"


@dataclass(frozen=True)
class Difference:
    """A committed runbook that is not what the source renders."""

    path: str
    reason: str  # differs | missing | extra
    #: For ``differs``: a unified diff from the committed file to the rendered one.
    diff: str = ""

    def __str__(self) -> str:
        return {"differs": f"{self.path}: differs from its source (render it again)",
                "missing": f"{self.path}: missing (the source has this hop)",
                "extra": f"{self.path}: extra (no hop in the source renders it)"}[self.reason]


def default_source_dir() -> Path:
    """``runbook-source/`` of the checkout this package runs from."""
    return Path(__file__).resolve().parents[3] / "runbook-source"


def render_dir(source: Path, catalog: Catalog) -> list[Rendered]:
    """Every hop of ``source`` rendered, sorted by name."""
    shared_path = source / SHARED_FILE
    if not shared_path.is_file():
        raise InvalidInput(f"{shared_path}: no shared runbook source here (give --source DIR, "
                           "the folder with cold-upgrade.yaml and hops/)")
    shared = load_shared(shared_path, catalog)
    hops = sorted((source / HOPS_DIR).glob("*.yaml"))
    if not hops:
        raise InvalidInput(f"{source / HOPS_DIR}: no hop overlays (<from>-to-<to>.yaml)")
    rendered = []
    for path in hops:
        hop = load_hop(path, catalog)
        r = Rendered(hop.name, emit(compose(shared, hop, catalog)))
        _validate(r, hop.path, catalog)
        rendered.append(r)
    return rendered


def _validate(r: Rendered, source: str, catalog: Catalog) -> None:
    """Refuse to produce a runbook the engine would refuse (lint's checks)."""
    from octavia_upgrade import yamlpos
    from octavia_upgrade.errors import Diagnostic
    from octavia_upgrade.loader import check_document

    found = [d for d in check_document(yamlpos.loads(r.text, r.filename), catalog=catalog)
             if d.severity == "error"]
    if found:
        raise InvalidInput(f"{source}: the rendered runbook is invalid", [
            Diagnostic(source, 0, 0, d.rule, f"rendered {r.filename}:{d.line}:{d.col}: {d.message}")
            for d in found])


def compare(rendered: list[Rendered], output: Path) -> list[Difference]:
    """What differs between the rendered runbooks and the files in ``output``."""
    diffs: list[Difference] = []
    names = {r.filename for r in rendered}
    for r in rendered:
        path = output / r.filename
        if not path.is_file():
            diffs.append(Difference(str(path), "missing"))
        elif (committed := path.read_text(encoding="utf-8")) != r.text:
            diff = difflib.unified_diff(committed.splitlines(keepends=True),
                                        r.text.splitlines(keepends=True),
                                        f"{path} (committed)", f"{path} (rendered)")
            diffs.append(Difference(str(path), "differs", "".join(diff)))
    diffs += [Difference(str(p), "extra") for p in sorted(output.glob("*.yaml"))
              if p.name not in names]
    return diffs


def write(rendered: list[Rendered], output: Path) -> list[Path]:
    """Write every rendered runbook whose file differs; the paths written."""
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for r in rendered:
        path = output / r.filename
        if not path.is_file() or path.read_text(encoding="utf-8") != r.text:
            path.write_text(r.text, encoding="utf-8")
            written.append(path)
    return written
