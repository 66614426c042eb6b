"""Building a :class:`~octavia_upgrade.model.Runbook` from a checked document.

The loader (:mod:`octavia_upgrade.loader`) validates first; what reaches
:func:`build` has passed the schema and the semantic rules, so building only
converts: durations to seconds, ``with:`` to the kind's typed arguments,
release names to catalog series.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from octavia_upgrade import model
from octavia_upgrade.yamlpos import DataPath, Document

if TYPE_CHECKING:
    from octavia_upgrade.catalog import Catalog

SECTIONS = ("steps", "rollback", "finally")


def build(doc: Document, catalog: Catalog | None = None) -> model.Runbook:
    """Build a :class:`~octavia_upgrade.model.Runbook` from a document that passed
    :func:`check_document` without errors."""
    from octavia_upgrade.catalog import load_catalog

    cat = catalog or load_catalog()
    data = doc.data
    meta = data["metadata"]
    metadata = model.Metadata(
        name=meta["name"],
        from_=cat.get(str(meta["from"])).series,
        to=cat.get(str(meta["to"])).series,
        revision=int(meta["revision"]),
        description=str(meta.get("description") or ""),
        references=tuple(meta.get("references") or ()),
    )
    params = {
        name: model.Parameter(
            name=name,
            type=spec.get("type", "string"),
            default=copy.deepcopy(spec.get("default")),
            required=bool(spec.get("required", False)),
            secret=bool(spec.get("secret", False)),
            description=str(spec.get("description") or ""),
            pos=doc.key_pos(("parameters", name)),
        )
        for name, spec in (data.get("parameters") or {}).items()
    }
    sections = {s: tuple(_step(doc, (s, i), raw) for i, raw in enumerate(data.get(s) or ()))
                for s in SECTIONS}
    return model.Runbook(
        path=doc.path,
        sha256=doc.sha256,
        metadata=metadata,
        parameters=params,
        steps=sections["steps"],
        rollback=sections["rollback"],
        finally_=sections["finally"],
        max_failures=data.get("max_failures"),
    )


def _step(doc: Document, path: DataPath, raw: dict[str, Any]) -> model.Step:
    from octavia_upgrade.steps.args import parse as parse_args

    targets = raw.get("targets") or {}
    retry = raw.get("retry") or {}
    serial = raw.get("serial")
    when = raw.get("when")
    if isinstance(when, bool):
        when = "true" if when else "false"
    timeout = raw.get("timeout")
    return model.Step(
        id=raw["id"],
        kind=raw["kind"],
        name=str(raw.get("name") or raw["id"]),
        pos=doc.pos(path),
        targets=model.Targets(
            roles=tuple(targets.get("roles") or ()),
            hosts=tuple(targets.get("hosts") or ()),
            once=bool(targets.get("once", False)),
        ),
        args=parse_args(raw["kind"], copy.deepcopy(raw.get("with") or {})),
        serial=() if serial is None else tuple(serial) if isinstance(serial, list) else (serial,),
        timeout=None if timeout is None else model.parse_duration(timeout),
        retry=model.Retry(
            attempts=int(retry.get("attempts", 1)),
            delay=model.parse_duration(retry.get("delay", 0)),
            backoff=float(retry.get("backoff", 1)),
        ),
        when=when,
        on_failure=raw.get("on_failure", "abort"),
        idempotent=bool(raw.get("idempotent", False)),
        description=str(raw.get("description") or ""),
        data_plane_impact=raw.get("data_plane_impact"),
    )
