"""Merging the shared procedure with one hop's overlay: pure data in, data out.

Order of operations, each checked against what exists at that point:

1. the shared sections' steps whose ``only_if`` holds for the hop;
2. ``remove``: step ids the hop does not have;
3. ``insert``: ``move``d shared steps, then new ``steps``, at ``before``/
   ``after`` a step id or at the ``start``/``end`` of a section;
4. ``override``: fields of a step replaced (``with`` merged key by key;
   ``null`` removes a field or a ``with`` key);
5. per-kind ``defaults`` (shared, then the section's) fill fields a step
   does not set; ``null`` in a step keeps a default out;
6. ``${name}`` variables are substituted everywhere.

A wrong anchor, an override or removal of an unknown step and a step id used
twice are ``path:line:col: rule: message`` errors.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from octavia_upgrade.authoring.conditions import (
    ConditionError, builtin_vars, holds, substitute,
)
from octavia_upgrade.authoring.model import (
    Composed, HopSource, Section, SharedSource, SourceStep, Stage, Step,
)
from octavia_upgrade.authoring.source import fail
from octavia_upgrade.catalog import Catalog, Release
from octavia_upgrade.model import Pos


@dataclass
class _Entry:
    """A step while merging (mutable), with the place it was written."""

    id: str
    fields: dict[str, Any]
    comment: str
    pos: Pos


def compose(shared: SharedSource, hop: HopSource, catalog: Catalog) -> Composed:
    """The merged runbook of ``hop`` (format-neutral; see :mod:`.emit`)."""
    src, dst = catalog.get(hop.from_), catalog.get(hop.to)
    variables = _variables(shared, hop, src, dst, catalog)
    stages = {s.name: [_entry(st) for st in s.steps if holds(st.only_if, src, dst, catalog)]
              for s in shared.sections}
    for step_id, pos in hop.removals:
        section, index = _find(stages, step_id, pos, "unknown-step", "remove")
        del stages[section][index]
    for ins in hop.inserts:
        moved = []
        for step_id in ins.move:
            section, index = _find(stages, step_id, ins.pos, "unknown-step", "move")
            moved.append(stages[section].pop(index))
        new = [_entry(st) for st in ins.steps if holds(st.only_if, src, dst, catalog)]
        _check_new_ids(stages, moved + new)
        new = moved + new
        section, index = _anchor(stages, ins.where, ins.anchor, ins.pos)
        stages[section][index:index] = new
    for ov in hop.overrides:
        section, index = _find(stages, ov.step_id, ov.pos, "unknown-step", "override")
        entry = stages[section][index]
        entry.fields = _override(entry.fields, dict(ov.fields))
        if ov.comment is not None:
            entry.comment = ov.comment
    _check_unique(stages)
    return Composed(
        name=hop.name,
        header=_sub(_join(shared.header, hop.header), variables, hop.pos),
        metadata={"name": hop.name, "from": hop.from_, "to": hop.to, "revision": hop.revision,
                  "description": _sub(hop.description, variables, hop.pos),
                  "references": list(hop.references)},
        parameters=_parameters(shared, hop, src, dst, catalog, variables),
        max_failures=shared.max_failures,
        stages=tuple(_stage(s, stages[s.name], shared, variables) for s in shared.sections),
    )


def _entry(step: SourceStep) -> _Entry:
    return _Entry(step.id, copy.deepcopy(dict(step.fields)), step.comment, step.pos)


def _variables(shared: SharedSource, hop: HopSource, src: Release, dst: Release,
               catalog: Catalog) -> dict[str, Any]:
    variables = builtin_vars(src, dst, hop.migrations)
    for name, choices in shared.vars.items():
        chosen = next((c for c in choices if holds(c.only_if, src, dst, catalog)), None)
        if chosen is not None:
            variables[name] = _sub(chosen.value, variables, Pos(shared.path))
    for name, value in hop.vars.items():
        variables[name] = _sub(value, variables, hop.pos)
    return variables


def _sub(value: Any, variables: dict[str, Any], pos: Pos) -> Any:
    try:
        return substitute(value, variables)
    except ConditionError as exc:
        raise fail(pos.path, pos.line, pos.col, "source-variable", str(exc)) from None


def _join(*texts: str) -> str:
    return "\n".join(t.rstrip("\n") for t in texts if t)


def _where(stages: dict[str, list[_Entry]], step_id: str) -> tuple[str, int] | None:
    for name, entries in stages.items():
        for i, e in enumerate(entries):
            if e.id == step_id:
                return name, i
    return None


def _find(stages: dict[str, list[_Entry]], step_id: str, pos: Pos, rule: str,
          what: str) -> tuple[str, int]:
    found = _where(stages, step_id)
    if found is None:
        raise fail(pos.path, pos.line, pos.col, rule,
                   f"cannot {what} step {step_id!r}: this hop's runbook has no such step")
    return found


def _anchor(stages: dict[str, list[_Entry]], where: str, anchor: str,
            pos: Pos) -> tuple[str, int]:
    if where in ("start", "end"):
        if anchor not in stages:
            raise fail(pos.path, pos.line, pos.col, "unknown-anchor",
                       f"no section {anchor!r}; sections: {', '.join(stages)}")
        return anchor, 0 if where == "start" else len(stages[anchor])
    found = _where(stages, anchor)
    if found is None:
        raise fail(pos.path, pos.line, pos.col, "unknown-anchor",
                   f"{where}: {anchor!r} names no step of this hop's runbook")
    section, index = found
    return section, index + (1 if where == "after" else 0)


def _check_new_ids(stages: dict[str, list[_Entry]], new: list[_Entry]) -> None:
    seen: set[str] = set()
    for e in new:
        if e.id in seen or _where(stages, e.id) is not None:
            raise fail(e.pos.path, e.pos.line, e.pos.col, "duplicate-step-id",
                       f"step id {e.id!r} is used twice in this hop's runbook")
        seen.add(e.id)


def _check_unique(stages: dict[str, list[_Entry]]) -> None:
    seen: set[str] = set()
    for entries in stages.values():
        for e in entries:
            if e.id in seen:
                raise fail(e.pos.path, e.pos.line, e.pos.col, "duplicate-step-id",
                           f"step id {e.id!r} is used twice in this hop's runbook")
            seen.add(e.id)


def _override(fields: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    for key, value in changes.items():
        if key == "with" and isinstance(value, dict) and isinstance(out.get("with"), dict):
            merged = dict(out["with"])
            for k, v in value.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = copy.deepcopy(v)
            out["with"] = merged
        elif value is None:
            out[key] = None  # kept until the defaults are applied, then dropped
        else:
            out[key] = copy.deepcopy(value)
    return out


def _stage(section: Section, entries: list[_Entry], shared: SharedSource,
           variables: dict[str, Any]) -> Stage:
    steps = []
    for e in entries:
        kind = e.fields.get("kind")
        fields = {**shared.defaults.get(kind, {}), **section.defaults.get(kind, {}), **e.fields}
        fields = {k: v for k, v in fields.items() if v is not None}
        steps.append(Step(e.id, _sub(fields, variables, e.pos), _sub(e.comment, variables, e.pos)))
    return Stage(section.name, section.part, _sub(section.title, variables, section.pos),
                 _sub(section.comment, variables, section.pos), tuple(steps))


def _parameters(shared: SharedSource, hop: HopSource, src: Release, dst: Release,
                catalog: Catalog, variables: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, (spec, only_if, pos) in shared.parameters.items():
        if holds(only_if, src, dst, catalog):
            out[name] = _sub(dict(spec), variables, pos)
    for name, spec in hop.parameters.items():
        if spec is None:
            out.pop(name, None)
        else:
            out[name] = {**out.get(name, {}), **_sub(dict(spec), variables, hop.pos)}
    return out
