"""Building a :class:`~octavia_upgrade.model.Runbook` from a checked document.

The loader (:mod:`octavia_upgrade.loader`) validates first; what reaches
:func:`build` has passed the schema and the semantic rules, so building only
converts: durations to seconds, ``with:`` to the kind's typed arguments,
release names to catalog series, ``when:`` to a bare expression, and the
format's differences away (v1's bottom-up rollback list; v2's kind defaults
for ``timeout`` and ``retry``), so that nothing after it depends on the
format version.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

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
    version = str(data.get("apiVersion") or model.RUNBOOK_V1)
    v2 = version == model.RUNBOOK_V2
    sections = {s: tuple(_step(doc, (s, i), raw, v2=v2)
                         for i, raw in enumerate(data.get(s) or ()))
                for s in SECTIONS}
    # v1 lists rollback steps bottom-up (the first listed runs last); the model
    # holds every section in the order it runs.
    rollback = sections["rollback"] if v2 else tuple(reversed(sections["rollback"]))
    return model.Runbook(
        path=doc.path,
        sha256=doc.sha256,
        metadata=metadata,
        parameters=params,
        steps=sections["steps"],
        rollback=rollback,
        finally_=sections["finally"],
        max_failures=data.get("max_failures"),
        api_version=version,
    )


def expression(when: Any) -> str | None:
    """A ``when:`` as a bare expression: v1's ``"{{ x }}"`` becomes ``x``."""
    if when is None:
        return None
    if isinstance(when, bool):
        return "true" if when else "false"
    text = str(when).strip()
    if text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1:
        text = text[2:-2].strip()
    return text


def _step(doc: Document, path: DataPath, raw: dict[str, Any], *, v2: bool) -> model.Step:
    """One step. In v2, a step without ``timeout``/``retry`` takes its kind's defaults."""
    from octavia_upgrade.steps.args import parse as parse_args

    targets = raw.get("targets") or {}
    serial = raw.get("serial")
    args = parse_args(raw["kind"], copy.deepcopy(raw.get("with") or {}))
    timeout = (model.parse_duration(raw["timeout"]) if raw.get("timeout") is not None
               else args.default_timeout() if v2 else None)
    if raw.get("retry") is not None:
        retry = raw["retry"]
        policy = model.Retry(attempts=int(retry.get("attempts", 1)),
                             delay=model.parse_duration(retry.get("delay", 0)),
                             backoff=float(retry.get("backoff", 1)))
    else:
        policy = args.default_retry() if v2 else model.Retry()
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
        args=args,
        serial=() if serial is None else tuple(serial) if isinstance(serial, list) else (serial,),
        timeout=timeout,
        retry=policy,
        when=expression(raw.get("when")),
        on_failure=raw.get("on_failure", "abort"),
        idempotent=bool(raw.get("idempotent", False)),
        description=str(raw.get("description") or ""),
        data_plane_impact=raw.get("data_plane_impact"),
    )
