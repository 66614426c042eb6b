"""Redact secrets from a report before it is rendered in any format.

The renderers walk the report's plain-data form and pass every string
through a redactor (``Callable[[Any], Any]``). The tool's logging redactor
is used when given; :func:`secret_redactor` is the built-in one: it masks
known secret values and the usual credential shapes (URL passwords,
``password=...``, ``--password ...``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

MASK = "***"

Redact = Callable[[Any], Any]

_PATTERNS = (
    # scheme://user:password@host
    (re.compile(r"(?P<k>[a-zA-Z][\w+.-]*://[^\s:/@]+:)(?P<v>[^\s@/]+)(?=@)"), r"\g<k>" + MASK),
    # password = x, secret: x, token=x (config lines, env assignments, JSON)
    (re.compile(r"(?i)(?P<k>\b[\w-]*(?:password|passwd|secret|token|api_key)[\w-]*\"?\s*[=:]\s*\"?)"
                r"(?P<v>[^\s\",;&']+)"), r"\g<k>" + MASK),
    # --password x, --password=x, -pSECRET (mysql clients)
    (re.compile(r"(?P<k>--(?:password|os-password|db-password)(?:=|\s+))(?P<v>'[^']*'|\"[^\"]*\"|\S+)"),
     r"\g<k>" + MASK),
)


def secret_redactor(secrets: Iterable[Any] = ()) -> Redact:
    """A redactor masking each of ``secrets`` (values shorter than 4 characters
    are masked only as whole words, to avoid mangling ordinary text) and common
    credential patterns."""
    values = sorted({str(s) for s in secrets if s is not None and str(s) != ""},
                    key=len, reverse=True)
    long_ = [re.escape(v) for v in values if len(v) >= 4]
    short = [re.escape(v) for v in values if len(v) < 4]
    parts = []
    if long_:
        parts.append("|".join(long_))
    if short:
        parts.append(r"\b(?:" + "|".join(short) + r")\b")
    exact = re.compile("|".join(parts)) if parts else None

    def redact(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if exact is not None:
            value = exact.sub(MASK, value)
        for pattern, repl in _PATTERNS:
            value = pattern.sub(repl, value)
        return value

    return redact


def redact_tree(value: Any, redact: Redact) -> Any:
    """Apply ``redact`` to every string (keys included) in plain data."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(k) if isinstance(k, str) else k: redact_tree(v, redact)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_tree(v, redact) for v in value]
    return value


def as_redact(redactor: Any) -> Redact | None:
    """A one-argument callable from a redactor: a function, or an object with ``redact()``
    (such as :class:`octavia_upgrade.logs.Redactor`)."""
    if redactor is None:
        return None
    method = getattr(redactor, "redact", None)
    if callable(method):
        return method  # type: ignore[no-any-return]
    if callable(redactor):
        return redactor  # type: ignore[no-any-return]
    raise TypeError(f"not a redactor: {redactor!r}")


def chain(*redactors: Any) -> Redact:
    """Apply several redactors in turn (e.g. the logging one and the built-in one)."""
    active = [as_redact(r) for r in redactors if r is not None]

    def redact(value: Any) -> Any:
        for r in active:
            value = r(value)
        return value

    return redact
