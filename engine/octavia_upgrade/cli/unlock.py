"""``octavia-upgrade unlock DEPLOYMENT``: break a deployment lock, explicitly."""

from __future__ import annotations

import argparse

HELP = "break a deployment's lock whose run is gone (explicitly; refuses a live one)"
DESCRIPTION = """\
Only one run per deployment may execute at a time: a run holds the
deployment's lock in the state database until it ends. If the engine was
killed (SIGKILL, power loss, lost SSH session to the operator machine), the
lock stays behind and the next `run` or `resume` of another run is refused.

`unlock` looks at the holder first:
  stale    its process no longer runs on this machine (or, if it ran on
           another machine, its heartbeat stopped long ago): the lock is broken.
  alive    its process still runs here: refused. Stop that run (Ctrl-C lets it
           save its state) instead.
  unknown  it runs on another machine, whose processes cannot be checked from
           here: refused. Check on that machine first.
--force breaks an alive or unknown lock anyway; the run that held it then
stops at its next heartbeat or state write. Every broken lock is recorded as
a `lock-broken` event of its run (see `show`). Resuming a run whose own
process died does not need `unlock`: `resume` takes over its stale lock.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("deployment", metavar="DEPLOYMENT", help="the inventory's deployment name")
    p.add_argument("--run", metavar="RUN_ID", dest="expected_run",
                   help="break the lock only if this run holds it")
    p.add_argument("--force", action="store_true",
                   help="break the lock even if its holder may still be running")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.cli.common import open_store
    from octavia_upgrade.cli.output import emit
    from octavia_upgrade.errors import Refused

    settings, store = open_store(args)
    try:
        status = store.lock_status(args.deployment, settings.lock_stale_after)
        if status.lock is None:
            emit(f"deployment {args.deployment!r} is not locked; nothing to do")
            return 0
        held = status.lock
        if args.expected_run and held.run_id != args.expected_run:
            raise Refused(f"deployment {args.deployment!r} is locked by {held.describe()}, "
                          f"not by run {args.expected_run}; nothing was changed")
        if status.state != "stale" and not args.force:
            advice = ("stop that run instead (Ctrl-C lets it save its state)"
                      if status.state == "alive" else
                      f"check on host {held.hostname} that run {held.run_id} is no longer "
                      "running")
            raise Refused(f"deployment {args.deployment!r} is locked by {held.describe()}: "
                          f"{status.reason}; {advice}, or use --force if you are sure")
        store.break_lock(args.deployment, expected_run_id=held.run_id,
                         reason=f"unlock ({status.state}: {status.reason})",
                         forced=status.state != "stale")
    finally:
        store.close()
    emit(f"broke the lock of deployment {args.deployment!r} held by {held.describe()} "
         f"[{status.state}: {status.reason}]")
    if held.run_id:
        emit(f"the run is still recorded; continue it with `octavia-upgrade resume "
             f"{held.run_id}` or inspect it with `octavia-upgrade show {held.run_id}`")
    return 0
