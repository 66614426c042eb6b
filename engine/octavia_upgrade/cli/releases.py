"""``octavia-upgrade releases``: print the release catalog."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.output import Column, add_row_format, emit_rows, render_rows, select, table

HELP = "print the release catalog (Pike → newest) with Octavia facts"
DESCRIPTION = """\
Print every OpenStack release the tool knows, oldest first, with the facts
runbooks rely on: Octavia and octavia-lib versions, whether the release is a
SLURP, whether it ships `octavia-status`, and the Octavia DB alembic head.
On request (-c): the maintenance status, the git ref of openstack/octavia the
release is checked out from (an -eol tag, an unmaintained/ or stable/ branch,
each verified upstream) and whether kolla-ansible ships its driver agent.
The json and yaml formats include the upstream source of each fact and the
requirements ref.
-f value|csv and -c COLUMN work as in OpenStackClient (`-f value -c series`).
"""

COLUMNS = (
    Column("series", lambda r: r.series),
    Column("id", lambda r: r.version_id),
    Column("octavia", lambda r: r.octavia_major, lambda r: f"{r.octavia_major}.x"),
    Column("latest", lambda r: r.octavia_final),
    Column("octavia-lib", lambda r: r.octavia_lib_final),
    Column("slurp", lambda r: r.slurp),
    Column("octavia-status", lambda r: r.octavia_status),
    Column("alembic head", lambda r: r.alembic_head,
           lambda r: r.alembic_head + (" *" if r.unverified else "")),
    Column("unverified", lambda r: r.unverified, default=False),
    Column("status", lambda r: r.status, default=False),
    Column("git ref", lambda r: r.git_ref, default=False),
    Column("kolla driver agent", lambda r: r.kolla_driver_agent, default=False),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_row_format(p, COLUMNS)


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.catalog import load_catalog

    select(COLUMNS, args.columns)
    cat = load_catalog()

    def text() -> str:
        cols = select(COLUMNS, ())
        out = table([c.name for c in cols], [[c.cell(r) for c in cols] for r in cat.releases])
        out += f"\n\ncatalog {cat.version}; sources: {cat.snapshot}"
        if any(r.unverified for r in cat.releases):
            out += "\n* not yet confirmed by an upstream release tag (see -f json for the source)"
        return out

    emit_rows(render_rows(cat.releases, COLUMNS, args.format, args.columns, table_text=text,
                          document=lambda: {"catalog_version": cat.version,
                                            "snapshot": cat.snapshot,
                                            "releases": [r.as_dict() for r in cat.releases]}))
    return 0
