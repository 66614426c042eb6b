"""``octavia-upgrade detect``: which release is deployed, per host and in the DB."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from octavia_upgrade.cli.common import add_inventory, inventory_source
from octavia_upgrade.cli.output import (Column, add_row_format, emit_rows, render_rows, select,
                                        table)
from octavia_upgrade.errors import EXIT_REFUSED

HELP = "detect the deployed Octavia release on every host and in the database"
DESCRIPTION = """\
Connect to every host of the inventory (strict host-key checking), read the
installed Octavia and octavia-lib versions through the deployment flavor, and
run `octavia-db-manage current` on a db-migrate host. Each is mapped to a
release through the catalog. Exit 0 when every host and the database agree on
one release; exit 3 when a host is unreachable, hosts run mixed releases, or
the database revision does not match.

-f value|csv and -c COLUMN print one row per host, as in OpenStackClient
(`-f value -c host -c release`); the exit code is the same in every format.
"""

#: One row per host (``-c``).
COLUMNS = (
    Column("host", lambda h: h.host),
    Column("address", lambda h: h.address),
    Column("octavia", lambda h: h.octavia),
    Column("octavia-lib", lambda h: h.octavia_lib),
    Column("release", lambda h: h.release),
    Column("problem", lambda h: h.error, lambda h: h.error or ""),
    Column("reachable", lambda h: h.reachable, default=False),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_inventory(p)
    add_row_format(p, COLUMNS)


def run(args: argparse.Namespace) -> int:
    import sys

    from octavia_upgrade.catalog import load_catalog
    from octavia_upgrade.detect import detect
    from octavia_upgrade.flavors import load_flavor
    from octavia_upgrade.inventory_source import open_inventory
    from octavia_upgrade.transport import TransportPool

    select(COLUMNS, args.columns)
    inv = open_inventory(inventory_source(args))
    for warning in inv.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    flavor = load_flavor(inv.flavor)
    cat = load_catalog()
    with TransportPool(inv) as pool:
        det = detect(inv, flavor, cat, pool.get)
    emit_rows(render(det, args.format, args.columns))
    return EXIT_REFUSED if det.problems or not det.release else 0


def render(det: Any, fmt: str, columns: Sequence[str] = ()) -> str:
    """A :class:`~octavia_upgrade.detect.Detection` in ``fmt`` with the ``-c`` columns."""

    def text() -> str:
        cols = select(COLUMNS, ())
        out = table([c.name for c in cols], [[c.cell(h) for c in cols] for h in det.hosts])
        if det.db_revision:
            out += (f"\n\ndatabase (read on {det.db_host}): revision {det.db_revision} = head "
                    f"of {', '.join(det.db_releases) or 'no catalog release'}")
        else:
            out += f"\n\ndatabase: {det.db_error or 'revision not read'}"
        out += f"\ndeployed release: {det.release or 'UNKNOWN'}"
        for p in det.problems:
            out += f"\nproblem: {p}"
        return out

    return render_rows(det.hosts, COLUMNS, fmt, columns, table_text=text,
                       document=det.as_dict)
