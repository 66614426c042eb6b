"""Writing a composed runbook as runbook format v2, in the house style.

This module is the only place that knows how the format spells what the
source states once:

* ``when`` is a bare expression, as ``assert``'s ``that`` is written;
* ``rollback:`` is listed in the order it runs;
* a service step's ``targets`` is left out where its ``services`` already
  decide the hosts (the hosts with one of those roles);
* a step's ``timeout`` and ``retry`` are written only where they differ from
  its kind's default (:mod:`octavia_upgrade.steps.args`, the one place those
  defaults live): the engine supplies the rest, and ``plan`` shows them.

A format change to any of these is a change here (:func:`file_step`,
:func:`file_steps`), not in the 18 runbooks.

House style: short mappings and lists in flow style
(``with: {action: stop, services: [api]}``), long texts as folded ``>-``
blocks, with the source's line breaks where it wrote one, else wrapped before
:data:`WIDTH` columns, step fields in
:data:`~octavia_upgrade.authoring.source.STEP_FIELDS` order, the source's
comments above the steps and a rule line per stage of the guide. The output
is checked by loading it back: what a reviewer reads is what was meant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from octavia_upgrade.authoring.model import Composed, Folded, Stage, Step
from octavia_upgrade.authoring.source import STEP_FIELDS
from octavia_upgrade.model import RUNBOOK_V2, Retry, parse_duration

#: The format the rendered runbooks are written in.
API_VERSION = RUNBOOK_V2

#: Folded texts are wrapped so that lines stay within this many columns.
WIDTH = 100
#: A mapping or list is written on one line when it fits in this many columns
#: and none of its texts is longer than :data:`FLOW_TEXT`.
FLOW_WIDTH = 120
FLOW_TEXT = 40
RULE = "-" * 64


class EmitError(RuntimeError):
    """The emitted text does not load back as the data it was written from (a bug)."""


def file_step(step: Step) -> dict[str, Any]:
    """A composed step as the file's fields, in the emitter's field order."""
    fields = dict(step.fields)
    fields["id"] = step.id
    if isinstance(fields.get("when"), str):
        fields["when"] = fields["when"].strip()
    _kind_defaults_out(fields)
    return {k: fields[k] for k in STEP_FIELDS if k in fields}


def _kind_defaults_out(fields: dict[str, Any]) -> None:
    """Drop what the kind supplies: ``targets`` its services decide, ``timeout``/``retry``
    equal to its defaults; pin a retry the kind would add."""
    from octavia_upgrade.steps.args import ARGS

    kind = fields.get("kind")
    if kind not in ARGS:
        return  # the engine's lint of the rendered text reports it
    args = ARGS[kind].parse(fields.get("with") or {})
    targets = fields.get("targets")
    if (kind == "service" and args.services and isinstance(targets, Mapping)
            and set(targets) == {"roles"} and set(targets["roles"]) == set(args.services)):
        del fields["targets"]  # the services already decide the hosts
    timeout = fields.get("timeout")
    if timeout is not None and parse_duration(timeout) == args.default_timeout():
        del fields["timeout"]
    raw = fields.get("retry")
    retry = Retry() if raw is None else Retry(
        attempts=int(raw.get("attempts", 1)), delay=parse_duration(raw.get("delay", 0)),
        backoff=float(raw.get("backoff", 1)))
    if retry == args.default_retry():
        fields.pop("retry", None)
    elif raw is None:
        fields["retry"] = {"attempts": 1}


def file_steps(stage: Stage) -> tuple[Step, ...]:
    """A stage's steps in the order the file lists them (the order they run)."""
    return stage.steps


def file_data(c: Composed) -> dict[str, Any]:
    """The runbook as the data the file holds (what the text must load as)."""
    data: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "Runbook",
                            "metadata": dict(c.metadata),
                            "parameters": {k: dict(v) for k, v in c.parameters.items()}}
    if c.max_failures is not None:
        data["max_failures"] = c.max_failures
    for part in ("steps", "rollback", "finally"):
        steps = [file_step(s) for st in c.part(part) for s in file_steps(st)]
        if steps or part == "steps":
            data[part] = steps
    return data


