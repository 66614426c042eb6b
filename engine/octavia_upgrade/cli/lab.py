"""``octavia-upgrade lab up|status|down|fault``: the rehearsal lab on this machine."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from octavia_upgrade.cli.output import Column

HELP = ("rehearsal lab: a real Octavia control plane on this machine "
        "(up|status|down|fault|snapshot|reset)")
DESCRIPTION = """\
A rehearsal control plane on one machine, built on real parts: N sshd nodes on
loopback addresses, each in its own mount namespace with its own Octavia venv
running the five real services (managed by a systemctl stand-in), one MariaDB
and one RabbitMQ, load balancers created through the real API and kept ONLINE
by heartbeats, and a haproxy VIP. `lab up` writes DIR/inventory.yaml for the
engine, naming the flavor the nodes are laid out in. Needs root. See docs/lab.md.

  lab up [--nodes 3] [--release dalmatian] [--flavor venv|kolla|osa] [--loadbalancers 1]
         [--login USER] [--audit-commands] [--bare]
  lab status [-f table|json|yaml|value|csv] [-c COLUMN]   (each node's Octavia and release)
             (value, csv and -c: one row per node, as in OpenStackClient)
  lab fault NODE unreachable | stuck-service UNIT | stuck-failover |
                 fail-migration [half-way] |
                 slow [DELAY] | disk-full [PATH] | clear
  lab snapshot | lab reset
  lab down

DIR defaults to ./lab (in the current directory). The first `lab up` of a
release builds its wheelhouse from PyPI into ~/.cache/octavia-upgrade/
(OCTAVIA_UPGRADE_CACHE overrides); later labs install offline.

Every lab process runs with its working directory inside DIR; nothing is
written to the folder the command runs from.

exit codes: 0 ok, 1 the lab failed to start or a fault could not be made,
2 invalid arguments (also --login without OCTAVIA_UPGRADE_LAB_SUDO_PASSWORD), 3
refused (a lab is already up in DIR, not root, the PyMySQL driver missing, the
--login user exists already: checked before anything starts), 70 internal error.
"""

DEFAULT_DIR = "lab"


def _dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default=DEFAULT_DIR, metavar="DIR",
                   help=f"lab directory (default: ./{DEFAULT_DIR})")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="lab_command", metavar="ACTION", parser_class=type(p))
    sub.required = True
    up = sub.add_parser("up", help="bring a lab up (minutes the first time)")
    _dir(up)
    up.add_argument("--nodes", type=int, default=3, metavar="N",
                    help="number of nodes (default 3; up to 5, or 50 with --bare)")
    up.add_argument("--release", default="dalmatian", metavar="SERIES",
                    help="release to install (bobcat … hibiscus; default dalmatian)")
    from octavia_upgrade.lab.styles import STYLES

    up.add_argument("--flavor", default="venv", choices=tuple(STYLES),
                    help="deployment style of the nodes, and the inventory's flavor: "
                         + "; ".join(f"{k}: {v.summary}" for k, v in STYLES.items()))
    up.add_argument("--loadbalancers", type=int, default=1, metavar="N",
                    help="load balancers to create (default 1, up to 40): lab-lb1 HTTP on "
                         "the haproxy VIP, then UDP and TCP listeners, ACTIVE_STANDBY and "
                         "SINGLE, mixed in a fixed order (docs/lab.md)")
    up.add_argument("--login", metavar="USER",
                    help="the inventory logs in as USER (a new user the lab creates and "
                         "removes) and runs every command through sudo with a password, "
                         "read from OCTAVIA_UPGRADE_LAB_SUDO_PASSWORD at lab up and at every "
                         "run (never written to a file)")
    up.add_argument("--audit-commands", action="store_true",
                    help="every node logs each command its sshd runs, and how it ended, "
                         "to DIR/nodes/NODE/commands.log (sshd ForceCommand; what "
                         "benchmarks/lab-crash-trials counts)")
    up.add_argument("--bare", action="store_true",
                    help="sshd nodes only, no Octavia (benchmarks, up to 50 nodes)")
    up.add_argument("--name", help="lab name; the deployment is lab-NAME "
                                   "(default: the directory's name)")
    up.add_argument("--net", default="127.42.0", metavar="A.B.C",
                    help="loopback /24 for nodes and VIP (default 127.42.0)")
    st = sub.add_parser("status", help="nodes (the Octavia each runs), services, load balancers, "
                                          "amphorae, VIP")
    _dir(st)
    from octavia_upgrade.cli.output import add_row_format

    add_row_format(st, node_columns())
    down = sub.add_parser("down", help="stop everything the lab started and remove it")
    _dir(down)
    fault = sub.add_parser("fault", help="inject a fault on a node, or clear its faults")
    _dir(fault)
    fault.add_argument("node", metavar="NODE")
    fault.add_argument("kind", metavar="KIND",
                       choices=("unreachable", "stuck-service", "stuck-failover",
                                "fail-migration", "slow", "disk-full", "clear"),
                       help="unreachable | stuck-service | stuck-failover | fail-migration "
                            "| slow | disk-full | clear")
    fault.add_argument("arg", nargs="?", metavar="ARG",
                       help="stuck-service: UNIT; fail-migration: half-way (fail after "
                            "the first migration) or hold (wait after it, its database "
                            "connection open, until cleared); slow: DELAY (150ms); "
                            "disk-full: PATH (/var/log/octavia)")

    broker = sub.add_parser(
        "broker", help="stop the lab's RabbitMQ (its port refuses connections), or start it",
        description="Stop the lab's RabbitMQ application (rabbitmqctl stop_app: the AMQP "
                    "port refuses connections, as after `systemctl stop rabbitmq-server` on "
                    "a real cloud) or start it again; the broker's processes keep running, "
                    "so `lab down` stops them as usual. Stopping a stopped broker is exit 3.")
    _dir(broker)
    broker.add_argument("action", choices=("stop", "start"))
    database = sub.add_parser(
        "database", help="restart the lab's MariaDB (every open connection is cut)",
        description="Stop the lab's MariaDB by its PID and start it again on the same data "
                    "and port, as a database server restart does on a real cloud: every "
                    "open connection is cut. With `lab fault NODE fail-migration hold` a "
                    "migration waits on its open connection, so the restart lands inside it.")
    _dir(database)
    database.add_argument("action", choices=("restart",))
    snap = sub.add_parser(
        "snapshot", help="keep the lab as it is now, for `lab reset`",
        description="Copy what an upgrade changes: every node's Octavia folders (not its "
                    "logs) and every database of the lab's MariaDB, into DIR/snapshot "
                    "(replacing an earlier snapshot), with the services running: about half a "
                    "minute for three nodes.")
    _dir(snap)
    reset = sub.add_parser(
        "reset", help="put the lab back as `lab snapshot` kept it (a minute, not a rebuild)",
        description="Stop the services on every node, put the snapshot's folders and "
                    "databases back, start the services and wait until every API answers. "
                    "Logs, the runbook's backups and the engine's state directory are kept. "
                    "Without a snapshot: exit 3.")
    _dir(reset)


def _print(text: str) -> None:
    print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.lab.core import Lab

    quiet = getattr(args, "quiet", False)
    lab = Lab(args.dir, log=(lambda _t: None) if quiet else _print)
    if args.lab_command == "up":
        _require_drivers()
        st = lab.up(nodes=args.nodes, release=args.release, bare=args.bare,
                    net=args.net, name=args.name, loadbalancers=args.loadbalancers,
                    flavor=args.flavor, login=args.login,
                    audit_commands=args.audit_commands)
        print(f"inventory: {lab.inventory_file}")
        if not st.get("bare"):
            print(f"try: octavia-upgrade lab status --dir {args.dir}")
        return 0
    if args.lab_command == "status":
        from octavia_upgrade.cli.output import emit_rows, select

        select(node_columns(), args.columns)
        emit_rows(render_status_as(lab.status(), args.format, args.columns))
        return 0
    if args.lab_command == "down":
        left = lab.down()
        return 1 if left else 0
    if args.lab_command == "fault":
        print(lab.fault(args.node, args.kind, args.arg))
        return 0
    if args.lab_command == "broker":
        print(lab.broker(args.action))
        return 0
    if args.lab_command == "database":
        print(lab.restart_database())
        return 0
    if args.lab_command in ("snapshot", "reset"):
        from octavia_upgrade.lab import snapshot

        print(snapshot.take(lab) if args.lab_command == "snapshot" else snapshot.reset(lab))
        return 0
    print(f"unknown lab action {args.lab_command}", file=sys.stderr)
    return 2


def _require_drivers() -> None:
    """Refuse at once (exit 3) when a module the lab needs later cannot be imported."""
    from octavia_upgrade.errors import Refused

    try:
        import pymysql  # noqa: F401
    except ImportError:
        raise Refused("the lab needs the PyMySQL driver for its MariaDB, and this Python "
                      f"({sys.executable}) cannot import it: install it with "
                      f"`{sys.executable} -m pip install 'PyMySQL>=1.1'` (a dependency of "
                      "octavia-upgrade: reinstall the package with its dependencies)") from None


def node_columns() -> tuple[Column, ...]:
    """``lab status -c``: one row per node; a column per Octavia service."""
    from octavia_upgrade.cli.output import Column
    from octavia_upgrade.lab.units import UNITS

    def unit(name: str) -> Column:
        return Column(name.removeprefix("octavia-"),
                      lambda n: (n.get("services") or {}).get(name))

    return (Column("node", lambda n: n["name"]), Column("address", lambda n: n.get("address")),
            Column("sshd", lambda n: n["sshd"]), Column("octavia", lambda n: n.get("octavia")),
            Column("release", lambda n: n.get("release")), *(unit(u) for u in UNITS),
            Column("faults", lambda n: ",".join(n["faults"]) or None))


def render_status_as(data: dict, fmt: str, columns: list[str] | tuple[str, ...] = ()) -> str:
    """``lab status`` in ``fmt``: without ``-c`` the whole status (table, json, yaml)."""
    from octavia_upgrade.cli.output import render_rows

    return render_rows(data["nodes"], node_columns(), fmt, columns,
                       table_text=lambda: render_status(data), document=lambda: data)


def _release_text(data: dict) -> str:
    """What the nodes run now, and the release the lab was brought up at when it differs."""
    at_up = data.get("release_at_up") or "-"
    if data.get("bare"):
        return at_up
    now = data.get("release")
    if now is None:
        running = {n["name"]: n.get("release") or "?" for n in data["nodes"] if n.get("address")}
        now = ("mixed (" + ", ".join(f"{k} {v}" for k, v in running.items()) + ")"
               if len(set(running.values())) > 1 else "unknown")
    return now if now == at_up else f"{now} (brought up at {at_up})"


def render_status(data: dict) -> str:
    """The table form of ``lab status``."""
    from octavia_upgrade.cli.output import table
    from octavia_upgrade.lab.units import UNITS

    short = [u.removeprefix("octavia-") for u in UNITS]
    lines = [f"lab {data['dir']}: {data.get('status')}, release {_release_text(data)}"
             f", flavor {data.get('flavor') or 'venv'}, deployment {data.get('deployment')}"]
    rows = []
    for n in data["nodes"]:
        svc = n.get("services") or {}
        rows.append([n["name"], n.get("address") or "-", n["sshd"], n.get("octavia") or "-",
                     *[svc.get(u, "-") for u in UNITS], ",".join(n["faults"]) or "-"])
    lines.append(table(["node", "address", "sshd", "octavia", *short, "faults"], rows))
    if data.get("bare"):
        return "\n".join(lines)
    infra = data.get("infrastructure", {})
    lines.append("")
    lines.append("infrastructure: " + ", ".join(f"{k} {v}" for k, v in infra.items()))
    vip = data.get("vip")
    if vip:
        lines.append(f"VIP {vip['url']}: {'reachable' if vip['reachable'] else 'NOT reachable'}")
    lines.append("")
    if data.get("api_error"):
        lines.append(f"Octavia API: {data['api_error']}")
    lbs = data.get("loadbalancers", [])
    lines.append(table(["load balancer", "name", "vip", "provisioning", "operating"],
                       [[lb["id"], lb["name"], lb["vip_address"], lb["provisioning_status"],
                         lb["operating_status"]] for lb in lbs]))
    lines.append("")
    lines.append(table(["amphora", "load balancer", "status"],
                       [[a["id"], a["loadbalancer_id"], a["status"]]
                        for a in data.get("amphorae", [])]))
    lines.append(f"\ninventory: {data['inventory']}")
    return "\n".join(lines)
