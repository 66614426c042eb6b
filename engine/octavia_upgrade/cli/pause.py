"""``octavia-upgrade pause RUN``: stop a run before its next step."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.decide import EXIT_CODES

HELP = "pause a running run before its next step (never inside one)"
DESCRIPTION = f"""\
Ask RUN to stop before its next step: the step in progress finishes (with
its retries), then the run waits, its lock held, until `octavia-upgrade
continue RUN`. Recorded with your identity; `show` and the reports say who
paused it and when. Works from any machine that reaches the state database.

{EXIT_CODES}
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", metavar="RUN", help="the run's id (`octavia-upgrade runs`)")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.cli.decide import with_store

    def act(store, me) -> str:  # type: ignore[no-untyped-def]
        store.request_pause(args.run_id, me.name)
        return (f"run {args.run_id} pauses before its next step (asked by {me.name}); "
                f"`octavia-upgrade continue {args.run_id}` lets it go on")

    return with_store(args, act)
