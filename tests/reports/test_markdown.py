"""Markdown execution report: snapshot of a deterministic run (golden file)."""

from __future__ import annotations

import os
from pathlib import Path

from octavia_upgrade.reports import execution_report, plan_report, render

GOLDEN = Path(__file__).parent / "golden"


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed; review the difference and re-run with UPDATE_GOLDEN=1 if intended")


def test_execution_markdown_snapshot(stored) -> None:  # type: ignore[no-untyped-def]
    text = render(execution_report(**stored("successful"), generated_at="2026-11-25T17:00:00Z"),
                  "markdown")
    _check("execution-successful.md", text)


def test_plan_markdown_snapshot() -> None:
    from reports import scenarios

    text = render(plan_report(scenarios.plan(), runbook=scenarios.runbook(),
                              generated_at="2026-11-24T09:00:00Z"), "markdown",
                  redact=lambda v: v.replace(scenarios.SECRET, "***") if isinstance(v, str) else v)
    _check("plan.md", text)


def test_markdown_reads_as_a_change_record(stored) -> None:  # type: ignore[no-untyped-def]
    text = render(execution_report(**stored("failed")), "markdown")
    # Deviations come before the step table, and name the failed step and host.
    assert text.index("## Deviations") < text.index("## Steps")
    dev = text[text.index("## Deviations"):text.index("## Steps")]
    assert "**failed** `db-migrate` on `ctl1`" in dev
    assert "| 8 | db-migrate | main | ctl1 | **failed** | 1 |" in text
    assert "## Provenance" in text and "9c1e4b7d2a5f60718293a4b5c6d7e8f901234567" in text
