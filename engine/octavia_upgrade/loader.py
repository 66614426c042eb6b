"""Runbook loading: YAML with positions → JSON Schema → semantic checks → ``Runbook``.

:func:`check_runbook` returns every finding (for ``lint``);
:func:`load_runbook` raises :class:`~octavia_upgrade.errors.InvalidInput`
carrying all of them when any is an error, and otherwise builds the
:class:`~octavia_upgrade.model.Runbook`.

Semantic rules (after the schema's own; see ``docs/runbook-format.md``):

=====================  =====================================================
rule                   meaning
=====================  =====================================================
``duplicate-id``       a step id used twice (steps, rollback and finally)
``undefined-param``    ``params.X`` where X is not declared
``unknown-output``     ``outputs["X"]`` where no step has id X
``forward-output``     ``outputs["X"]`` of the step itself or a later step
``unknown-variable``   a template name that is not in the template context
``jinja-syntax``       a templated string that Jinja cannot parse
``raw-param``          (warning) ``params.X | raw`` in a command: unquoted input
``unknown-release``    ``from``/``to`` not in the release catalog
``non-sequential``     ``from``/``to`` not adjacent (skip-level, SLURP too)
``downgrade``          ``to`` is older than ``from``
``name-mismatch``      ``metadata.name`` differs from the file name
``serial``             a percentage of 0% or above 100%
``duration``           a timeout of zero
``targets-conflict``   ``targets`` names both hosts and roles
``rollback-missing``   ``on_failure: rollback`` without a ``rollback:`` section
``param-default``      a parameter default that does not match its type
``param-name``         a parameter named like a mapping method (``items``)
``secret-param``       a parameter whose name looks secret without ``secret: true``
``restore-reference``  a restore's ``backup``/``approval`` is not such a step run before it
``unsafe-template``    a template that reads internals or calls what it may not
                       (see :mod:`octavia_upgrade.template_safety`)
=====================  =====================================================
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia_upgrade import model
from octavia_upgrade.builder import SECTIONS, build
from octavia_upgrade.errors import Diagnostic, InvalidInput
from octavia_upgrade.yamlpos import DataPath, Document

if TYPE_CHECKING:
    from octavia_upgrade.catalog import Catalog

#: Names every runbook template may use (see docs/architecture.md, Templates).
CONTEXT_NAMES = frozenset({"params", "release", "host", "vars", "deployment", "run", "outputs"})


#: Parameter names refused because they name a mapping's methods (``params.items``).
RESERVED_PARAMS = frozenset({"clear", "copy", "fromkeys", "get", "items", "keys", "pop",
                             "popitem", "setdefault", "update", "values"})

_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float),
    "boolean": (bool,), "list": (list,),
}


# -- public API ---------------------------------------------------------------


def check_runbook(path: str | Path, *, catalog: Catalog | None = None) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) for the runbook at ``path``, sorted."""
    _doc, diags = _check(str(path), catalog)
    return diags


def load_runbook(path: str | Path, *, catalog: Catalog | None = None) -> model.Runbook:
    """Load, validate and build the runbook at ``path``.

    Raises:
        InvalidInput: with every diagnostic found (sorted) when any is an error.
    """
    name = str(path)
    doc, diags = _check(name, catalog)
    if doc is None or any(d.severity == "error" for d in diags):
        raise InvalidInput(f"runbook {name} is invalid", diags)
    return build(doc, catalog)


def load_runbook_text(text: str, path: str = "<runbook>", *,
                      catalog: Catalog | None = None) -> model.Runbook:
    """:func:`load_runbook` for text in memory (``path`` names it in messages)."""
    from octavia_upgrade.yamlpos import loads

    doc = loads(text, path)
    diags = check_document(doc, catalog=catalog)
    if any(d.severity == "error" for d in diags):
        raise InvalidInput(f"runbook {path} is invalid", diags)
    return build(doc, catalog)


