"""``octavia-upgrade detect``: which release is deployed, per host and in the DB."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.common import add_inventory, inventory_source
from octavia_upgrade.cli.output import add_format, dump, emit, table
from octavia_upgrade.errors import EXIT_REFUSED

HELP = "detect the deployed Octavia release on every host and in the database"
DESCRIPTION = """\
Connect to every host of the inventory (strict host-key checking), read the
installed Octavia and octavia-lib versions through the deployment flavor, and
run `octavia-db-manage current` on a db-migrate host. Each is mapped to a
release through the catalog. Exit 0 when every host and the database agree on
one release; exit 3 when a host is unreachable, hosts run mixed releases, or
the database revision does not match.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_inventory(p)
    add_format(p, ("table", "json"), "table")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.catalog import load_catalog
    from octavia_upgrade.detect import detect
    from octavia_upgrade.flavors import load_flavor
    from octavia_upgrade.inventory_source import open_inventory
    from octavia_upgrade.transport import TransportPool

    inv = open_inventory(inventory_source(args))
    flavor = load_flavor(inv.flavor)
    cat = load_catalog()
    with TransportPool(inv) as pool:
        det = detect(inv, flavor, cat, pool.get)
    if args.format == "json":
        emit(dump(det.as_dict(), "json"))
    else:
        rows = [[h.host, h.address, h.octavia or "-", h.octavia_lib or "-", h.release or "-",
                 h.error or ""] for h in det.hosts]
        text = table(["host", "address", "octavia", "octavia-lib", "release", "problem"], rows)
        if det.db_revision:
            text += (f"\n\ndatabase (read on {det.db_host}): revision {det.db_revision} = head "
                     f"of {', '.join(det.db_releases) or 'no catalog release'}")
        else:
            text += f"\n\ndatabase: {det.db_error or 'revision not read'}"
        text += f"\ndeployed release: {det.release or 'UNKNOWN'}"
        for p in det.problems:
            text += f"\nproblem: {p}"
        emit(text)
    return EXIT_REFUSED if det.problems or not det.release else 0
