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

What a template may do is checked statically at load
(:mod:`octavia_upgrade.template_safety`); the sandbox here enforces the same
lists when rendering, as a second line of defence: mappings expose their
keys only (``params.items`` is the parameter ``items``, never a method),
only allowed filters, ``range`` and string methods can be called, ``range``,
``*``, ``**`` and ``replace`` are bounded, and ``%`` does not format strings. Whatever
the sandbox refuses becomes an :class:`~octavia_upgrade.errors.InvalidInput`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from octavia_upgrade import template_safety as policy
from octavia_upgrade.errors import InvalidInput

#: Longest text or list ``*`` may build, and the largest result ``**`` may compute (bits).
MAX_REPEAT = 1_000_000
MAX_POWER_BITS = 4096


class _Raw(str):
    """A string that command rendering must not quote again."""


class Deferred(list):  # type: ignore[type-arg]
    """A list known only at run time: renders as the template that fills it in then.

    A planned command holding it is marked ``render="shell"``, so the executor
    renders ``{{ <expression> | shell_join }}`` with the run's outputs.
    """

    def __init__(self, expression: str) -> None:
        super().__init__()
        self.expression = expression

    @property
    def template(self) -> _Raw:
        return _Raw("{{ " + self.expression + " | shell_join }}")


def _quote(value: Any) -> Any:
    if isinstance(value, Deferred):
        return value.template
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
    if isinstance(values, Deferred):
        return values.template
    return _Raw(" ".join(shlex.quote(str(v)) for v in values))


def _check_replace(text: str, old: str, new: str, count: int | None = None) -> None:
    times = text.count(old) + (1 if old == "" else 0)
    if count is not None and count >= 0:
        times = min(times, count)
    if len(text) + times * len(new) > MAX_REPEAT:
        raise SecurityError(f"replace() would build more than {MAX_REPEAT} characters")


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    """Jinja's ``replace`` filter (no autoescape here), bounded like ``*``."""
    text, old, new = str(value), str(old), str(new)
    _check_replace(text, old, new, count)
    return text.replace(old, new, -1 if count is None else count)


def _range(*args: int) -> range:
    r = range(*args)
    if len(r) > policy.MAX_RANGE:
        raise SecurityError(f"range() of {len(r)} items; templates allow at most "
                            f"{policy.MAX_RANGE}")
    return r


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox with the tool's policy (see :mod:`octavia_upgrade.template_safety`)."""

    intercepted_binops = frozenset({"%", "*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # ``params.items`` is the key "items": a mapping never shows its methods.
        if isinstance(obj, Mapping):
            if attribute in obj and not policy.unsafe_name(attribute):
                return obj[attribute]
            return self.undefined(obj=obj, name=attribute)
        if policy.unsafe_name(attribute):
            return self.unsafe_undefined(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str) and policy.unsafe_name(argument):
            return self.unsafe_undefined(obj, argument)
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any,  # noqa: N805 - as Jinja's
             **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "")
        owner = getattr(__obj, "__self__", None)
        if not (__obj is _range or (isinstance(owner, str) and name in policy.METHODS)):
            raise SecurityError(f"calling {name or type(__obj).__name__}() is not allowed")
        if name == "replace" and len(args) >= 2:
            _check_replace(owner, str(args[0]), str(args[1]), *args[2:3])
        return __obj(*args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%":
            if isinstance(left, str):
                raise SecurityError("the % operator does not format text in templates")
            return left % right
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) \
                        and len(seq) * n > MAX_REPEAT:
                    raise SecurityError(f"* would build {len(seq) * n} items; templates "
                                        f"allow at most {MAX_REPEAT}")
            return left * right
        if isinstance(left, int) and isinstance(right, int) and right > 0 \
                and abs(left) > 1 and left.bit_length() * right > MAX_POWER_BITS:
            raise SecurityError(f"** result too large (templates allow {MAX_POWER_BITS} bits)")
        try:
            return left**right
        except OverflowError:
            raise SecurityError("** result too large") from None


def _base_env(finalize: Any = None) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False,
        finalize=finalize,
    )
    env.filters["raw"] = _raw
    env.filters["shell_join"] = _shell_join
    env.filters["quote"] = lambda v: _Raw(shlex.quote(str(v)))
    env.filters["replace"] = _replace
    env.filters = {k: v for k, v in env.filters.items() if k in policy.FILTERS}
    env.tests = {k: v for k, v in env.tests.items() if k in policy.TESTS}
    env.globals = {"range": _range}
    return env


def known_filters() -> frozenset[str]:
    """Every filter name Jinja or this tool defines (allowed or not)."""
    from jinja2.filters import FILTERS

    return frozenset(FILTERS) | {"raw", "shell_join", "quote"}


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


def _refused(exc: SecurityError | TemplateSyntaxError, template: str) -> InvalidInput:
    first = template.strip().splitlines()[0] if template.strip() else ""
    return InvalidInput(f"template refused by the sandbox: {exc} (in {first[:80]!r})")


def _undefined(exc: UndefinedError, template: str) -> InvalidInput:
    first = template.strip().splitlines()[0] if template.strip() else ""
    return InvalidInput(f"undefined value in template {first[:80]!r}: {exc}")


def render_command(template: str, context: dict[str, Any]) -> str:
    try:
        return _command_template(template).render(**context)
    except (SecurityError, TemplateSyntaxError) as exc:
        raise _refused(exc, template) from None
    except UndefinedError as exc:
        raise _undefined(exc, template) from None


def render_value(template: str, context: dict[str, Any]) -> str:
    try:
        return _value_template(template).render(**context)
    except (SecurityError, TemplateSyntaxError) as exc:
        raise _refused(exc, template) from None
    except UndefinedError as exc:
        raise _undefined(exc, template) from None


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    """Evaluate a condition. ``"{{ x }}"`` and bare ``x`` forms are both accepted."""
    expr = expression.strip()
    if expr.startswith("{{") and expr.endswith("}}"):
        expr = expr[2:-2]
    try:
        value = value_env().compile_expression(expr, undefined_to_none=False)(**context)
        if isinstance(value, Undefined):
            if issubclass(value._undefined_exception, SecurityError):
                value._fail_with_undefined_error()  # a refused access, not a falsy None
            return None
        return value
    except (SecurityError, TemplateSyntaxError) as exc:
        raise _refused(exc, expression) from None


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
