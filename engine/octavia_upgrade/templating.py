"""Sandboxed Jinja templating for runbook and flavor strings.

Two kinds of template exist:

* **command templates** (``with.command``, flavor actions): every value
  substituted by ``{{ ... }}`` is shell-quoted with :func:`shlex.quote`, so a
  parameter or host variable can never inject a command. Write ``{{ x | raw }}``
  only for values that are themselves trusted command fragments (flavor
  snippets); runbook lint warns about ``raw`` on parameters.
* **value templates** (``when``, ``assert.that``, messages): rendered without
  quoting.

Undefined names are errors (``StrictUndefined``), so a typo fails at plan time
instead of running a half-empty command on a production node.
"""

from __future__ import annotations

import shlex
from functools import cache, lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup


class _Raw(str):
    """A string that command rendering must not quote again."""


def _quote(value: Any) -> Any:
    if isinstance(value, (_Raw, Markup)):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return " ".join(shlex.quote(str(v)) for v in value)
    return shlex.quote("" if value is None else str(value))


def _raw(value: Any) -> _Raw:
    return _Raw("" if value is None else str(value))


def _shell_join(values: Any) -> _Raw:
    return _Raw(" ".join(shlex.quote(str(v)) for v in values))


def _base_env(finalize: Any = None) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False,
        finalize=finalize,
    )
    env.filters["raw"] = _raw
    env.filters["shell_join"] = _shell_join
    env.filters["quote"] = lambda v: _Raw(shlex.quote(str(v)))
    return env


@cache
def command_env() -> ImmutableSandboxedEnvironment:
    return _base_env(finalize=_quote)


@cache
def value_env() -> ImmutableSandboxedEnvironment:
    return _base_env()


# Compiling a template costs far more than rendering it, and a run renders
# the same few templates for every (step, host): compile each text once.
@lru_cache(maxsize=1024)
def _command_template(template: str) -> Template:
    return command_env().from_string(template)


@lru_cache(maxsize=1024)
def _value_template(template: str) -> Template:
    return value_env().from_string(template)


def render_command(template: str, context: dict[str, Any]) -> str:
    return _command_template(template).render(**context)


def render_value(template: str, context: dict[str, Any]) -> str:
    return _value_template(template).render(**context)


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    """Evaluate a condition. ``"{{ x }}"`` and bare ``x`` forms are both accepted."""
    expr = expression.strip()
    if expr.startswith("{{") and expr.endswith("}}"):
        expr = expr[2:-2]
    return value_env().compile_expression(expr)(**context)


def is_templated(value: str) -> bool:
    return "{{" in value or "{%" in value or "{#" in value


def parse(template: str) -> nodes.Template:
    """Parse without rendering; raises ``jinja2.TemplateSyntaxError``."""
    return value_env().parse(template)


def references(template: str) -> set[tuple[str, ...]]:
    """Attribute paths used in a template, e.g. ``{("params", "backup_dir")}``.

    Used by the loader to check that every ``params.X`` is declared and every
    ``outputs.STEP`` names an earlier step.
    """
    expr = template.strip()
    if expr.startswith("{{") and expr.endswith("}}") and expr.count("{{") == 1:
        source = template
    elif not is_templated(template):
        source = "{{ " + template + " }}"
    else:
        source = template
    return tree_references(parse(source))


def tree_references(tree: nodes.Node) -> set[tuple[str, ...]]:
    """Attribute paths used in an already parsed template (see :func:`references`)."""
    found: set[tuple[str, ...]] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        path: list[str] = []
        cur: Any = node
        while isinstance(cur, (nodes.Getattr, nodes.Getitem)):
            if isinstance(cur, nodes.Getattr):
                path.append(cur.attr)
            elif isinstance(cur.arg, nodes.Const) and isinstance(cur.arg.value, str):
                path.append(cur.arg.value)
            else:
                path.clear()
            cur = cur.node
        if isinstance(cur, nodes.Name) and path:
            found.add((cur.name, *reversed(path)))
    return found
