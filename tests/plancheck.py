"""What a change board approved is what ran: `plan -f json` against `report -f json`."""

from __future__ import annotations

from typing import Any

RUN_ID_TOKEN = "{{ run.id }}"


def assert_ran_as_planned(plan: dict[str, Any], report: dict[str, Any], run_id: str) -> int:
    """Every command an attempt sent is the plan's command for that (step, host).

    Byte for byte, found by its key; where the plan holds a run-time value (the
    run's id, an earlier step's output) the record shows the plan's text beside
    the one sent. A step that succeeded sent every command the plan holds for
    it. Returns how many commands were compared.
    """
    steps = {s["id"]: s for s in plan["procedure"]}
    checked = 0
    for step in report["steps"]:
        for host in step["hosts"]:
            planned = {c["key"]: c for c in steps[step["id"]]["commands"][host["host"]]}
            for attempt in host["history"]:
                for sent in attempt["commands"]:
                    want = planned[sent["key"]]
                    assert sent["planned"] == want["text"], (step["id"], host["host"], sent)
                    if want["render"]:
                        assert "{{" not in sent["sent"], sent
                    else:
                        assert sent["sent"] == want["text"].replace(RUN_ID_TOKEN, run_id), sent
                    checked += 1
                if attempt["status"] == "succeeded":
                    assert {c["key"] for c in attempt["commands"]} == set(planned), (
                        step["id"], host["host"])
    return checked
