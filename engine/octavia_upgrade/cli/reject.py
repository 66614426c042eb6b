"""``octavia-upgrade reject RUN STEP --reason TEXT``: reject a waiting step."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.decide import EXIT_CODES

HELP = "reject the approval step a run waits at (the step fails; a reason is required)"
DESCRIPTION = f"""\
Reject STEP of RUN, which must be waiting at it. The rejection is recorded
with your identity, the time, this host and the reason; the waiting run sees
it within a second and the step fails (then the step's on_failure decides:
abort, rollback or continue). One rejection is enough.

{EXIT_CODES}
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", metavar="RUN", help="the run's id (`octavia-upgrade runs`)")
    p.add_argument("step", metavar="STEP", help="the approval step's id")
    p.add_argument("--reason", metavar="TEXT", required=True,
                   help="why (required; recorded and shown in the reports)")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.cli.decide import with_store
    from octavia_upgrade.errors import InvalidInput

    if not args.reason.strip():
        raise InvalidInput("--reason must say why the step is rejected")

    def act(store, me) -> str:  # type: ignore[no-untyped-def]
        store.decide(args.run_id, args.step, decision="rejected", identity=me.name,
                     origin=me.origin, comment=args.reason.strip())
        return f"rejected step {args.step} of run {args.run_id} as {me.name}"

    return with_store(args, act)
