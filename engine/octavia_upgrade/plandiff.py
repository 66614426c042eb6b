"""Comparing two plans: the one a run recorded and the one rebuilt to resume it.

Pure: plain dicts (``Plan.to_dict()`` or the stored JSON) in, a readable
unified diff out. Only what legitimately differs between two builds of the
same plan is left out of the comparison: the duration estimates, which come
from the history of earlier runs, and the bastions on the way to each host
(``proxy_jump``), which come from the ssh_config of the machine and operator
that resume (another shift, another machine): they change the road, not the
commands a host runs nor whom they run as, and the target's host key is
checked either way.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from typing import Any

#: Fields of a planned step that differ between two builds of the same plan.
STEP_FIELDS_IGNORED = ("estimate",)
#: Fields of a plan's host entry that differ between two builds of the same plan.
HOST_FIELDS_IGNORED = ("proxy_jump",)
#: A diff is cut after this many lines (the rest is counted, not shown).
MAX_DIFF_LINES = 80


def comparable(plan: Mapping[str, Any]) -> dict[str, Any]:
    """``plan`` as JSON data without the fields two builds may legitimately disagree on."""
    data = json.loads(json.dumps(plan, default=str))
    for step in data.get("steps") or ():
        for name in STEP_FIELDS_IGNORED:
            step.pop(name, None)
    for host in data.get("hosts") or ():
        for name in HOST_FIELDS_IGNORED:
            host.pop(name, None)
    return data


def differences(recorded: Mapping[str, Any], rebuilt: Mapping[str, Any],
                redact: Callable[[Any], Any] = lambda v: v,
                max_lines: int = MAX_DIFF_LINES) -> str:
    """A unified diff of the parts of two plans that differ; ``""`` when they are the same.

    Each differing top-level field, and each differing step (by id), is shown
    on its own with a little context. ``redact`` masks secrets in both sides;
    the diff is cut after ``max_lines`` lines.
    """
    old, new = comparable(recorded), comparable(rebuilt)
    parts: list[str] = []
    for name in _keys(old, new):
        if name == "steps":
            continue
        if old.get(name) != new.get(name):
            parts += _diff(name, {name: old.get(name)} if name in old else None,
                           {name: new.get(name)} if name in new else None, redact)
    old_steps = {s.get("id"): s for s in old.get("steps") or ()}
    new_steps = {s.get("id"): s for s in new.get("steps") or ()}
    if [*old_steps] != [*new_steps] and set(old_steps) == set(new_steps):
        parts += _diff("step order", {"steps": [*old_steps]}, {"steps": [*new_steps]}, redact)
    for sid in _keys(old_steps, new_steps):
        if old_steps.get(sid) != new_steps.get(sid):
            parts += _diff(f"step {sid}", old_steps.get(sid), new_steps.get(sid), redact)
    if len(parts) > max_lines:
        parts = parts[:max_lines] + [f"... ({len(parts) - max_lines} more lines)"]
    return "\n".join(parts)


def _keys(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> list[Any]:
    return [*a, *(k for k in b if k not in a)]


def _diff(title: str, old: Any, new: Any, redact: Callable[[Any], Any]) -> list[str]:
    def lines(value: Any) -> list[str]:
        if value is None:
            return []
        return _dump(redact(value)).splitlines()

    return list(difflib.unified_diff(lines(old), lines(new), fromfile=f"recorded: {title}",
                                     tofile=f"now: {title}", n=2, lineterm=""))


def _dump(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, width=100,
                          allow_unicode=True)
