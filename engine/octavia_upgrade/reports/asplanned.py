"""Was what ran what the plan showed? A plan report against an execution report.

Both are the JSON documents the tool writes (`plan -f json`, `report RUN -f
json`): a change board keeps the first with its approval and can hold the
second against it later, with this module or by hand. Commands are matched by
the key the plan gives each one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from octavia_upgrade.commands import RUN_ID_TOKEN
from octavia_upgrade.statuses import ResultStatus


@dataclass
class Comparison:
    #: Commands sent that were compared with the plan.
    compared: int = 0
    #: Every difference, one line each (empty: the run sent what the plan showed).
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def compare(plan: Mapping[str, Any], report: Mapping[str, Any]) -> Comparison:
    """Every command an attempt sent against the plan's command of the same key.

    A command is as planned when its recorded plan text is the plan's, byte
    for byte, and what was sent is that text (with the run's id for the plan's
    ``{{ run.id }}``), or for a run-time template, its rendering. A step that
    succeeded must have sent every command the plan holds for its host.
    """
    run_id = str((report.get("run") or {}).get("id", ""))
    steps = {s["id"]: s for s in plan.get("procedure") or ()}
    out = Comparison()
    for step in report.get("steps") or ():
        planned_step = steps.get(step["id"])
        if planned_step is None:
            out.differences.append(f"{step['id']}: ran but is not in the plan")
            continue
        for host in step.get("hosts") or ():
            where = f"{step['id']} on {host['host']}"
            planned = {c["key"]: c for c in planned_step["commands"].get(host["host"], ())}
            for attempt in host.get("history") or ():
                for sent in attempt.get("commands") or ():
                    out.compared += 1
                    want = planned.get(sent["key"])
                    if want is None:
                        out.differences.append(f"{where}: sent {sent['key']!r}, which the plan "
                                               "does not hold")
                    elif sent["planned"] != want["text"]:
                        out.differences.append(f"{where}: {sent['key']} was planned as "
                                               f"{want['text']!r}, recorded as {sent['planned']!r}")
                    elif want["render"] and "{{" in sent["sent"]:
                        out.differences.append(f"{where}: {sent['key']} was sent unrendered")
                    elif not want["render"] and sent["sent"] != want["text"].replace(
                            RUN_ID_TOKEN, run_id):
                        out.differences.append(f"{where}: {sent['key']} sent {sent['sent']!r}, "
                                               f"planned {want['text']!r}")
                if attempt.get("status") == ResultStatus.SUCCEEDED:
                    missing = set(planned) - {c["key"] for c in attempt.get("commands") or ()}
                    if missing:
                        out.differences.append(f"{where}: succeeded without sending "
                                               f"{', '.join(sorted(missing))}")
    return out
