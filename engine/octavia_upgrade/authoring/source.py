"""Loading the runbook source: the shared procedure and the hop overlays.

Both are YAML read with :mod:`octavia_upgrade.yamlpos` (positions kept,
duplicate keys, aliases and custom tags refused). Every structural mistake is
an :class:`~octavia_upgrade.errors.InvalidInput` whose diagnostics read
``path:line:col: rule: message``. Whether an anchor or an overridden step
exists is checked when merging (:mod:`octavia_upgrade.authoring.merge`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from octavia_upgrade import yamlpos
from octavia_upgrade.authoring.conditions import ConditionError, check_condition
from octavia_upgrade.authoring.model import (
    Choice, Folded, HopSource, Insert, Override, Section, SharedSource, SourceStep,
)
from octavia_upgrade.catalog import Catalog
from octavia_upgrade.errors import ErrorList, InvalidInput
from octavia_upgrade.yamlpos import DataPath, Document

SHARED_KIND = "RunbookSource"
HOP_KIND = "RunbookHop"

#: Fields of a runbook step (format v1), in the order the emitter writes them.
STEP_FIELDS = ("id", "name", "kind", "targets", "when", "with", "serial", "timeout", "retry",
               "idempotent", "on_failure", "data_plane_impact", "description")
#: Source-only keys of a step: the comment above it and conditions on the hop.
STEP_AUTHORING = ("comment", "only_if")
_SHARED_KEYS = ("kind", "header", "vars", "parameters", "max_failures", "defaults",
                "steps", "rollback", "finally")
_SECTION_KEYS = ("section", "title", "comment", "defaults", "steps")
_HOP_KEYS = ("kind", "from", "to", "revision", "migrations", "description", "references",
             "header", "vars", "parameters", "insert", "override", "remove")
_INSERT_ANCHORS = ("before", "after", "start", "end")


class _Reader:
    """Collects every diagnostic of one document before failing."""

    def __init__(self, doc: Document, catalog: Catalog) -> None:
        self.doc = doc
        self.catalog = catalog
        self.errors = ErrorList()

    def fail(self, path: DataPath, rule: str, message: str, *, key: bool = False) -> None:
        pos = self.doc.key_pos(path) if key else self.doc.pos(path)
        self.errors.add(self.doc.path, pos.line, pos.col, rule, message)

    def keys(self, value: dict[str, Any], path: DataPath, allowed: tuple[str, ...],
             what: str) -> None:
        for k in value:
            if k not in allowed:
                self.fail(path + (k,), "source-unknown-key",
                          f"unknown key {k!r} in {what}; allowed: {', '.join(allowed)}", key=True)

    def typed(self, value: Any, path: DataPath, kind: type | tuple[type, ...],
              what: str) -> bool:
        if isinstance(value, kind):
            return True
        names = {dict: "a mapping", list: "a list", str: "a string", int: "an integer"}
        want = " or ".join(names.get(k, k.__name__) for k in
                           (kind if isinstance(kind, tuple) else (kind,)))
        self.fail(path, "source-type", f"{what} must be {want}")
        return False

    def conditions(self, value: Any, path: DataPath) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(c, str) for c in items):
            self.fail(path, "source-type", "only_if must be a condition or a list of conditions")
            return ()
        for i, cond in enumerate(items):
            try:
                check_condition(cond, self.catalog)
            except ConditionError as exc:
                self.fail(path if isinstance(value, str) else path + (i,),
                          "source-condition", str(exc))
        return tuple(items)

    def step(self, raw: Any, path: DataPath, *, partial: bool = False) -> SourceStep | None:
        if not self.typed(raw, path, dict, "a step"):
            return None
        allowed = STEP_FIELDS + STEP_AUTHORING if not partial else \
            tuple(f for f in STEP_FIELDS if f != "id") + ("comment",)
        self.keys(raw, path, allowed, "a step override" if partial else "a step")
        if not partial and not isinstance(raw.get("id"), str):
            self.fail(path, "source-missing", "a step needs an 'id' (a string)")
            return None
        comment = raw.get("comment", "")
        if comment is not None and not isinstance(comment, str):
            self.fail(path + ("comment",), "source-type", "comment must be a string")
            comment = ""
        only_if = self.conditions(raw["only_if"], path + ("only_if",)) if "only_if" in raw else ()
        when = raw.get("when")
        if isinstance(when, str) and when.strip().startswith("{{"):
            self.fail(path + ("when",), "source-when",
                      "write `when` bare, like `that` (e.g. `when: params.backup`): "
                      "the rendered runbook adds the braces")
        fields = {k: v for k, v in raw.items() if k in STEP_FIELDS}
        return SourceStep(str(raw.get("id", "")), fields, self.doc.pos(path), comment or "",
                          only_if)

    def steps(self, raw: Any, path: DataPath) -> tuple[SourceStep, ...]:
        if not self.typed(raw, path, list, "steps"):
            return ()
        return tuple(s for i, item in enumerate(raw)
                     if (s := self.step(item, path + (i,))) is not None)

    def defaults(self, raw: Any, path: DataPath) -> dict[str, dict[str, Any]]:
        if raw is None or not self.typed(raw, path, dict, "defaults (kind → fields)"):
            return {}
        out: dict[str, dict[str, Any]] = {}
        for kind, fields in raw.items():
            if self.typed(fields, path + (kind,), dict, f"defaults of {kind!r}"):
                self.keys(fields, path + (kind,), STEP_FIELDS[3:], f"defaults of {kind!r}")
                out[kind] = dict(fields)
        return out

    def section(self, raw: Any, path: DataPath, part: str) -> Section | None:
        if not self.typed(raw, path, dict, f"a section of {part}"):
            return None
        self.keys(raw, path, _SECTION_KEYS if part == "steps" else _SECTION_KEYS[2:],
                  f"a section of {part}")
        name = raw.get("section", part)
        if not isinstance(name, str):
            self.fail(path, "source-missing", "a section needs a 'section' name (a string)")
            return None
        return Section(name, part, self.steps(raw.get("steps") or [], path + ("steps",)),
                       self.doc.pos(path), str(raw.get("title") or ""),
                       str(raw.get("comment") or ""),
                       self.defaults(raw.get("defaults"), path + ("defaults",)))

    def kind(self, want: str) -> None:
        if self.doc.data.get("kind") != want:
            self.fail(("kind",) if "kind" in self.doc.data else (), "source-kind",
                      f"expected 'kind: {want}'")


def load_shared(path: str | Path, catalog: Catalog) -> SharedSource:
    """Load the shared cold-upgrade source (``kind: RunbookSource``)."""
    doc = yamlpos.load(path)
    r = _Reader(doc, catalog)
    data = _folds(doc, doc.data, ())
    r.kind(SHARED_KIND)
    r.keys(data, (), _SHARED_KEYS, "the shared source")
    sections: list[Section] = []
    raw_steps = data.get("steps")
    if r.typed(raw_steps, ("steps",), list, "steps (a list of sections)"):
        sections += [s for i, raw in enumerate(raw_steps)
                     if (s := r.section(raw, ("steps", i), "steps")) is not None]
    for part in ("rollback", "finally"):
        if part in data and (s := r.section(data[part], (part,), part)) is not None:
            sections.append(s)
    names = [s.name for s in sections]
    for i, s in enumerate(sections):
        if s.name in names[:i]:
            r.errors.add(doc.path, s.pos.line, s.pos.col, "duplicate-section",
                         f"section {s.name!r} is defined twice")
    params: dict[str, tuple[dict[str, Any], tuple[str, ...], Any]] = {}
    raw_params = data.get("parameters") or {}
    if r.typed(raw_params, ("parameters",), dict, "parameters"):
        for name, spec in raw_params.items():
            path_ = ("parameters", name)
            if r.typed(spec, path_, dict, f"parameter {name!r}"):
                only = r.conditions(spec["only_if"], path_ + ("only_if",)) \
                    if "only_if" in spec else ()
                params[name] = ({k: v for k, v in spec.items() if k != "only_if"}, only,
                                doc.key_pos(path_))
    variables = _vars(r, data.get("vars") or {})
    header = data.get("header") or ""
    r.typed(header, ("header",), str, "header")
    defaults = r.defaults(data.get("defaults"), ("defaults",))
    r.errors.raise_if_errors(doc.path)
    return SharedSource(doc.path, str(header), variables, params, data.get("max_failures"),
                        defaults, tuple(sections))


def _folds(doc: Document, value: Any, path: DataPath) -> Any:
    """``value`` with every folded ``>`` block text as a :class:`Folded` (its line breaks)."""
    if isinstance(value, dict):
        return {k: _folds(doc, v, path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [_folds(doc, v, path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, str) and doc.is_block_scalar(path):
        lines = doc.text.splitlines()
        start = doc.pos(path).line  # the line of the `>-` indicator (1-based)
        if start > len(lines) or ">" not in lines[start - 1]:
            return value
        indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
        body = []
        for line in lines[start:]:
            if not line.strip() or len(line) - len(line.lstrip()) <= indent:
                break
            body.append(line.strip())
        if body and " ".join(body) == value:
            return Folded(value, tuple(body))
    return value


def _vars(r: _Reader, raw: Any) -> dict[str, tuple[Choice, ...]]:
    """``name: value`` or ``name: [{only_if: ..., value: ...}, ..., {value: ...}]``."""
    if not r.typed(raw, ("vars",), dict, "vars"):
        return {}
    out: dict[str, tuple[Choice, ...]] = {}
    for name, spec in raw.items():
        path = ("vars", name)
        if isinstance(spec, list) and spec and all(isinstance(c, dict) and "value" in c
                                                   for c in spec):
            choices = []
            for i, c in enumerate(spec):
                r.keys(c, path + (i,), ("only_if", "value"), f"a choice of ${{{name}}}")
                only = r.conditions(c["only_if"], path + (i, "only_if")) if "only_if" in c else ()
                choices.append(Choice(c["value"], only))
            out[name] = tuple(choices)
        else:
            out[name] = (Choice(spec),)
    return out


def load_hop(path: str | Path, catalog: Catalog) -> HopSource:
    """Load one hop overlay (``kind: RunbookHop``)."""
    doc = yamlpos.load(path)
    r = _Reader(doc, catalog)
    data = _folds(doc, doc.data, ())
    r.kind(HOP_KIND)
    r.keys(data, (), _HOP_KEYS, "a hop")
    for key, kind in (("from", str), ("to", str), ("revision", int)):
        if key not in data:
            r.fail((), "source-missing", f"a hop needs '{key}'")
        else:
            r.typed(data[key], (key,), kind, key)
    src, dst = str(data.get("from", "")), str(data.get("to", ""))
    stem = Path(path).stem
    if src and dst and stem != f"{src}-to-{dst}":
        r.fail(("from",), "source-hop-name",
               f"the file must be named {src}-to-{dst}.yaml (it is {stem}.yaml)")
    if src and dst and not r.errors.errors:
        try:
            if not catalog.is_adjacent(src, dst):
                r.fail(("to",), "source-hop-name", f"{dst} is not the release after {src}")
        except Exception as exc:  # noqa: BLE001 - unknown series: the catalog says which
            r.fail(("from",), "source-hop-name", str(exc))
    lists = {k: v if r.typed(v := data.get(k) or [], (k,), list, k) else []
             for k in ("migrations", "references", "remove", "insert")}
    maps = {k: v if r.typed(v := data.get(k) or {}, (k,), dict, k) else {}
            for k in ("vars", "parameters", "override")}
    for key in ("description", "header"):
        r.typed(data.get(key) or "", (key,), str, key)
    for name, spec in maps["parameters"].items():
        if spec is not None:
            r.typed(spec, ("parameters", name), dict,
                    f"parameter {name!r} (a mapping, or null to drop a shared one)")
    inserts = tuple(i for n, raw in enumerate(lists["insert"])
                    if (i := _insert(r, raw, ("insert", n))) is not None)
    overrides = []
    for step_id, raw in maps["override"].items():
        p = ("override", step_id)
        s = r.step(raw, p, partial=True)
        if s is not None:
            overrides.append(Override(step_id, s.fields, doc.key_pos(p),
                                      raw.get("comment") if "comment" in raw else None))
    removals = tuple((str(x), doc.pos(("remove", i))) for i, x in enumerate(lists["remove"]))
    if not r.errors.errors:
        _check_migrations(r, src, dst, [str(m) for m in lists["migrations"]])
    r.errors.raise_if_errors(doc.path)
    return HopSource(
        path=doc.path, from_=src, to=dst, revision=int(data["revision"]),
        description=str(data.get("description") or ""),
        references=tuple(str(x) for x in lists["references"]),
        migrations=tuple(str(m) for m in lists["migrations"]),
        vars=dict(maps["vars"]), parameters=dict(maps["parameters"]),
        inserts=inserts, overrides=tuple(overrides), removals=removals, pos=doc.pos(()),
        header=str(data.get("header") or ""),
    )


def _check_migrations(r: _Reader, src: str, dst: str, stated: list[str]) -> None:
    """The hop's ``migrations`` must be the alembic chain's (``alembic_chain.yaml``)."""
    from octavia_upgrade.catalog import migrations_between

    chain = [m["revision"] for m in migrations_between(src, dst)]
    if stated != chain:
        r.fail(("migrations",), "source-migrations",
               f"{src} → {dst} applies {len(chain)} migration(s) "
               f"[{', '.join(chain)}] (alembic_chain.yaml), not [{', '.join(stated)}]")


def _insert(r: _Reader, raw: Any, path: DataPath) -> Insert | None:
    if not r.typed(raw, path, dict, "an insert"):
        return None
    r.keys(raw, path, _INSERT_ANCHORS + ("steps", "move"), "an insert")
    anchors = [k for k in _INSERT_ANCHORS if k in raw]
    if len(anchors) != 1 or not isinstance(raw[anchors[0]], str):
        r.fail(path, "source-anchor",
               "an insert needs exactly one anchor: before/after: STEP-ID or start/end: SECTION")
        return None
    move = raw.get("move") or []
    if not isinstance(move, list) or not all(isinstance(m, str) for m in move):
        r.fail(path + ("move",), "source-type", "move must be a list of step ids")
        move = []
    return Insert(anchors[0], raw[anchors[0]], r.steps(raw.get("steps") or [], path + ("steps",)),
                  r.doc.pos(path + (anchors[0],)), tuple(move))


def fail(path: str, line: int, col: int, rule: str, message: str) -> InvalidInput:
    """One positioned error (used by the merge)."""
    errors = ErrorList()
    errors.add(path, line, col, rule, message)
    return InvalidInput(message, errors.items)