def check_document(doc: Document, *, catalog: Catalog | None = None) -> list[Diagnostic]:
    """Schema and semantic diagnostics for an already loaded runbook document."""
    from octavia_upgrade.schemas import validate

    diags = validate(doc, "runbook")
    diags += _Semantics(doc, catalog).run()
    return sorted(set(diags))


def check_template(doc: Document, path: DataPath, text: str, *,
                   expression: bool = False,
                   names: frozenset[str] = CONTEXT_NAMES) -> tuple[set[tuple[str, ...]],
                                                                  list[Diagnostic]]:
    """Parse one templated string; return its attribute references and diagnostics.

    Args:
        doc: the document the string comes from (for positions).
        path: where the string is in ``doc``.
        text: the string.
        expression: a condition (``when``, ``that``), for which the bare
            form without ``{{ }}`` is allowed.
        names: the top-level names the template may use.
    """
    from octavia_upgrade import template_safety, templating

    source = text
    if expression and not templating.is_templated(text):
        source = "{{ " + text + " }}"
    facts = _analyse(source)
    if facts.error is not None:
        pos = _line_pos(doc, path, facts.error[0] - 1)
        return set(), [Diagnostic(doc.path, pos[0], pos[1], "jinja-syntax",
                                  f"invalid template: {facts.error[1]}")]
    env = templating.value_env()
    diags: list[Diagnostic] = []
    for what, name, lineno in facts.unknown_callables:
        table = env.filters if what == "filter" else env.tests
        line, col = _line_pos(doc, path, lineno - 1)
        diags.append(Diagnostic(doc.path, line, col, "jinja-syntax",
                                f"unknown {what} {name!r}{_suggest(name, sorted(table))}"))
    for lineno, message in facts.unsafe[:1]:  # the first is enough to refuse it
        line, col = _line_pos(doc, path, lineno - 1)
        diags.append(Diagnostic(doc.path, line, col, template_safety.RULE, message))
    pos = doc.pos(path)
    for name in sorted(facts.free_names - names):
        diags.append(Diagnostic(doc.path, pos.line, pos.col, "unknown-variable",
                                f"unknown template variable {name!r}"
                                f"{_suggest(name, sorted(names))}; "
                                f"templates see: {', '.join(sorted(names))}"))
    return set(facts.refs), diags


@dataclass(frozen=True)
class _Facts:
    """What lint needs to know about one template source."""

    error: tuple[int, str] | None = None
    refs: frozenset[tuple[str, ...]] = frozenset()
    #: (``filter``|``test``, name, line) of filters and tests Jinja does not know.
    unknown_callables: tuple[tuple[str, str, int], ...] = ()
    #: Names read but not assigned by the template, minus Jinja's globals.
    free_names: frozenset[str] = frozenset()
    #: A ``params`` value goes through ``| raw``.
    raw_param: bool = False
    #: (line, message) of what the template may not do (``template_safety``).
    unsafe: tuple[tuple[int, str], ...] = ()


@lru_cache(maxsize=4096)
def _analyse(source: str) -> _Facts:
    """Parse and inspect a template once (runbooks repeat the same templates)."""
    import jinja2
    from jinja2 import nodes

    from jinja2.tests import TESTS

    from octavia_upgrade import template_safety, templating

    try:
        tree = templating.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return _Facts(error=(exc.lineno or 1, exc.message or "syntax error"))
    env = templating.value_env()
    known = {"filter": templating.known_filters(), "test": frozenset(TESTS)}
    unknown: list[tuple[str, str, int]] = []
    loaded: set[str] = set()
    stored: set[str] = set()
    raw_param = False
    for node in tree.find_all((nodes.Filter, nodes.Test, nodes.Name)):
        if isinstance(node, nodes.Name):
            # Names a template reads minus those it assigns ({% for %}, {% set %}):
            # jinja2.meta.find_undeclared_variables generates code to find them,
            # which costs more than the rest of lint together.
            (loaded if node.ctx == "load" else stored).add(node.name)
            continue
        what = "filter" if isinstance(node, nodes.Filter) else "test"
        if node.name not in known[what]:
            unknown.append((what, node.name, node.lineno))
        if isinstance(node, nodes.Filter) and node.name == "raw" and node.node is not None:
            inner = [node.node, *node.node.find_all(nodes.Name)]
            raw_param = raw_param or any(
                isinstance(n, nodes.Name) and n.name == "params" for n in inner)
    return _Facts(
        refs=frozenset(templating.tree_references(tree)),
        unknown_callables=tuple(unknown),
        free_names=frozenset(loaded - stored - set(env.globals)
                             - template_safety.FORBIDDEN_NAMES),
        raw_param=raw_param,
        unsafe=tuple(template_safety.findings(tree)),
    )


