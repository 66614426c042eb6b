"""JSON Schema validation of loaded YAML, with positioned, readable errors.

The schemas in ``schemas/`` (Draft 2020-12) are the published contract that
editors use. This module validates a :class:`~octavia_upgrade.yamlpos.Document`
against one of them and turns every ``jsonschema`` error into a
:class:`~octavia_upgrade.errors.Diagnostic` at the most precise position:
an unknown field points at its key, a missing field at the mapping that
lacks it, anything else at the offending value.

The schemas carry three annotation keywords that validators ignore and this
module reads:

* ``x-rule``: the diagnostic's rule id (a string, or a mapping from
  JSON Schema keyword to rule id); the default depends on the keyword.
* ``x-message``: a message template (``{value!r}``, ``{field}``).
* ``x-noun``: how to name the object in messages ("step", "metadata").
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from typing import Any

from octavia_upgrade.errors import Diagnostic
from octavia_upgrade.yamlpos import DataPath, Document

#: Schema names shipped in ``schemas/``.
NAMES = ("runbook", "inventory", "flavor", "rolemap")

#: Rule ids used when the schema names none.
DEFAULT_RULES = {
    "additionalProperties": "unknown-field",
    "required": "missing-field",
    "type": "wrong-type",
    "enum": "invalid-value",
    "const": "invalid-value",
}

_JSON_TYPES = {
    dict: "mapping", list: "list", str: "string", bool: "boolean",
    int: "integer", float: "number", type(None): "null",
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed JSON Schema ``name`` (``runbook``, ``inventory``, ``flavor``)."""
    from octavia_upgrade.resources import schemas_dir

    with open(schemas_dir() / f"{name}.schema.json", encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema


@cache
def _validator(name: str) -> Any:
    # Imported here: jsonschema costs ~90 ms to import, and nothing on the
    # CLI's start-up path may pay for it before it is needed.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_fast_schema(name))


#: Top-level keys whose items are runbook steps.
STEP_SECTIONS = ("steps", "rollback", "finally")


@cache
def _fast_schema(name: str) -> dict[str, Any]:
    """The schema as validated here: steps are validated one by one.

    The published runbook schema dispatches ``with:`` on ``kind`` through an
    ``allOf`` of twelve ``if``/``then`` pairs, so jsonschema evaluates twelve
    conditions per step. :func:`validate` instead checks each step against
    the step schema without that chain, then its ``with:`` directly against
    the ``then`` of its kind, read from the same schema: the findings are
    the same, identical steps (common across runbooks) are validated once,
    and lint stays fast.
    """
    schema = load_schema(name)
    defs = dict(schema.get("$defs", {}))
    fast = _inline({k: v for k, v in schema.items() if k != "$defs"}, defs)
    if "step" in defs:
        props = dict(fast.get("properties", {}))
        for section in STEP_SECTIONS:
            if section in props:
                props[section] = {k: v for k, v in props[section].items() if k != "items"}
        fast["properties"] = props
    return fast if isinstance(fast, dict) else schema


@cache
def _step_validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    defs = load_schema(name)["$defs"]
    step = {k: v for k, v in defs["step"].items() if k != "allOf"}
    return Draft202012Validator(_inline(step, defs))


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace local ``$ref``s by the definitions they name.

    Resolving a ``$ref`` through jsonschema's registry on every step costs
    more than the rest of the validation; the schemas have no recursive
    references, so inlining is exact.
    """
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**defs[ref[8:]], **rest}, defs)
    return {k: (_inline(v, defs) if k not in ("const", "enum", "default") else v)
            for k, v in node.items()}


@cache
def _kind_rules(name: str) -> dict[str, tuple[str | None, bool]]:
    """Step kind → (``$defs`` name of its ``with:`` schema, whether ``with:`` is required)."""
    step = load_schema(name).get("$defs", {}).get("step", {})
    rules: dict[str, tuple[str | None, bool]] = {}
    for branch in step.get("allOf", ()):
        kind = branch.get("if", {}).get("properties", {}).get("kind", {}).get("const")
        then = branch.get("then", {})
        ref = then.get("properties", {}).get("with", {}).get("$ref")
        sub = ref.removeprefix("#/$defs/") if isinstance(ref, str) else None
        if isinstance(kind, str):
            rules[kind] = (sub, "with" in then.get("required", ()))
    return rules


@cache
def _with_validator(name: str, kind: str) -> Any:
    from jsonschema import Draft202012Validator

    sub, _required = _kind_rules(name)[kind]
    defs = load_schema(name).get("$defs", {})
    return Draft202012Validator(_inline(defs[sub], defs))


def validate(doc: Document, name: str) -> list[Diagnostic]:
    """Validate ``doc.data`` against schema ``name``; diagnostics sorted by position."""
    out: set[Diagnostic] = set()
    for error in _validator(name).iter_errors(doc.data):
        out.update(_diagnostics(doc, error))
    if "step" in load_schema(name).get("$defs", {}):
        for section in STEP_SECTIONS:
            items = doc.data.get(section)
            if isinstance(items, list):
                for i, step in enumerate(items):
                    out.update(_step_diagnostics(doc, name, (section, i), step))
    return sorted(out)


_STEP_CACHE: dict[tuple[str, str], list[tuple[DataPath, Any]]] = {}


def _step_errors(name: str, step: Any) -> list[tuple[DataPath, Any]]:
    """(path prefix, jsonschema error) pairs for one step; memoized by content."""
    key = (name, json.dumps(step, sort_keys=True, default=repr))
    cached = _STEP_CACHE.get(key)
    if cached is not None:
        return cached
    found: list[tuple[DataPath, Any]] = [((), e) for e in _step_validator(name).iter_errors(step)]
    rules = _kind_rules(name)
    # ``kind`` may be any YAML value here (a list, a mapping): only a string names a rule.
    if isinstance(step, dict) and isinstance(step.get("kind"), str) and step["kind"] in rules:
        sub, required = rules[step["kind"]]
        if "with" not in step:
            if required:
                found.append(((), None))  # reported as a missing 'with'
        elif sub is not None and isinstance(step["with"], dict):
            found += [(("with",), e) for e in _with_validator(name, step["kind"]).iter_errors(
                step["with"])]
    if len(_STEP_CACHE) > 4096:
        _STEP_CACHE.clear()
    _STEP_CACHE[key] = found
    return found


def _step_diagnostics(doc: Document, name: str, path: DataPath, step: Any) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for prefix, error in _step_errors(name, step):
        if error is None:
            kind = str(step.get("kind"))
            article = "an" if kind[:1] in tuple("aeiou") else "a"
            out.append(_diag(doc, doc.pos(path), "missing-field",
                             f"missing required field 'with' in {_noun({'x-noun': 'step'}, path)}"
                             f" ({article} {kind} step needs it)"))
        else:
            out.extend(_diagnostics(doc, error, prefix=(*path, *prefix)))
    return out


# -- error conversion ---------------------------------------------------------


def _diagnostics(doc: Document, error: Any, prefix: DataPath = ()) -> list[Diagnostic]:
    path: DataPath = (*prefix, *error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    keyword = error.validator
    rule = _rule(schema, keyword)
    in_names = "propertyNames" in error.relative_schema_path
    if in_names:
        # jsonschema reports a bad key with the mapping's path; point at the key.
        pos = doc.key_pos((*path, error.instance))
        return [_diag(doc, pos, rule, _message(schema, keyword, error, path, name_check=True))]
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        noun = _noun(schema, path)
        extra = [k for k in error.instance if k not in allowed]
        found = []
        for key in extra:
            msg = f"unknown field {key!r} in {noun}{_suggest(key, allowed)}"
            found.append(_diag(doc, doc.key_pos((*path, key)), rule, msg))
        return found
    if keyword == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        msg = f"missing required field {missing!r} in {_noun(schema, path)}"
        return [_diag(doc, doc.pos(path), rule, msg)]
    return [_diag(doc, doc.pos(path), rule, _message(schema, keyword, error, path))]


def _diag(doc: Document, pos: Any, rule: str, message: str) -> Diagnostic:
    return Diagnostic(doc.path, pos.line, pos.col, rule, message)


def _rule(schema: dict[str, Any], keyword: str) -> str:
    given = schema.get("x-rule")
    if isinstance(given, dict):
        given = given.get(keyword)
    if isinstance(given, str):
        return given
    return DEFAULT_RULES.get(keyword, "schema")


def _field(path: DataPath) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "item"


def _noun(schema: dict[str, Any], path: DataPath) -> str:
    noun = schema.get("x-noun")
    if noun == "step" and len(path) >= 2 and path[0] in ("rollback", "finally"):
        return f"{path[0]} step"
    if noun in ("host", "parameter") and path and isinstance(path[-1], str):
        return f"{noun} {path[-1]!r}"
    if isinstance(noun, str):
        return noun
    return repr(_field(path)) if path else "the document"


def _type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _message(schema: dict[str, Any], keyword: str, error: Any, path: DataPath,
             *, name_check: bool = False) -> str:
    value = error.instance
    field = _field(path)
    template = schema.get("x-message")
    if isinstance(template, str):
        try:
            return template.format(value=value, field=field)
        except (KeyError, IndexError, ValueError):
            return template
    if name_check:
        return f"invalid name {value!r}: {error.message}"
    if keyword == "type":
        expected = error.validator_value
        if isinstance(expected, list):
            expected = " or ".join(expected)
        expected = {"object": "mapping", "array": "list"}.get(expected, expected)
        return (f"wrong type for {field!r}: expected {expected}, got {_type_name(value)} "
                f"({_short(value)})")
    if keyword == "enum":
        choices = [str(c) for c in error.validator_value]
        if schema.get("x-rule") == "unknown-kind":
            return (f"unknown step kind {value!r}{_suggest(value, choices)}; "
                    f"valid kinds: {', '.join(choices)}")
        if schema.get("x-rule") == "unknown-role":
            return f"unknown role {value!r}{_suggest(value, choices)}; roles: {', '.join(choices)}"
        if schema.get("x-rule") == "unknown-service":
            return (f"unknown service {value!r}{_suggest(value, choices)}; "
                    f"services: {', '.join(choices)}")
        return (f"invalid value {_short(value)} for {field!r}{_suggest(value, choices)}; "
                f"expected one of: {', '.join(choices)}")
    if keyword == "const":
        return f"{field!r} must be {error.validator_value!r}, not {_short(value)}"
    if keyword == "pattern":
        return f"{field!r}: {_short(value)} does not match {error.validator_value!r}"
    if keyword == "minimum":
        return f"{field!r} must be at least {error.validator_value}, not {_short(value)}"
    if keyword == "maximum":
        return f"{field!r} must be at most {error.validator_value}, not {_short(value)}"
    if keyword == "minItems":
        return f"{field!r} must not be empty" if error.validator_value == 1 else \
            f"{field!r} needs at least {error.validator_value} items"
    if keyword == "minProperties":
        return f"{field!r} must not be empty"
    if keyword == "minLength":
        return f"{field!r} must not be empty"
    if keyword == "uniqueItems":
        return f"{field!r} lists the same item twice: {_short(value)}"
    return f"{field!r}: {error.message}"


def load_and_validate(path: str, name: str) -> tuple[Document | None, list[Diagnostic]]:
    """Load ``path`` with :mod:`~octavia_upgrade.yamlpos` and validate it against ``name``.

    Returns the document (``None`` when the YAML itself is refused) and the
    diagnostics found so far.
    """
    from octavia_upgrade import yamlpos
    from octavia_upgrade.errors import InvalidInput

    try:
        doc = yamlpos.load(path)
    except InvalidInput as exc:
        return None, list(exc.diagnostics)
    return doc, validate(doc, name)
