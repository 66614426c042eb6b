"""``octavia-upgrade approve RUN STEP``: approve a waiting step, as yourself, from anywhere."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.decide import EXIT_CODES

HELP = "approve the approval step a run waits at (recorded with your identity)"
DESCRIPTION = f"""\
Approve STEP of RUN, which must be waiting at it (`octavia-upgrade
approvals` lists them). The approval is recorded in the state database with
your identity ([approvals] identity, default login@host), the time, this
host and --comment; the waiting run sees it within a second and goes on once
the step has all the approvals it needs. Works from any machine that
reaches the state database (PostgreSQL or MariaDB for several machines).

Each identity counts once per step; under four eyes, the identity that
started the run may not approve.

{EXIT_CODES}
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", metavar="RUN", help="the run's id (`octavia-upgrade runs`)")
    p.add_argument("step", metavar="STEP", help="the approval step's id")
    p.add_argument("--comment", metavar="TEXT", help="recorded with the approval")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.cli.decide import with_store

    def act(store, me) -> str:  # type: ignore[no-untyped-def]
        store.decide(args.run_id, args.step, decision="approved", identity=me.name,
                     origin=me.origin, comment=args.comment)
        line = f"approved step {args.step} of run {args.run_id} as {me.name}"
        still = [w for w in store.approval_requests(args.run_id) if w.step_id == args.step]
        if still and len(still[0].approved_by) < still[0].required:
            line += f"; it still needs {still[0].who_may_approve()}"
        return line

    return with_store(args, act)
