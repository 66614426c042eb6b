"""The commands each attempt sent and how the run was started, in every execution report."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from octavia_upgrade.reports import FORMATS, execution_report, render
from reports import scenarios

RUN_ID = "20261125-160000-a1b2"
DUMP = ("mysqldump --single-transaction octavia | gzip > "
        "'/var/backups/octavia/octavia-{}-backup-db.sql.gz'")
TOKEN = "{{ run.id }}"
INSTALL = "apt-get install -y octavia octavia-lib"


def _attempts(doc: dict[str, Any], step: str, host: str) -> list[dict[str, Any]]:
    s = next(s for s in doc["steps"] if s["id"] == step)
    return next(h for h in s["hosts"] if h["host"] == host)["history"]


def test_json_gives_each_attempt_its_commands_in_order(stored: Any) -> None:
    doc = json.loads(render(execution_report(**stored("successful")), "json"))
    [backup] = _attempts(doc, "backup-db", "ctl1")
    assert [c["key"] for c in backup["commands"]] == ["mkdir", "dump", "checksum"]
    assert backup["commands"][1] == {"key": "dump", "planned": DUMP.format(TOKEN),
                                     "sent": DUMP.format(RUN_ID), "times": 1}
    # Both attempts of the retried step carry what they sent.
    retried = _attempts(doc, "upgrade-packages", "ctl1")
    assert [[c["key"] for c in a["commands"]] for a in retried] == [
        ["version:octavia", "version:octavia-lib", "upgrade"]] * 2
    assert retried[0]["commands"][2] == {"key": "upgrade", "planned": INSTALL, "sent": INSTALL,
                                         "times": 1}
    # An approval records the message it asked with; a skipped step sent nothing.
    assert [c["key"] for c in _attempts(doc, "approve", "local")[0]["commands"]] == ["approval"]
    assert _attempts(doc, "failover-udp", "ctl1")[0]["commands"] == []
    assert doc["run"]["options"] == {"detect": True, "limit": None, "yes": False,
                                     "params": {"db_password": "***", "failover_udp": "false"}}


def test_markdown_lists_commands_sent_per_step_and_host(stored: Any) -> None:
    text = render(execution_report(**stored("successful")), "markdown")
    section = text[text.index("### Commands sent"):text.index("### Output (last lines)")]
    assert "**5. stop-control-plane**" in section
    assert "ctl1, ctl2: systemctl stop octavia-api\n" in section
    assert f"ctl1: {DUMP.format(RUN_ID)}\n      (planned: {DUMP.format(TOKEN)})" in section
    assert "local: APPROVAL: Stop the Octavia control plane on prod-east?" in section
    assert ("| Started with | version detection ran; all hosts (no --limit); approvals "
            "prompted; parameters given: db_password=***, failover_udp=false |") in text


def test_attempts_that_sent_different_commands_are_told_apart() -> None:
    recs = scenarios.successful()
    first = next(i for i, r in enumerate(recs["results"])
                 if r.step_id == "upgrade-packages" and r.host == "ctl1" and r.attempt == 1)
    recs["results"] = [
        replace(r, commands=[{"key": "upgrade", "planned": INSTALL,
                              "sent": INSTALL + (" --no-download" if i == first else "")}])
        if r.step_id == "upgrade-packages" else r for i, r in enumerate(recs["results"])]
    text = render(execution_report(**recs), "markdown")
    assert ("ctl1 attempt 1: apt-get install -y octavia octavia-lib --no-download\n"
            "                (planned: apt-get install -y octavia octavia-lib)\n"
            "ctl1 attempt 2: apt-get install -y octavia octavia-lib\n"
            "ctl2: apt-get install -y octavia octavia-lib\n") in text


def test_html_shows_commands_inside_the_step_row(stored: Any) -> None:
    html = render(execution_report(**stored("successful")), "html")
    row = html[html.index("<td><code>backup-db</code>"):]
    row = row[:row.index("</tr>")]
    assert '<details class="sent"><summary>commands sent</summary><pre>' in row
    # HTML-escaped: the ">" of the shell redirection is "&gt;".
    assert f"{DUMP.format(RUN_ID)}\n(planned: {DUMP.format(TOKEN)})".replace(
        ">", "&gt;").replace("'", "&#39;") in row
    assert "<th>Started with</th><td>version detection ran; all hosts (no --limit)" in html


def test_runs_recorded_before_commands_were_kept_say_so() -> None:
    recs = scenarios.successful()
    recs["results"] = [replace(r, commands=[]) for r in recs["results"]]
    recs["run"] = replace(recs["run"], options=None)
    text = render(execution_report(**recs), "markdown")
    assert "No commands were recorded for this run." in text
    assert "| Started with | not recorded" in text
    doc = json.loads(render(execution_report(**recs), "json"))
    assert doc["run"]["options"] is None


def test_options_say_how_the_run_was_started() -> None:
    recs = scenarios.successful()
    recs["run"] = replace(recs["run"], options={"detect": False, "limit": "ctl2", "yes": True,
                                                "params": {}})
    for fmt in ("markdown", "html"):
        text = render(execution_report(**recs), fmt)
        assert ("version detection skipped (--no-detect); --limit ctl2; --yes: approvals "
                "given without a prompt (a rehearsal); no parameters given on the command line") in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_parameter_in_options_is_masked_even_when_not_stored_masked(fmt: str) -> None:
    # Records straight from the scenario, not through the store (which masks it),
    # and no redactor that knows the value: the plan's secret_params suffice.
    recs = scenarios.successful()
    assert recs["run"].options["params"]["db_password"] == scenarios.SECRET
    text = render(execution_report(**recs), fmt)
    assert scenarios.SECRET not in text
    assert "db_password=***" in text or '"db_password": "***"' in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_in_a_command_sent_is_masked_in_every_format(stored: Any, fmt: str) -> None:
    recs = stored("rolled_back")
    restore = next(r for r in recs["results"] if r.step_id == "restore-db")
    # The store masked it already; the report shows the masked command.
    assert restore.commands[0]["sent"].endswith("mysql --password=*** octavia")
    text = render(execution_report(**recs), fmt)
    assert scenarios.SECRET not in text and "--password=***" in text
