"""``octavia-upgrade plan``: what a runbook will do, or the chain between two releases."""

from __future__ import annotations

import argparse
from typing import Any

from octavia_upgrade.cli.common import (add_change, add_inventory, add_limit, add_params,
                                        add_runbook, check_change, inventory_source,
                                        runbook_path)
from octavia_upgrade.cli.output import (ROW_FORMATS, Column, add_output, dump, emit, emit_rows,
                                        render_rows, select)
from octavia_upgrade.errors import InvalidInput

HELP = "show the plan of a runbook against an inventory, or the chain --from X --to Y"
DESCRIPTION = """\
With RUNBOOK (a shipped runbook's name such as dalmatian-to-epoxy, or a
file) and -i INVENTORY: load and validate both, detect the deployed
release (refused with exit 3 unless it is the runbook's `from`; skip with
--no-detect for an offline review), and print the plan: every step, the hosts
and batches it runs on, approvals, data-plane impact and estimated durations
(from earlier runs of the same runbook); with -v, the exact command each
host will run and how each host is reached (SSH login and port, sudo,
bastions). With detection, the plan's preflight items are checked too (the
checks only read): each missing one is a warning on stderr, and the plan
report gives every item's state. markdown, html and json give the
change-management plan report; --change ID (and --change-url URL) names the
change record it is submitted under, as `run --change` does for the
execution report.

With --from SERIES --to SERIES: print the chain of sequential runbooks that
upgrades between the two releases, with the facts that matter for each hop.
Upgrades are sequential only; skip-level (SLURP) jumps are refused, as the
upstream Octavia upgrade guide supports sequential upgrades only.

Formats: the plan of a RUNBOOK is a document (table, json, yaml, markdown,
html); the chain is a list of hops (table, json, yaml, value, csv with
-c COLUMN as in OpenStackClient, and markdown, html). A format the mode
cannot produce is refused (exit 2). The runbooks of a chain, one per line:
  octavia-upgrade plan --from caracal --to epoxy -f value -c runbook
"""

#: The formats of a runbook's plan (a document).
PLAN_FORMATS = ("table", "json", "yaml", "markdown", "html")
#: The formats of the chain (rows, and the chain as a document).
CHAIN_FORMATS = (*ROW_FORMATS, "markdown", "html")

#: The chain's columns (``-c``), one row per hop: ``(number, Hop)``.
CHAIN_COLUMNS = (
    Column("#", lambda r: r[0]),
    Column("runbook", lambda r: r[1].name),
    Column("migrations", lambda r: r[1].migration_count),
    Column("amphora image", lambda r: _image(r[1])),
    Column("data-plane impact", lambda r: _impact(r[1])),
    Column("from", lambda r: r[1].src, default=False),
    Column("to", lambda r: r[1].dst, default=False),
    Column("path", lambda r: str(r[1].runbook), default=False),
    Column("migration revisions", lambda r: list(r[1].migrations), default=False),
)


def _image(hop: Any) -> str:
    from octavia_upgrade.chain import image_text

    return image_text(hop)


def _impact(hop: Any) -> str:
    from octavia_upgrade.chain import impact_text

    return impact_text(hop)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_runbook(p, optional=True)
    add_inventory(p, required=False)
    p.add_argument("--from", dest="from_", metavar="SERIES", help="chain mode: start release")
    p.add_argument("--to", metavar="SERIES", help="chain mode: target release")
    add_params(p)
    p.add_argument("-f", "--format", default="table", choices=CHAIN_FORMATS,
                   help="output format (default: table): " + ", ".join(PLAN_FORMATS)
                   + " for a RUNBOOK; " + ", ".join(CHAIN_FORMATS) + " for --from/--to")
    action = p.add_argument(
        "-c", "--column", dest="columns", action="append", default=[], metavar="COLUMN",
        help="chain mode, formats table, json, yaml, value, csv: print only this column "
             "(repeatable; in the order given): " + ", ".join(c.name for c in CHAIN_COLUMNS))
    action.column_names = [c.name for c in CHAIN_COLUMNS]  # read by shell completion
    add_output(p)
    add_limit(p)
    p.add_argument("--no-detect", action="store_true",
                   help="do not connect to the hosts to check the deployed release")
    add_change(p, "the plan report (markdown, html, json) is submitted under it")


