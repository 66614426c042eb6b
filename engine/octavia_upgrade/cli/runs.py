"""``octavia-upgrade runs``: list recorded runs, newest last."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.output import (Column, add_row_format, emit, emit_rows, render_rows,
                                        select)
from octavia_upgrade.outagehistory import outage_cell, outage_seconds

HELP = "list recorded runs (newest last)"
DESCRIPTION = """\
List the runs recorded in the state database ([DEFAULT] state_dir or
[database] connection), oldest first so the newest is at the bottom next to
your prompt: id, runbook, deployment, status, start and end (UTC), and the
control-plane outage as measured: from the first stop command sent to an
Octavia service to the first moment, once the services were being started
again, that the API answered on every API host ("not probed" for runs whose
API was not probed, "API still down" when it never answered on every host
again while probed, "none seen" when it answered every probe: an outage
shorter than the probes' interval is not seen).
Use `octavia-upgrade show RUN_ID` for one run's steps.

-f value|csv and -c COLUMN work as in OpenStackClient, e.g. the newest run's id:
  octavia-upgrade runs -f value -c id | tail -n 1
"""


def _time(value: object) -> str | None:
    from octavia_upgrade.state import isoformat

    return isoformat(value) or None  # type: ignore[arg-type]


COLUMNS = (
    Column("id", lambda r: r.id),
    Column("runbook", lambda r: r.runbook_name,
           lambda r: f"{r.runbook_name} (rev {r.runbook_revision})"),
    Column("deployment", lambda r: r.deployment),
    Column("status", lambda r: str(r.status)),
    Column("started", lambda r: _time(r.started_at)),
    Column("ended", lambda r: _time(r.ended_at)),
    # First stop command → the API answering on every API host (the probes).
    Column("outage", outage_seconds, outage_cell),
    Column("revision", lambda r: r.runbook_revision, default=False),
    Column("from", lambda r: r.from_release, default=False),
    Column("to", lambda r: r.to_release, default=False),
    Column("user", lambda r: r.user, default=False),
    Column("hostname", lambda r: r.hostname, default=False),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_row_format(p, COLUMNS)
    p.add_argument("-d", "--deployment", metavar="NAME", help="only runs of this deployment")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.cli.common import open_store
    from octavia_upgrade.logs import Redactor
    from octavia_upgrade.outagehistory import RunWithOutage

    select(COLUMNS, args.columns)
    settings, store = open_store(args, create=False)
    runs: list = []
    if store is None:
        from octavia_upgrade.state.db import default_url

        where = settings.database_url or default_url(settings.state_dir)
    else:
        try:
            runs = [RunWithOutage(r, store) for r in store.list_runs(args.deployment)]
        finally:
            store.close()
        where = store.url
    redactor = Redactor(settings.secret_values())
    if args.format == "table" and not runs and not args.columns:
        emit(f"no runs recorded in {where}")
        return 0
    emit_rows(redactor.redact_text(render_rows(
        runs, COLUMNS, args.format, args.columns,
        document=lambda: redactor.redact([r.as_dict() for r in runs]))))
    return 0