def emit(c: Composed) -> str:
    """The runbook file's text; raises :class:`EmitError` if it would not load back."""
    lines = _comment(c.header, 0)
    lines += ["apiVersion: " + API_VERSION, "kind: Runbook", "metadata:"]
    for key, value in c.metadata.items():
        lines += _field(key, value, 2, flow=key != "references")
    if c.parameters:
        lines.append("parameters:")
        for name, spec in c.parameters.items():
            lines.append(f"  {name}:")
            for key, value in spec.items():
                lines += _field(key, value, 4)
    if c.max_failures is not None:
        lines.append(f"max_failures: {_scalar(c.max_failures)}")
    for part in ("steps", "rollback", "finally"):
        stages = c.part(part)
        if not any(st.steps for st in stages) and part != "steps":
            continue
        if part != "steps":
            lines += [line for st in stages for line in _comment(st.comment, 0)]
        lines.append(f"{part}:" if any(st.steps for st in stages) else f"{part}: []")
        for st in stages:
            if part == "steps" and st.steps:
                if st.title:
                    lines.append(f"  # {RULE} {st.title}")
                lines += _comment(st.comment, 2)
            for step in file_steps(st):
                lines += _step(step)
    text = "\n".join(lines) + "\n"
    loaded = yaml.safe_load(text)
    if loaded != file_data(c):
        raise EmitError(f"{c.name}: the emitted runbook does not load back as composed")
    return text


def _comment(text: str, indent: int) -> list[str]:
    pad = " " * indent
    return [f"{pad}# {line}".rstrip() for line in text.splitlines()] if text.strip() else []


def _step(step: Step) -> list[str]:
    lines = _comment(step.comment, 2)
    for i, (key, value) in enumerate(file_step(step).items()):
        field = _field(key, value, 4)
        if i == 0:
            field[0] = "  - " + field[0][4:]
        lines += field
    return lines


def _field(key: str, value: Any, indent: int, *, flow: bool = True) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        line = f"{pad}{key}: {_flow(dict(value))}"
        if flow and value and _short(value) and len(line) <= FLOW_WIDTH:
            return [line]
        if not value:
            return [f"{pad}{key}: {{}}"]
        return [f"{pad}{key}:"] + [ln for k, v in value.items() for ln in _field(k, v, indent + 2)]
    if isinstance(value, list):
        line = f"{pad}{key}: {_flow(value)}"
        if (flow or not value) and _short(value) and len(line) <= FLOW_WIDTH:
            return [line]
        out = [f"{pad}{key}:"]
        for item in value:
            out += [f"{pad}  - {_flow(item) if isinstance(item, (dict, list)) else _scalar(item)}"]
        return out
    if isinstance(value, Folded) and _foldable(value):
        return [f"{pad}{key}: >-"] + [f"{pad}  {line}" for line in value.lines]
    line = f"{pad}{key}: {_scalar(value)}"
    if isinstance(value, str) and len(line) > WIDTH and _foldable(value):
        return [f"{pad}{key}: >-"] + _wrap(value, indent + 2)
    return [line]


def _short(value: Any) -> bool:
    if isinstance(value, Mapping):
        return all(_short(v) for v in value.values())
    if isinstance(value, list):
        return all(_short(v) for v in value)
    return not isinstance(value, str) or len(value) <= FLOW_TEXT


def _foldable(text: str) -> bool:
    """A text a ``>-`` block gives back unchanged: one line, single spaces, printable."""
    return (text == text.strip() and "\n" not in text and "  " not in text
            and "\t" not in text and text.isprintable())


def _wrap(text: str, indent: int) -> list[str]:
    """Fill lines up to :data:`WIDTH`; a Jinja ``{{ … }}``/``{% … %}`` stays on one line."""
    pad = " " * indent
    lines: list[str] = []
    current = ""
    for word in _words(text):
        if current and len(pad) + len(current) + 1 + len(word) > WIDTH:
            lines.append(pad + current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(pad + current)
    return lines


def _words(text: str) -> list[str]:
    """Space-separated words, a Jinja expression or tag glued to its neighbours."""
    words: list[str] = []
    depth = 0
    for word in text.split(" "):
        if depth and words:
            words[-1] += " " + word
        else:
            words.append(word)
        depth += word.count("{{") + word.count("{%") - word.count("}}") - word.count("%}")
        depth = max(depth, 0)
    return words


def _scalar(value: Any) -> str:
    """A scalar in block context: plain when YAML allows it, else double-quoted."""
    value = str(value) if isinstance(value, str) else value
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True)
    return _double(value, text.removesuffix("\n").removesuffix("\n...").rstrip("\n"))


def _flow(value: Any) -> str:
    """A mapping, list or scalar in flow context (``{a: 1, b: [x, y]}``)."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    value = str(value) if isinstance(value, str) else value
    text = yaml.safe_dump([value], default_flow_style=True, width=10**9, allow_unicode=True)
    return _double(value, text.strip()[1:-1])


def _double(value: Any, text: str) -> str:
    """House style: ``"{{ x }}"`` rather than YAML's ``'{{ x }}'`` where both are exact."""
    if (isinstance(value, str) and text.startswith("'") and '"' not in value
            and "\\" not in value and value.isprintable()):
        return f'"{value}"'
    return text