def run(args: argparse.Namespace) -> int:
    if args.from_ or args.to:
        return _chain(args)
    if not args.runbook or not args.inventory:
        raise InvalidInput("plan needs RUNBOOK and -i INVENTORY (or --from SERIES --to SERIES)")
    if args.format not in PLAN_FORMATS:
        raise InvalidInput(f"-f {args.format}: the plan of a runbook is a document; its "
                           f"formats are {', '.join(PLAN_FORMATS)} ({args.format} is for the "
                           "chain, --from/--to)")
    if args.columns:
        raise InvalidInput("-c COLUMN selects columns of the chain (--from/--to); the plan "
                           "of a runbook has none")
    check_change(args)
    if args.change_id and args.format not in ("markdown", "html", "json"):
        raise InvalidInput(f"--change goes into the plan report: use -f markdown, html or "
                           f"json (-f {args.format} has no place for it)")
    import sys

    from octavia_upgrade import api
    from octavia_upgrade.cli.common import parse_params, settings
    from octavia_upgrade.errors import UpgradeError
    from octavia_upgrade.session import secret_values

    params = parse_params(args)
    try:
        config = settings(args)
        warnings: list[str] = []
    except UpgradeError as exc:
        config, warnings = None, [f"no duration estimates: {exc}"]
    prep = api.plan(runbook_path(args.runbook), inventory_source(args), params=params,
                    limit=args.limit,
                    detect=not args.no_detect, settings=config, preflight=True)
    redact = _redactor(secret_values(prep))
    missing = [r for r in prep.preflight or () if not r.ok]
    for warning in (*warnings, *prep.warnings):
        print(f"warning: {warning}", file=sys.stderr)
    for r in missing:  # a run would be refused (exit 3) until these are fixed
        then = (f"needed only if {r.check.when}" if r.check.when
                else "`run` refuses to start until it is there")
        print(redact(f"warning: preflight: {r.check.host}: {r.check.description} is missing "
                     f"({r.why}); {then}"), file=sys.stderr)
    emit(render(prep, args.format, args.verbose, prep.detected, _windows(config, prep),
                change=(args.change_id, args.change_url)), args.output)
    return 0


def render(prep, fmt: str, verbose: int = 0, detected=None,  # type: ignore[no-untyped-def]
           windows=None, change: tuple[str | None, str | None] = (None, None)) -> str:
    from octavia_upgrade.session import secret_values

    redact = _redactor(secret_values(prep))
    if fmt == "table":
        from octavia_upgrade.planview import render_table

        return render_table(prep.plan, verbose=verbose, redact=redact)
    if fmt == "yaml":
        return redact(dump(prep.plan.to_dict(), "yaml"))
    from octavia_upgrade.reports import render_plan_report

    return render_plan_report(prep.plan, fmt, inventory=prep.inventory, detected=detected,
                              runbook=prep.runbook, redact=redact,
                              predicted_outage=prep.predicted_outage, windows=windows,
                              change_id=change[0], change_url=change[1],
                              preflight=prep.preflight)


def _windows(config, prep):  # type: ignore[no-untyped-def]
    """The change windows the plan report judges the outage against (a bad one: exit 2)."""
    from octavia_upgrade.windows import declared

    return declared(config, prep.inventory)


def _redactor(values: list[str]):  # type: ignore[no-untyped-def]
    from octavia_upgrade.logs import Redactor

    return Redactor(values).redact


def _chain(args: argparse.Namespace) -> int:
    if not (args.from_ and args.to):
        raise InvalidInput("chain mode needs both --from SERIES and --to SERIES")
    if args.change_id or args.change_url:
        raise InvalidInput("--change goes into the plan report of one runbook; a chain's "
                           "hops are separate changes (plan each hop with its own --change)")
    if args.runbook:
        raise InvalidInput("give either RUNBOOK or --from/--to, not both")
    if args.columns and args.format not in ROW_FORMATS:
        raise InvalidInput(f"-c COLUMN applies to the formats {', '.join(ROW_FORMATS)}; "
                           f"-f {args.format} prints the whole chain")
    select(CHAIN_COLUMNS, args.columns)
    from octavia_upgrade.chain import chain_document, plan_chain, render_chain
    from octavia_upgrade.resources import runbooks_dir

    hops = plan_chain(args.from_, args.to, runbooks_dir())
    if args.inventory:
        _check_chain_start(args, hops)
    if args.format in ("markdown", "html"):
        emit(render_chain(hops, args.format), args.output)
        return 0
    emit_rows(render_rows(list(enumerate(hops, 1)), CHAIN_COLUMNS, args.format, args.columns,
                          table_text=lambda: render_chain(hops, "table"),
                          document=lambda: chain_document(hops)), args.output)
    return 0


def _check_chain_start(args: argparse.Namespace, hops) -> None:  # type: ignore[no-untyped-def]
    from octavia_upgrade.catalog import load_catalog
    from octavia_upgrade.detect import detect_release
    from octavia_upgrade.flavors import load_flavor
    from octavia_upgrade.inventory_source import open_inventory

    inv = open_inventory(inventory_source(args))
    detect_release(inv, load_flavor(inv.flavor), load_catalog(), args.from_,
                   f"the chain {args.from_} → {args.to}")