# -- checking -----------------------------------------------------------------


def _check(path: str, catalog: Catalog | None) -> tuple[Document | None, list[Diagnostic]]:
    from octavia_upgrade import yamlpos

    try:
        doc = yamlpos.load(path)
    except InvalidInput as exc:
        return None, sorted(exc.diagnostics)
    return doc, check_document(doc, catalog=catalog)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _line_pos(doc: Document, path: DataPath, offset: int) -> tuple[int, int]:
    """Position of line ``offset`` (0-based) of the string at ``path``."""
    pos = doc.pos(path)
    if doc.is_block_scalar(path):
        offset += 1  # the text of | and > scalars starts on the next line
    if offset <= 0:
        return pos.line, pos.col
    line = pos.line + offset
    lines = doc.text.splitlines()
    if 0 < line <= len(lines):
        text = lines[line - 1]
        return line, len(text) - len(text.lstrip()) + 1
    return pos.line, pos.col


def _strings(value: Any, path: DataPath) -> Iterator[tuple[DataPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


class _Semantics:
    """The checks that a JSON Schema cannot express."""

    def __init__(self, doc: Document, catalog: Catalog | None) -> None:
        self.doc = doc
        self.catalog = catalog
        self.out: list[Diagnostic] = []
        data = doc.data
        raw_params = data.get("parameters")
        self.params = set(raw_params) if isinstance(raw_params, dict) else set()
        self.sections: dict[str, list[Any]] = {
            s: (data.get(s) if isinstance(data.get(s), list) else []) for s in SECTIONS
        }
        self.v2 = data.get("apiVersion") == model.RUNBOOK_V2

    def add(self, path: DataPath, rule: str, message: str, *, key: bool = False,
            severity: str = "error") -> None:
        pos = self.doc.key_pos(path) if key else self.doc.pos(path)
        self.out.append(Diagnostic(self.doc.path, pos.line, pos.col, rule, message, severity))

    def run(self) -> list[Diagnostic]:
        self.version()
        self.metadata()
        self.parameters()
        self.steps()
        return self.out

    def version(self) -> None:
        if self.doc.data.get("apiVersion") == model.RUNBOOK_V1:
            self.add(("apiVersion",), "format-v1",
                     "an octavia-upgrade/v1 runbook (still read): convert it to v2 with "
                     "`octavia-upgrade runbooks convert FILE` (rollback listed in the order it "
                     "runs, `when` a bare expression, kind defaults for timeout and retry)",
                     severity="info")

    # metadata ----------------------------------------------------------------

    def metadata(self) -> None:
        meta = self.doc.data.get("metadata")
        if not isinstance(meta, dict):
            return
        name = meta.get("name")
        stem = Path(self.doc.path).name
        for suffix in (".yaml", ".yml"):
            stem = stem.removesuffix(suffix)
        if isinstance(name, str) and name != stem:
            self.add(("metadata", "name"), "name-mismatch",
                     f"metadata.name {name!r} does not match the file name "
                     f"{Path(self.doc.path).name!r} (expected {stem!r})")
        src, dst = meta.get("from"), meta.get("to")
        if isinstance(src, (str, int, float)) and isinstance(dst, (str, int, float)) \
                and not isinstance(src, bool) and not isinstance(dst, bool):
            self.releases(str(src), str(dst))

    def releases(self, src: str, dst: str) -> None:
        from octavia_upgrade.catalog import load_catalog

        cat = self.catalog or load_catalog()
        known = True
        for field, value in (("from", src), ("to", dst)):
            if value not in cat:
                known = False
                self.add(("metadata", field), "unknown-release",
                         f"unknown release {value!r}{_suggest(value.lower(), cat.names())}; "
                         f"the catalog has {cat.names()[0]} … {cat.names()[-1]} "
                         "(see `octavia-upgrade releases`)")
        if not known:
            return
        a, b = cat.get(src), cat.get(dst)
        i, j = cat.index(src), cat.index(dst)
        pair = f"{a.series}-to-{b.series}"
        if i == j:
            self.add(("metadata", "to"), "non-sequential",
                     f"from and to are the same release ({a.series}): nothing to upgrade")
        elif j < i:
            self.add(("metadata", "to"), "downgrade",
                     f"{pair} is a downgrade; Octavia does not support downgrades "
                     "(restore the database backup taken before the upgrade instead)")
        elif j - i > 1:
            chain = cat.chain_names(src, dst)
            slurp = ""
            if a.slurp and b.slurp:
                slurp = (f" (skip-level upgrades between SLURP releases, {a.series} to "
                         f"{b.series}, are not supported by Octavia's upgrade guide either)")
            self.add(("metadata", "to"), "non-sequential",
                     f"{pair} is not a sequential upgrade; Octavia supports sequential "
                     f"upgrades only{slurp}: use {', then '.join(chain)}")

    # parameters ----------------------------------------------------------------

    def parameters(self) -> None:
        from octavia_upgrade.logs import SECRET_KEY

        params = self.doc.data.get("parameters")
        if not isinstance(params, dict):
            return
        for name, spec in params.items():
            if name in RESERVED_PARAMS:
                self.add(("parameters", name), "param-name",
                         f"parameter name {name!r} is reserved (a mapping method's name); "
                         "choose another name", key=True)
            if isinstance(spec, dict) and SECRET_KEY.search(name) \
                    and spec.get("secret") is not True:
                self.add(("parameters", name), "secret-param",
                         f"parameter {name!r} looks secret by its name: declare it with "
                         "secret: true (or rename it)", key=True)
            if not isinstance(spec, dict) or "default" not in spec:
                continue
            ptype = spec.get("type", "string")
            default = spec["default"]
            types = _PARAM_TYPES.get(ptype) if isinstance(ptype, str) else None
            if types is None or default is None:
                continue
            ok = isinstance(default, types) and not (
                isinstance(default, bool) and ptype in ("integer", "number"))
            if not ok:
                self.add(("parameters", name, "default"), "param-default",
                         f"default {default!r} of parameter {name!r} is not "
                         f"{'an' if ptype[0] in 'aeiou' else 'a'} {ptype}")

    # steps ---------------------------------------------------------------------

    def steps(self) -> None:
        ids: dict[str, DataPath] = {}
        order: dict[str, tuple[str, int]] = {}
        for section, items in self.sections.items():
            for i, step in enumerate(items):
                sid = step.get("id") if isinstance(step, dict) else None
                if not isinstance(sid, str):
                    continue
                if sid in ids:
                    first = self.doc.pos(ids[sid])
                    self.add((section, i, "id"), "duplicate-id",
                             f"step id {sid!r} is already used at line {first.line} "
                             "(ids must be unique across steps, rollback and finally)")
                    continue
                ids[sid] = (section, i, "id")
                order[sid] = (section, i)
        has_rollback = bool(self.sections["rollback"])
        for section, items in self.sections.items():
            for i, step in enumerate(items):
                if isinstance(step, dict):
                    self.step(section, i, step, order, has_rollback)

    def step(self, section: str, i: int, step: dict[str, Any],
             order: dict[str, tuple[str, int]], has_rollback: bool) -> None:
        base: DataPath = (section, i)
        targets = step.get("targets")
        if isinstance(targets, dict) and targets.get("hosts") and targets.get("roles"):
            self.add((*base, "targets"), "targets-conflict",
                     "targets names both hosts and roles: use one of them")
        if step.get("on_failure") == "rollback" and not has_rollback:
            self.add((*base, "on_failure"), "rollback-missing",
                     "on_failure: rollback, but the runbook has no rollback: section")
        self.serial(base, step.get("serial"))
        if step.get("kind") == "restore" and isinstance(step.get("with"), dict):
            from octavia_upgrade.steps.restore import reference_problems

            for key, msg in reference_problems(step["with"], self.sections, order,
                                               lambda t: self._earlier(section, i, t)):
                self.add((*base, "with", key), "restore-reference", msg)
        timeout = step.get("timeout")
        if timeout is not None:
            try:
                seconds = model.parse_duration(timeout)
            except (ValueError, TypeError):
                seconds = None  # the schema reports the format
            if seconds == 0:
                self.add((*base, "timeout"), "duration", "timeout must be greater than zero")
        from octavia_upgrade import templating

        expressions = {(*base, "when"), (*base, "with", "that")}
        when = step.get("when")
        if self.v2 and isinstance(when, str) and templating.is_templated(when):
            from octavia_upgrade.builder import expression

            self.add((*base, "when"), "when-expression",
                     "in octavia-upgrade/v2, `when` is a bare expression like `that`: write "
                     f"{expression(when)!r} without {{{{ }}}}")
        for path, text in _strings(step, base):
            field = path[-1] if isinstance(path[-1], str) else ""
            if field in ("id", "kind"):
                continue
            expression = path in expressions
            if not expression and not templating.is_templated(text):
                continue
            refs, diags = check_template(self.doc, path, text, expression=expression)
            self.out.extend(diags)
            if all(d.rule not in ("jinja-syntax", "unsafe-template") for d in diags):
                self.references(section, i, path, refs, order)
            if field == "command":
                self.raw_params(path, text)

    def serial(self, base: DataPath, serial: Any) -> None:
        entries = serial if isinstance(serial, list) else [serial]
        for k, entry in enumerate(entries):
            if isinstance(entry, str) and entry.endswith("%") and entry[:-1].isdigit():
                pct = int(entry[:-1])
                if pct == 0 or pct > 100:
                    path = (*base, "serial", k) if isinstance(serial, list) else (*base, "serial")
                    self.add(path, "serial",
                             f"serial percentage {entry} must be between 1% and 100%")

    def references(self, section: str, i: int, path: DataPath, refs: set[tuple[str, ...]],
                   order: dict[str, tuple[str, int]]) -> None:
        for ref in sorted(refs):
            if ref[0] == "params" and len(ref) > 1 and ref[1] not in self.params:
                declared = sorted(self.params)
                self.add(path, "undefined-param",
                         f"parameter {ref[1]!r} is not declared under parameters"
                         f"{_suggest(ref[1], declared)}")
            elif ref[0] == "outputs" and len(ref) > 1:
                target = ref[1]
                if target not in order:
                    self.add(path, "unknown-output",
                             f"outputs[{target!r}]: no step has the id {target!r}"
                             f"{_suggest(target, sorted(order))}")
                elif not self._earlier(section, i, order[target]):
                    self.add(path, "forward-output",
                             f"outputs[{target!r}] is not available here: step {target!r} "
                             "does not run before this one")

    def _earlier(self, section: str, i: int, target: tuple[str, int]) -> bool:
        t_section, t_index = target
        if t_section == "steps":
            return section != "steps" or t_index < i
        if t_section != section:
            return False
        # v1 lists rollback steps bottom-up; everything else runs in list order.
        return t_index > i if section == "rollback" and not self.v2 else t_index < i

    def raw_params(self, path: DataPath, text: str) -> None:
        if _analyse(text).raw_param:
            self.add(path, "raw-param",
                     "a parameter is inserted with | raw: it is not shell-quoted, so "
                     "its value can change the command", severity="warning")
