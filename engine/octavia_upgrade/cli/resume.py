"""``octavia-upgrade resume``: continue an interrupted or failed run."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.common import add_params, add_ssh_config

HELP = "continue a run at its first unfinished (step, host)"
DESCRIPTION = """\
Continue RUN_ID where it stopped, from any directory (the run recorded its
files' absolute paths). Steps recorded as succeeded are not run again. The
runbook file must be unchanged (its sha256 is compared with the one recorded
at the start; a changed runbook is refused with exit 3). The plan is built
again from the recorded inventory and parameters and must be the plan the
run recorded, duration estimates and bastions aside: a difference (a host,
its login user or sudo, a variable, a flavor) is refused with exit 3 and a
diff; so is a run recorded by a tool version with another plan format
(finish it with that version). A (step, host) that was in flight when the
process died has an unknown outcome: it runs again only if the step is
marked idempotent, or if you confirm (or pass --yes), and never while a
process it started still runs on its host: resume looks for the stopped
run's commands on those hosts first and refuses (exit 3) naming their PIDs.
Secret parameters are never stored: give them again with --param.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", metavar="RUN_ID", help="the run to continue (see `runs`)")
    add_params(p)
    p.add_argument("-y", "--yes", action="store_true",
                   help="approve approval steps and confirm re-running unknown steps")
    g = p.add_argument_group(
        "inventory and SSH options",
        "the run recorded its inventory file, its deployment and the options below it "
        "was read with; resume reads it the same way. An option given here replaces the "
        "recorded one (e.g. --ssh-config when resuming from another machine)")
    g.add_argument("--inventory-format", choices=("native", "kolla", "osa", "ansible"),
                   help="how to read the inventory (default: detected from the file)")
    g.add_argument("--role-map", metavar="FILE", help="Ansible group → roles mapping file")
    g.add_argument("--flavor", metavar="FLAVOR", help="flavor name or file")
    add_ssh_config(g, "OpenSSH client config (default: ~/.ssh/config if it exists)",
                   "ignore any ssh_config")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade import api
    from octavia_upgrade.cli.common import console, parse_params, settings
    from octavia_upgrade.cli.outcome import finish
    from octavia_upgrade.logs import Redactor
    from octavia_upgrade.session import terminal_confirm

    params = parse_params(args)
    redactor = Redactor()
    con = console(args, redactor)
    result = api.resume(args.run_id, params=params, yes=args.yes, settings=settings(args),
                        console=con, redactor=redactor, confirm=terminal_confirm,
                        inventory_options={
                            "format": args.inventory_format, "role_map": args.role_map,
                            "flavor": args.flavor, "ssh_config": args.ssh_config,
                            "use_ssh_config": False if args.no_ssh_config else None})
    if not result.executed:
        print(f"run {result.run_id} {result.message}")
        return 0
    return finish(con, result)
