"""Conditions on a hop (``only_if``) and ``${name}`` variables of the source.

A condition is a fact of one side of the hop, read from the release catalog,
optionally negated, or a comparison of one side with a series::

    from.octavia_status        to.driver_agent        not to.octavia_lib
    from >= ussuri             to < stein

Facts: ``octavia_status``, ``driver_agent``, ``slurp``, ``kolla_driver_agent``
(catalog booleans) and
``octavia_lib`` (the release ships octavia-lib). Comparisons follow the
catalog order. Nothing is evaluated as code.

Variables: ``${name}`` inside a string is replaced by the variable's text; a
string that is exactly ``${name}`` takes the variable's value (e.g. a list).
Built-in variables are listed in :func:`builtin_vars`; the shared source and
the hop add their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from octavia_upgrade.authoring.model import Folded
from octavia_upgrade.catalog import Catalog, Release

FACTS = ("octavia_status", "driver_agent", "slurp", "kolla_driver_agent", "octavia_lib")
_FACT = re.compile(r"^(not\s+)?(from|to)\.([a-z_]+)$")
_COMPARE = re.compile(r"^(from|to)\s*(>=|<=|==|!=|>|<)\s*([a-z]+)$")
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConditionError(ValueError):
    """A condition or variable the source cannot use (message says why)."""


def check_condition(text: str, catalog: Catalog) -> None:
    """Raise :class:`ConditionError` unless ``text`` is a valid condition."""
    fact = _FACT.match(text.strip())
    if fact:
        if fact.group(3) not in FACTS:
            raise ConditionError(f"unknown fact {fact.group(3)!r} in {text!r}; "
                                 f"known: {', '.join(FACTS)}")
        return
    cmp = _COMPARE.match(text.strip())
    if not cmp:
        raise ConditionError(f"cannot read condition {text!r}: write e.g. 'from.octavia_status', "
                             "'not to.driver_agent' or 'from >= ussuri'")
    if cmp.group(3) not in catalog.names():
        raise ConditionError(f"unknown series {cmp.group(3)!r} in {text!r}")


def holds(conditions: tuple[str, ...], src: Release, dst: Release, catalog: Catalog) -> bool:
    """True when every condition holds for the hop ``src`` → ``dst``."""
    return all(_holds(c.strip(), src, dst, catalog) for c in conditions)


def _holds(text: str, src: Release, dst: Release, catalog: Catalog) -> bool:
    check_condition(text, catalog)
    fact = _FACT.match(text)
    if fact:
        rel = src if fact.group(2) == "from" else dst
        name = fact.group(3)
        value = (bool(rel.octavia_lib_versions) if name == "octavia_lib"
                 else bool(getattr(rel, name)))
        return not value if fact.group(1) else value
    cmp = _COMPARE.match(text)
    assert cmp is not None
    names = catalog.names()
    left = names.index((src if cmp.group(1) == "from" else dst).series)
    right = names.index(cmp.group(3))
    return {">=": left >= right, "<=": left <= right, "==": left == right,
            "!=": left != right, ">": left > right, "<": left < right}[cmp.group(2)]


def builtin_vars(src: Release, dst: Release, migrations: tuple[str, ...]) -> dict[str, Any]:
    """The variables every source may use for a hop."""
    to_name = dst.series.capitalize()
    article = "an" if to_name[0] in "AEIOU" else "a"
    count = len(migrations)
    return {
        "from": src.series, "to": dst.series,
        "From": src.series.capitalize(), "To": to_name,
        "a_To": f"{article} {to_name}", "A_To": f"{article.capitalize()} {to_name}",
        "from_label": src.label, "to_label": dst.label,
        "from_major": src.octavia_major, "to_major": dst.octavia_major,
        "name": f"{src.series}-to-{dst.series}",
        "migration_count": count,
        "migrations": f"{count} migration" + ("" if count == 1 else "s"),
        "migration_ids": ", ".join(migrations),
        "migrations_summary": f"{count} ({', '.join(migrations)})" if count else "0",
    }


def substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    """``value`` with every ``${name}`` replaced, through lists and mappings."""
    if isinstance(value, str):
        whole = VAR.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), variables)
        text = VAR.sub(lambda m: str(_lookup(m.group(1), variables)), value)
        if isinstance(value, Folded):
            lines = tuple(VAR.sub(lambda m: str(_lookup(m.group(1), variables)), line)
                          for line in value.lines)
            return Folded(text, lines) if " ".join(lines) == text else text
        return text
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value


def _lookup(name: str, variables: Mapping[str, Any]) -> Any:
    if name not in variables:
        raise ConditionError(f"unknown variable ${{{name}}}; known: {', '.join(sorted(variables))}")
    return variables[name]
