"""A secret never appears in any report format."""

from __future__ import annotations

import pytest

from octavia_upgrade.logs import Redactor
from octavia_upgrade.reports import FORMATS, execution_report, render, render_plan_report
from octavia_upgrade.reports.redaction import secret_redactor
from reports import scenarios


@pytest.mark.parametrize("fmt", FORMATS)
def test_plan_report_hides_secret_parameter(fmt: str) -> None:
    plan = scenarios.plan()
    # The planner renders the secret into the rollback command: the report must not.
    assert any(scenarios.SECRET in c.text for cmds in plan.step("restore-db").commands.values()
               for c in cmds)
    text = render_plan_report(plan, fmt, redact=Redactor([scenarios.SECRET]),
                              runbook=scenarios.runbook())
    assert scenarios.SECRET not in text
    assert "--password=***" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_execution_report_hides_secret_in_recorded_output(fmt: str) -> None:
    # Records straight from the scenario (not through the store, which also redacts):
    # the report is a second line of defence.
    recs = scenarios.rolled_back()
    assert any(scenarios.SECRET in r.stdout_tail for r in recs["results"])
    text = render(execution_report(**recs), fmt, redact=secret_redactor([scenarios.SECRET]))
    assert scenarios.SECRET not in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_credential_patterns_are_masked_without_known_values(fmt: str) -> None:
    recs = scenarios.failed()
    from dataclasses import replace

    bad = recs["results"][-1]
    recs["results"][-1] = replace(bad, stderr_tail="connect mysql+pymysql://octavia:hunter2x@db/octavia")
    text = render(execution_report(**recs), fmt)
    assert "hunter2x" not in text


def test_stored_run_has_no_secret(stored) -> None:  # type: ignore[no-untyped-def]
    recs = stored("rolled_back")
    for fmt in FORMATS:
        assert scenarios.SECRET not in render(execution_report(**recs), fmt)
