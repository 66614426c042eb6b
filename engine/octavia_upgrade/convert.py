"""Convert a v1 runbook to the v2 format, keeping its meaning, its layout and its comments.

What changes between the formats (docs/runbook-format.md):

* ``rollback:`` is listed in the order it runs (v1 listed it bottom-up), so
  its items are put in the opposite order, each with the comments above it;
* ``when:`` is a bare expression like ``that:`` (v1 wrote ``"{{ x }}"``);
* a step that states no ``retry`` takes its kind's default retry in v2; where
  that default would retry and v1 did not, ``retry: {attempts: 1}`` is added;
* a step that states no ``timeout`` takes its kind's default timeout in v2.
  v2 has no way to say "no limit" for those kinds, so such steps are listed
  in the conversion notes for the author to review.

The conversion works on the text, line by line, so that comments and the
author's layout survive; the result is checked by loading both files and
comparing the steps they define.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from octavia_upgrade import model
from octavia_upgrade.errors import InvalidInput

_API = re.compile(r"^(apiVersion:\s*)(['\"]?)octavia-upgrade/v1\2\s*$", re.M)
_WHEN = re.compile(r"^(?P<lead>\s*(?:-\s+)?when:\s*)(?P<q>['\"]?)\{\{\s*(?P<expr>.*?)\s*\}\}(?P=q)"
                   r"(?P<tail>\s*(?:#.*)?)$")
_FLOW_WHEN = re.compile(r"(?P<lead>[{,]\s*when:\s*)(?P<q>['\"])\{\{\s*(?P<expr>.*?)\s*\}\}(?P=q)")
_SECTION = re.compile(r"^(?P<name>[A-Za-z_]+):\s*(?:#.*)?$")
_ITEM = re.compile(r"^(?P<indent>\s*)-\s")


@dataclass
class Conversion:
    text: str
    notes: list[str] = field(default_factory=list)


def convert_text(text: str, path: str = "<runbook>") -> Conversion:
    """The v2 text of a v1 runbook, and notes for what needs the author's eye.

    Raises:
        InvalidInput: the file is not a v1 runbook, or the converted text
            does not define the same steps (a layout this converter cannot
            handle: nothing is written then).
    """
    from octavia_upgrade.loader import load_runbook_text

    before = load_runbook_text(text, path)
    if before.api_version != model.RUNBOOK_V1:
        raise InvalidInput(f"{path}: not an octavia-upgrade/v1 runbook (apiVersion "
                           f"{before.api_version}); nothing to convert")
    lines = text.splitlines(keepends=True)
    lines = [_unbrace_when(line) for line in lines]
    lines = _reverse_rollback(lines, path)
    out = _API.sub(r"\1\2octavia-upgrade/v2\2", "".join(lines), count=1)
    notes: list[str] = []
    out = _pin_retries(out, before, notes, path)
    after = load_runbook_text(out, path)
    _check_same(before, after, notes, path)
    return Conversion(out, notes)


def _unbrace_when(line: str) -> str:
    m = _WHEN.match(line.rstrip("\n"))
    if m and "{{" not in m.group("expr"):
        expr = m.group("expr")
        if m.group("q") == '"':
            expr = expr.replace('\\"', '"')
        end = "\n" if line.endswith("\n") else ""
        return f"{m.group('lead')}{_scalar(expr)}{m.group('tail')}{end}"
    # A step written as one flow mapping: `- {id: x, when: "{{ y }}", ...}`.
    return _FLOW_WHEN.sub(lambda f: f"{f.group('lead')}{_scalar(f.group('expr'), flow=True)}"
                          if "{{" not in f.group("expr") else f.group(0), line)


def _scalar(expr: str, *, flow: bool = False) -> str:
    """``expr`` as a YAML scalar: plain where it reads back as the same string."""
    import yaml

    probe = f"{{k: {expr}}}" if flow else f"k: {expr}"
    try:
        if yaml.safe_load(probe) == {"k": expr}:
            return expr
    except yaml.YAMLError:
        pass
    return '"' + expr.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reverse_rollback(lines: list[str], path: str) -> list[str]:
    start = next((i for i, ln in enumerate(lines)
                  if (m := _SECTION.match(ln)) and m.group("name") == "rollback"), None)
    if start is None:
        return lines
    end = next((i for i in range(start + 1, len(lines))
                if _SECTION.match(lines[i]) or (lines[i][:1] not in (" ", "-", "#", "\n", "")
                                                and lines[i].strip())), len(lines))
    body = lines[start + 1:end]
    # Comments and blank lines right before the next top-level key belong to it.
    while body and (not body[-1].strip() or body[-1].lstrip().startswith("#")) \
            and not body[-1].startswith(" "):
        end -= 1
        body = body[:-1]
    indent = next((m.group("indent") for ln in body if (m := _ITEM.match(ln))), None)
    if indent is None:
        if any(ln.strip() and not ln.lstrip().startswith("#") for ln in body):
            raise InvalidInput(f"{path}:{start + 1}: rollback is not a block list; convert it "
                               "by hand (list the steps in the order they run)")
        return lines
    items: list[list[str]] = []
    pending: list[str] = []
    for ln in body:
        stripped = ln.strip()
        if _ITEM.match(ln) and len(_ITEM.match(ln).group("indent")) == len(indent):  # type: ignore[union-attr]
            items.append(pending + [ln])
            pending = []
        elif not stripped or (stripped.startswith("#") and not items):
            pending.append(ln)
        elif stripped.startswith("#") and ln.startswith(indent) and not ln.startswith(indent + " "):
            pending.append(ln)  # a comment at item level introduces the next item
        elif items:
            items[-1].extend(pending + [ln])
            pending = []
        else:
            pending.append(ln)
    tail = pending
    items.reverse()
    return lines[:start + 1] + [ln for item in items for ln in item] + tail + lines[end:]


def _pin_retries(text: str, before: model.Runbook, notes: list[str], path: str) -> str:
    from octavia_upgrade.loader import load_runbook_text

    draft = load_runbook_text(text, path)
    lines = text.splitlines(keepends=True)
    inserts: list[tuple[int, str]] = []
    for old, new in zip(before.all_steps(), _by_id(draft, before)):
        if new.retry != old.retry and old.retry == model.Retry():
            inserts.append((_step_line(lines, new), "retry: {attempts: 1}"))
        if old.timeout is None and new.timeout is not None:
            notes.append(f"{path}:{new.pos.line}: step {new.id}: v1 set no timeout; in v2 it takes "
                         f"the {new.kind} default of {new.timeout:g}s (state a longer one if "
                         "it needs more)")
    for line, field_ in sorted(inserts, reverse=True):
        flow = re.match(r"^\s*-\s*\{\s*id:\s*[^,}]+,\s*", lines[line])
        if flow:  # a step written as one flow mapping: the field goes inside it
            lines[line] = f"{flow.group(0)}{field_}, {lines[line][flow.end():]}"
        else:
            lines.insert(line + 1, f"{_field_indent(lines, line)}{field_}\n")
    return "".join(lines)


def _by_id(runbook: model.Runbook, like: model.Runbook) -> list[model.Step]:
    return [runbook.step(s.id) for s in like.all_steps()]


def _step_line(lines: list[str], step: model.Step) -> int:
    """Index of the line holding the step's ``id``."""
    i = step.pos.line - 1
    for j in range(i, min(i + 3, len(lines))):
        if re.search(rf"\bid:\s*['\"]?{re.escape(step.id)}['\"]?", lines[j]):
            return j
    raise InvalidInput(f"cannot find step {step.id} at line {step.pos.line}: convert by hand")


def _field_indent(lines: list[str], line: int) -> str:
    m = re.match(r"^(\s*)(-\s+)?", lines[line])
    assert m is not None
    return m.group(1) + (" " * len(m.group(2)) if m.group(2) else "")


def _check_same(before: model.Runbook, after: model.Runbook, notes: list[str],
                path: str) -> None:
    def key(s: model.Step) -> model.Step:
        return replace(s, pos=model.Pos(""), timeout=None)

    if [key(s) for s in before.all_steps()] != [key(s) for s in after.all_steps()] or \
            [s.id for s in before.rollback] != [s.id for s in after.rollback]:
        raise InvalidInput(f"{path}: the converted runbook would not define the same steps "
                           "(a layout this converter does not handle): convert it by hand")
