"""``octavia-upgrade report RUN_ID``: the execution report of a run, from the state DB alone."""

from __future__ import annotations

import argparse
from typing import Any

from octavia_upgrade.cli.output import add_output, emit

HELP = "write the execution report of a run (markdown, html or json) from the state database"
DESCRIPTION = """\
Build the change-management execution report of RUN_ID from the run-state
database alone (no node is contacted, so it can be regenerated at any time):
outcome, who ran it from where and when and how it was started (version
detection, --limit, --yes, parameters given), how each host was reached (SSH
login, sudo, bastions, as planned), deviations first (failures,
retries, skips, resumes, rollbacks), the control-plane downtime window,
every step per host with attempts, durations, exit codes, the commands sent
(to compare with the plan) and trimmed output, approvals, evidence (upgrade check, backup file and sha256, database
revision before/after, Octavia versions per host, configuration findings,
load balancers and amphorae before/after), data-plane probe availability,
the comparison with the plan, and provenance.

  markdown  for the change record
  html      one self-contained file with an SVG timeline (prints well)
  json      stable keys, validated by `octavia-upgrade schema report`

Secrets are redacted in every format. See docs/reports.md.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", metavar="RUN_ID", help="run id (see `octavia-upgrade runs`)")
    p.add_argument("-f", "--format", choices=("markdown", "html", "json"), default="markdown",
                   help="report format (default: markdown)")
    add_output(p)


def load_records(args: argparse.Namespace, run_id: str) -> tuple[dict[str, Any], Any]:
    """Everything the report needs about ``run_id``, read from the configured store,
    and the redactor for the configured secrets."""
    from octavia_upgrade.cli.common import open_store, raise_no_state
    from octavia_upgrade.logs import Redactor

    settings, store = open_store(args, create=False)
    if store is None:
        raise_no_state(settings, run_id)
    redactor = Redactor(settings.secret_values())
    with store:
        records = {"run": store.get_run(run_id), "results": store.results(run_id),
                   "approvals": store.approvals(run_id), "evidence": store.evidence(run_id),
                   "probe_samples": store.probe_samples(run_id), "events": store.events(run_id),
                   "probe_series": store.probe_series(run_id)}
    return records, redactor


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.reports import execution_report, render
    from octavia_upgrade.state import utcnow

    records, redactor = load_records(args, args.run_id)
    text = render(execution_report(**records, generated_at=utcnow()), args.format,
                  redact=redactor)
    emit(text, args.output)
    return 0
