"""What a runbook or flavor template may do: a static check of the parsed Jinja tree.

Templates come from files an operator reviews, but a reviewer cannot be
expected to spot ``{{ cycler.__init__.__globals__ }}``. Every template is
therefore checked before anything is planned, recorded or run; the Jinja
sandbox (:mod:`octavia_upgrade.templating`) stays as the second line of
defence and enforces the same lists when rendering.

Allowed:

* reading the context (``params``, ``vars``, ``outputs``, ...) by key:
  ``params.x`` and ``params["x"]`` both look up the key ``x`` and never a
  Python attribute (``params.items`` is the parameter ``items``);
* the filters in :data:`FILTERS` and the tests in :data:`TESTS` (Jinja's
  others are refused; names Jinja does not know are ``jinja-syntax`` errors);
* calls of ``range(...)`` (at most :data:`MAX_RANGE` items) and of the
  string methods in :data:`METHODS`;
* operators, comparisons, ``if``/``for``/``set`` blocks.

Refused (rule ``unsafe-template``): attribute or key names that start with
``_`` (``__class__``, ``_private``) or name interpreter internals (``mro``,
``gi_frame``, ...); any other call (``''.format(...)``, ``x.update(...)``,
``lipsum()``); the names ``self``, ``cycler``, ``joiner``, ``namespace``,
``lipsum``, ``dict``; the ``%`` operator (string formatting of objects);
``range`` with more than :data:`MAX_RANGE` items; nested ``for`` loops (with
``range`` and data bounded, one loop is bounded too); macros, ``call`` blocks,
``import``/``include``/``extends``, ``*args``/``**kwargs`` in calls.
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes
from jinja2.filters import FILTERS as JINJA_FILTERS
from jinja2.tests import TESTS as JINJA_TESTS

RULE = "unsafe-template"

#: Filters templates may use: the tool's own and Jinja's that only transform values.
FILTERS = frozenset({
    "raw", "quote", "shell_join",
    "abs", "capitalize", "count", "d", "default", "dictsort", "first", "float",
    "int", "items", "join", "last", "length", "list", "lower", "max", "min",
    "replace", "reverse", "round", "sort", "string", "sum", "title", "tojson", "trim",
    "truncate", "unique", "upper", "urlencode", "wordcount",
})

#: Tests templates may use (``x is defined``, ``x is number``...).
TESTS = frozenset({
    "!=", "<", "<=", "==", ">", ">=", "boolean", "defined", "divisibleby", "eq", "equalto",
    "even", "false", "float", "ge", "greaterthan", "gt", "in", "integer", "iterable", "le",
    "lessthan", "lower", "lt", "mapping", "ne", "none", "number", "odd", "sequence", "string",
    "true", "undefined", "upper",
})

#: Methods that may be called (on strings; mappings expose keys only, never methods).
METHODS = frozenset({
    "capitalize", "count", "endswith", "find", "isalnum", "isalpha", "isdigit", "join",
    "lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind",
    "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "title",
    "upper",
})

#: Global functions templates may call.
FUNCTIONS = frozenset({"range"})

#: Most items ``range`` may produce in a template.
MAX_RANGE = 10_000

#: Names that exist in Jinja but give access to objects, not values.
FORBIDDEN_NAMES = frozenset({"self", "cycler", "joiner", "namespace", "lipsum", "dict",
                             "varargs", "kwargs", "caller"})

#: Attribute names of interpreter internals that do not start with ``_``.
INTERNAL_ATTRS = frozenset({
    "mro", "func_globals", "func_code", "func_closure", "gi_frame", "gi_code", "gi_yieldfrom",
    "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code", "ag_await", "tb_frame",
    "tb_next", "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "co_code",
})

_STATEMENTS = (nodes.Macro, nodes.CallBlock, nodes.Import, nodes.FromImport, nodes.Include,
               nodes.Extends, nodes.Block, nodes.EvalContextModifier)

#: Filters whose ``attribute=`` argument names an attribute to read.
_ATTRIBUTE_ARGS = ("attribute",)


def unsafe_name(name: str) -> bool:
    """An attribute or key name a template must never read."""
    return name.startswith("_") or name in INTERNAL_ATTRS


def findings(tree: nodes.Node) -> list[tuple[int, str]]:
    """``(line, message)`` for everything in ``tree`` that a template may not do.

    In order of lines and, on a line, inner expressions first: in
    ``x.__class__.__base__`` the first finding is ``__class__``.
    """
    return sorted(dict.fromkeys(_walk(tree)), key=lambda f: f[0])


def _postorder(node: nodes.Node) -> Iterator[nodes.Node]:
    for child in node.iter_child_nodes():
        yield from _postorder(child)
    yield node


def _walk(tree: nodes.Node) -> Iterator[tuple[int, str]]:
    for node in _postorder(tree):
        line = getattr(node, "lineno", 1) or 1
        if isinstance(node, _STATEMENTS):
            yield line, f"{_statement(node)} is not allowed in templates"
        elif isinstance(node, nodes.Getattr) and unsafe_name(node.attr):
            yield line, f"access to the attribute {node.attr!r} is not allowed"
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str) and unsafe_name(node.arg.value):
            yield line, f"access to the key {node.arg.value!r} is not allowed"
        elif isinstance(node, nodes.Name) and node.ctx == "load" \
                and node.name in FORBIDDEN_NAMES:
            yield line, f"{node.name!r} is not available in templates"
        elif isinstance(node, nodes.For) and any(True for _ in node.find_all(nodes.For)):
            yield line, "for loops may not be nested in templates"
        elif isinstance(node, nodes.Mod):
            yield line, ("the % operator is not allowed in templates (it formats objects); "
                         "use ~ to join text")
        elif isinstance(node, nodes.Call):
            yield from _call(node, line)
        elif isinstance(node, nodes.Filter) and node.name in JINJA_FILTERS \
                and node.name not in FILTERS:
            yield line, f"the filter {node.name!r} is not allowed (see docs/runbook-format.md " \
                        "for the filters templates may use)"
        elif isinstance(node, nodes.Test) and node.name in JINJA_TESTS \
                and node.name not in TESTS:
            yield line, f"the test {node.name!r} is not allowed (see docs/runbook-format.md " \
                        "for the tests templates may use)"
        if isinstance(node, (nodes.Filter, nodes.Test, nodes.Call)):
            if node.dyn_args is not None or node.dyn_kwargs is not None:
                yield line, "*args and **kwargs are not allowed in templates"
            for kw in node.kwargs:
                if kw.key in _ATTRIBUTE_ARGS and isinstance(kw.value, nodes.Const) \
                        and any(unsafe_name(p) for p in str(kw.value.value).split(".")):
                    yield line, f"access to the attribute {kw.value.value!r} is not allowed"


def _call(node: nodes.Call, line: int) -> Iterator[tuple[int, str]]:
    callee = node.node
    if isinstance(callee, nodes.Name) and callee.name in FUNCTIONS:
        size = _const_range_size(node)
        if size is not None and size > MAX_RANGE:
            yield line, f"range() of {size} items; templates allow at most {MAX_RANGE}"
        return
    if isinstance(callee, nodes.Getattr) and callee.attr in METHODS:
        return
    if isinstance(callee, nodes.Name) and callee.name in FORBIDDEN_NAMES:
        return  # reported as a name
    what = (f"{callee.attr}()" if isinstance(callee, nodes.Getattr)
            else f"{callee.name}()" if isinstance(callee, nodes.Name) else "this call")
    yield line, (f"calling {what} is not allowed; templates may call range() and string "
                 "methods such as lower(), split(), replace() (see docs/runbook-format.md)")


def _const_range_size(node: nodes.Call) -> int | None:
    """How many items ``range(...)`` with constant integer arguments yields (else None)."""
    values = []
    for arg in node.args:
        if not isinstance(arg, nodes.Const) or not isinstance(arg.value, int) \
                or isinstance(arg.value, bool):
            return None
        values.append(arg.value)
    if not 1 <= len(values) <= 3 or (len(values) == 3 and values[2] == 0):
        return None
    return len(range(*values))


def _statement(node: nodes.Node) -> str:
    names = {nodes.Macro: "{% macro %}", nodes.CallBlock: "{% call %}",
             nodes.Import: "{% import %}", nodes.FromImport: "{% from ... import %}",
             nodes.Include: "{% include %}", nodes.Extends: "{% extends %}",
             nodes.Block: "{% block %}"}
    return names.get(type(node), f"{{% {type(node).__name__.lower()} %}}")
