"""``octavia-upgrade run``: execute a runbook against an inventory."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.common import (add_change, add_inventory, add_limit, add_params,
                                        add_runbook, check_change, inventory_source,
                                        runbook_path)

HELP = "execute a runbook (use --dry-run first); every step is recorded for resume"
DESCRIPTION = """\
Load and validate the runbook (a shipped runbook's name such as
dalmatian-to-epoxy, or a file) and the inventory, detect the deployed release
(refused with exit 3 unless every host and the database are at the runbook's
`from`), check the prerequisites (preflight, below), take the deployment
lock (exit 3 naming the holder when another run has it), then execute the
plan step by step. Every (step, host, attempt) is
committed to the state database before the next starts; the JSON log is in
the state directory.

Approval steps wait on the state database: anyone who reaches it approves
with `octavia-upgrade approve RUN STEP` (or rejects with `reject RUN STEP
--reason TEXT`) from any terminal, and the run goes on within a second; the
run's own terminal also asks (the answer is recorded under your identity,
[approvals] identity or login@host). A step may need several approvers, or
others than the one who started the run (four eyes). `approvals` lists what
waits. --yes approves in advance for rehearsals, recorded as such; it never
approves a rollback gate. `pause RUN` stops the run before its next step,
`continue RUN` lets it go on.

--change ID (and --change-url URL) records the change record the run
executes; it is shown in `show`, every report and every event, and a resume
keeps it.

--dry-run prints the plan with the exact commands and how each host is
reached (SSH login and port, sudo, bastions), and executes nothing.

Preflight: after detection and before the first step, every prerequisite
the plan lists (containers/units of the services acted on, client tools,
backup credentials and free disk, images, ...) is checked on every host in
parallel; when any is missing, all of them are listed with their host and
the run is refused (exit 3) with nothing changed. --skip-preflight turns
this off (recorded with the run).

A run refused by the detection or the preflight is kept as evidence: `runs`
lists it as `refused`, `show` and `report` say why (every missing item), and
it cannot be resumed (start a new run once the cause is put right). Nothing
ran and no lock was taken.

SIGINT/SIGTERM (Ctrl-C) stops the run: no further step starts, and the
commands already running are waited for and their results recorded (the
console names them). A second Ctrl-C stops at once: commands still running
are left running on their hosts and recorded as 'unknown'. The state is
saved, exit 130. Continue with `octavia-upgrade resume RUN_ID`: an unknown
(step, host) runs again only if the step is idempotent or you confirm it.

-q hides progress lines, never a result: --dry-run -q still prints the plan.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_runbook(p)
    add_inventory(p)
    add_params(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan; execute nothing")
    p.add_argument("-y", "--yes", action="store_true",
                   help="approve every approval step (recorded as approved with --yes)")
    add_limit(p)
    p.add_argument("--no-detect", action="store_true",
                   help="skip the deployed-release check (only for rehearsals; recorded)")
    p.add_argument("--skip-preflight", action="store_true",
                   help="do not check the plan's prerequisites before the first step (only "
                        "when a check is known to be wrong for this deployment; recorded)")
    add_change(p, "the run executes it; recorded and shown in every report and event")


def run(args: argparse.Namespace) -> int:
    import sys

    from octavia_upgrade import api
    from octavia_upgrade.cli.common import console, parse_params, settings
    from octavia_upgrade.cli.outcome import finish
    from octavia_upgrade.logs import Redactor

    params = parse_params(args)
    check_change(args)
    if args.dry_run:
        from octavia_upgrade.planview import render_table
        from octavia_upgrade.session import secret_values

        prep = api.plan(runbook_path(args.runbook), inventory_source(args), params=params,
                        limit=args.limit, detect=False)
        redactor = Redactor(secret_values(prep))
        con = console(args, redactor)
        for warning in prep.warnings:
            print(redactor.redact(f"warning: {warning}"), file=sys.stderr)
        con.output(render_table(prep.plan, verbose=max(1, args.verbose),
                                redact=redactor.redact))
        con.info("\ndry run: nothing was executed")
        return 0
    redactor = Redactor()
    con = console(args, redactor)
    result = api.run(runbook_path(args.runbook), inventory_source(args), params=params,
                     limit=args.limit,
                     detect=not args.no_detect, yes=args.yes, settings=settings(args),
                     preflight=not args.skip_preflight,
                     console=con, redactor=redactor, change_id=args.change_id,
                     change_url=args.change_url)
    return finish(con, result)
