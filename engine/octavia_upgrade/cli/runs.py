"""``octavia-upgrade runs``: list recorded runs, newest last."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.output import add_format, dump, emit, table

HELP = "list recorded runs (newest last)"
DESCRIPTION = """\
List the runs recorded in the state database ([DEFAULT] state_dir or
[database] connection), oldest first so the newest is at the bottom next to
your prompt: id, runbook, deployment, status, start and end (UTC).
Use `octavia-upgrade show RUN_ID` for one run's steps.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_format(p, ("table", "json"), "table")
    p.add_argument("-d", "--deployment", metavar="NAME", help="only runs of this deployment")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.cli.common import open_store
    from octavia_upgrade.logs import Redactor
    from octavia_upgrade.state import isoformat

    settings, store = open_store(args, create=False)
    if store is None:
        from octavia_upgrade.state.db import default_url

        where = settings.database_url or default_url(settings.state_dir)
        emit("[]" if args.format == "json" else f"no runs recorded in {where}")
        return 0
    try:
        runs = store.list_runs(args.deployment)
    finally:
        store.close()
    redactor = Redactor(settings.secret_values())
    if args.format == "json":
        emit(dump(redactor.redact([r.as_dict() for r in runs]), "json"))
        return 0
    if not runs:
        emit(f"no runs recorded in {store.url}")
        return 0
    rows = [[r.id, f"{r.runbook_name} (rev {r.runbook_revision})", r.deployment, r.status,
             isoformat(r.started_at), isoformat(r.ended_at) or "-"] for r in runs]
    emit(table(["id", "runbook", "deployment", "status", "started", "ended"], rows))
    return 0
