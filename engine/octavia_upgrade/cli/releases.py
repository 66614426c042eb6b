"""``octavia-upgrade releases``: print the release catalog."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.output import add_format, dump, emit, table

HELP = "print the release catalog (Pike → newest) with Octavia facts"
DESCRIPTION = """\
Print every OpenStack release the tool knows, oldest first, with the facts
runbooks rely on: Octavia and octavia-lib versions, whether the release is a
SLURP, whether it ships `octavia-status`, and the Octavia DB alembic head.
The json and yaml formats include the upstream source of each fact.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_format(p, ("table", "json", "yaml"), "table")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.catalog import load_catalog

    cat = load_catalog()
    if args.format == "table":
        rows = [[r.series, r.version_id or "-", f"{r.octavia_major}.x",
                 r.octavia_final or "-", r.octavia_lib_final or "-",
                 "yes" if r.slurp else "no", "yes" if r.octavia_status else "no",
                 r.alembic_head + (" *" if r.unverified else "")]
                for r in cat.releases]
        text = table(["series", "id", "octavia", "latest", "octavia-lib", "slurp",
                      "octavia-status", "alembic head"], rows)
        text += f"\n\ncatalog {cat.version}; sources: {cat.snapshot}"
        if any(r.unverified for r in cat.releases):
            text += "\n* not yet confirmed by an upstream release tag (see -f json for the source)"
        emit(text)
    else:
        emit(dump({"catalog_version": cat.version, "snapshot": cat.snapshot,
                   "releases": [r.as_dict() for r in cat.releases]}, args.format))
    return 0
