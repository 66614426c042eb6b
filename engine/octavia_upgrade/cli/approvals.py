"""``octavia-upgrade approvals [RUN]``: what waits for an approval, and who may give it."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.output import Column, add_row_format, emit, emit_rows, render_rows, select

HELP = "list the approval steps runs wait at (step, message, since, who may approve)"
DESCRIPTION = """\
List the approval steps that runs wait at now, from the state database
([DEFAULT] state_dir or [database] connection: with PostgreSQL or MariaDB,
from any machine that reaches it): run, step, since when (UTC), who may
approve (how many more identities, and whether the operator who started the
run is excluded: four eyes), when it expires, and its message.

Approve with `octavia-upgrade approve RUN STEP [--comment TEXT]`, reject with
`octavia-upgrade reject RUN STEP --reason TEXT`.

RUN: only this run's approvals (an unknown run: exit 2).
"""


def _time(value: object) -> str | None:
    from octavia_upgrade.state import isoformat

    return isoformat(value) or None  # type: ignore[arg-type]


COLUMNS = (
    Column("run", lambda r: r.run_id),
    Column("step", lambda r: r.step_id),
    Column("since", lambda r: _time(r.requested_at)),
    Column("who may approve", lambda r: r.who_may_approve()),
    Column("expires", lambda r: _time(r.expires_at)),
    Column("message", lambda r: r.message),
    Column("data plane impact", lambda r: r.data_plane_impact, default=False),
    Column("required", lambda r: r.required, default=False),
    Column("four eyes", lambda r: r.four_eyes, default=False),
    Column("operator", lambda r: r.operator, default=False),
    Column("approved by", lambda r: ", ".join(r.approved_by), default=False),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", metavar="RUN", nargs="?", help="only this run's approvals")
    add_row_format(p, COLUMNS)


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.cli.common import open_store, raise_no_state
    from octavia_upgrade.logs import Redactor

    select(COLUMNS, args.columns)
    settings, store = open_store(args, create=False)
    if store is None:
        if args.run_id:
            raise_no_state(settings, args.run_id)
        waiting: list = []
    else:
        try:
            if args.run_id:
                store.get_run(args.run_id)  # exit 2 when unknown
            waiting = store.approval_requests(args.run_id)
        finally:
            store.close()
    redactor = Redactor(settings.secret_values())
    if args.format == "table" and not waiting and not args.columns:
        emit("no approval is waiting" + (f" in run {args.run_id}" if args.run_id else ""))
        return 0
    emit_rows(redactor.redact_text(render_rows(
        waiting, COLUMNS, args.format, args.columns,
        document=lambda: redactor.redact([w.as_dict() for w in waiting]))))
    return 0
