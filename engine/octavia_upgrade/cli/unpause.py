"""``octavia-upgrade continue RUN``: let a paused run go on."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.decide import EXIT_CODES

HELP = "let a paused run go on with its next step"
DESCRIPTION = f"""\
Clear the pause of RUN (see `pause`): the run, which waits in its own
process, starts its next step within a second. Recorded with your identity.

{EXIT_CODES}
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", metavar="RUN", help="the run's id (`octavia-upgrade runs`)")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.cli.decide import with_store

    def act(store, me) -> str:  # type: ignore[no-untyped-def]
        was = store.request_continue(args.run_id, me.name)
        return f"run {args.run_id} goes on (paused by {was}, continued by {me.name})"

    return with_store(args, act)
