"""What a change board approved is what ran: `plan -f json` against `report -f json`."""

from __future__ import annotations

from typing import Any

from octavia_upgrade.reports.asplanned import compare


def assert_ran_as_planned(plan: dict[str, Any], report: dict[str, Any], run_id: str) -> int:
    """The run sent the plan's commands, byte for byte; returns how many were compared."""
    assert report["run"]["id"] == run_id
    result = compare(plan, report)
    assert result.ok, "\n".join(result.differences)
    return result.compared
