"""A plan report against an execution report: the differences a reviewer must see."""

from __future__ import annotations

import copy
from typing import Any

from octavia_upgrade.reports.asplanned import compare

RUN = "20261205-120000-beef"
PLAN: dict[str, Any] = {"procedure": [
    {"id": "stop-api", "commands": {"ctl1": [
        {"key": "stop:api", "text": "systemctl stop octavia-api", "note": "", "render": ""},
        {"key": "verify:api", "text": "systemctl is-active --quiet octavia-api", "note": "",
         "render": ""}]}},
    {"id": "db-backup", "commands": {"ctl1": [
        {"key": "dump", "text": "dump > '/b/octavia-{{ run.id }}.sql.gz'", "note": "",
         "render": ""}]}},
    {"id": "echo", "commands": {"ctl1": [
        {"key": "command", "text": "echo {{ outputs.a.b }}", "note": "", "render": "shell"}]}},
]}


def attempt(*sent: tuple[str, str, str], status: str = "succeeded") -> dict[str, Any]:
    return {"status": status, "commands": [{"key": k, "planned": p, "sent": s}
                                           for k, p, s in sent]}


def report(**steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"run": {"id": RUN}, "steps": [
        {"id": sid.replace("_", "-"), "hosts": [{"host": "ctl1", "history": history}]}
        for sid, history in steps.items()]}


STOP = attempt(("stop:api", "systemctl stop octavia-api", "systemctl stop octavia-api"),
               ("verify:api", "systemctl is-active --quiet octavia-api",
                "systemctl is-active --quiet octavia-api"))
DUMP = attempt(("dump", "dump > '/b/octavia-{{ run.id }}.sql.gz'",
                f"dump > '/b/octavia-{RUN}.sql.gz'"))
ECHO = attempt(("command", "echo {{ outputs.a.b }}", "echo 42"))


def test_a_run_that_sent_the_plan_is_as_planned() -> None:
    result = compare(PLAN, report(stop_api=[STOP], db_backup=[DUMP], echo=[ECHO]))
    assert result.ok and result.compared == 4


def test_every_kind_of_difference_is_named() -> None:
    changed = copy.deepcopy(STOP)
    changed["commands"][0]["sent"] = "systemctl kill octavia-api"
    unplanned = attempt(("stop:worker", "systemctl stop octavia-worker", "x"), status="failed")
    partial = attempt(("stop:api", "systemctl stop octavia-api", "systemctl stop octavia-api"))
    wrong_id = attempt(("dump", "dump > '/b/octavia-{{ run.id }}.sql.gz'",
                        "dump > '/b/octavia-other.sql.gz'"))
    raw = attempt(("command", "echo {{ outputs.a.b }}", "echo {{ outputs.a.b }}"))
    result = compare(PLAN, report(stop_api=[changed, unplanned, partial], db_backup=[wrong_id],
                                  echo=[raw], extra=[]))
    text = "\n".join(result.differences)
    assert "stop-api on ctl1: stop:api sent 'systemctl kill octavia-api'" in text
    assert "sent 'stop:worker', which the plan does not hold" in text
    assert "stop-api on ctl1: succeeded without sending verify:api" in text
    assert "db-backup on ctl1: dump sent" in text
    assert "echo on ctl1: command was sent unrendered" in text
    assert "extra: ran but is not in the plan" in text
    assert not result.ok
