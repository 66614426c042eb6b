"""Helpers shared by subcommands that touch the state store or nodes."""

from __future__ import annotations

import argparse
from typing import Any

from octavia_upgrade.console import Console


def add_inventory(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("-i", "--inventory", required=required, metavar="INVENTORY",
                   help="octavia-upgrade inventory YAML, or an Ansible inventory of "
                        "kolla-ansible or OpenStack-Ansible: INI, YAML or JSON, told apart by "
                        "content (`ansible-inventory --list [--yaml]` output, OSA's "
                        "/etc/openstack_deploy/openstack_inventory.json); ansible.cfg is read "
                        "as Ansible finds it (examples: `octavia-upgrade example "
                        "inventory|kolla|osa`)")
    g = p.add_argument_group("inventory and SSH options")
    g.add_argument("--inventory-format", choices=("native", "kolla", "osa", "ansible"),
                   help="how to read -i (default: detected from the file)")
    g.add_argument("--role-map", metavar="FILE",
                   help="Ansible group → roles mapping file (kind: RoleMap) for "
                        "--inventory-format ansible")
    g.add_argument("--deployment", metavar="NAME",
                   help="deployment name (default for Ansible inventories: FORMAT-FILENAME)")
    g.add_argument("--flavor", metavar="FLAVOR",
                   help="a shipped flavor (deb, rdo, venv, osa, devstack, kolla) or a flavor "
                        "file (default for Ansible inventories: kolla for kolla-ansible, osa "
                        "for OpenStack-Ansible)")
    add_ssh_config(g, "OpenSSH client config to honour (default: ~/.ssh/config if it exists)",
                   "ignore ~/.ssh/config")


def add_ssh_config(group: Any, help_: str, no_help: str) -> None:
    """``--ssh-config FILE`` and ``--no-ssh-config``: one or the other (both: exit 2)."""
    g = group.add_mutually_exclusive_group()
    g.add_argument("--ssh-config", metavar="FILE", help=help_)
    g.add_argument("--no-ssh-config", action="store_true", help=no_help)


def inventory_source(args: argparse.Namespace) -> Any:
    """The :class:`~octavia_upgrade.inventory_source.InventorySource` the options describe."""
    from octavia_upgrade.inventory_source import InventorySource

    return InventorySource(
        path=args.inventory, format=args.inventory_format, role_map=args.role_map,
        deployment=args.deployment, flavor=args.flavor, ssh_config=args.ssh_config,
        use_ssh_config=not args.no_ssh_config)


RUNBOOK_HELP = ("runbook: a shipped runbook's name (dalmatian-to-epoxy) or a YAML file; "
                "a file that exists wins over a name")


def add_runbook(p: argparse.ArgumentParser, optional: bool = False) -> None:
    """The RUNBOOK positional: a shipped runbook's name or a file (see :func:`runbook_path`)."""
    p.add_argument("runbook", metavar="RUNBOOK", nargs="?" if optional else None,
                   help=RUNBOOK_HELP)


def runbook_path(arg: str) -> str:
    """The file RUNBOOK names (exit 2 with the closest names when it names nothing)."""
    from octavia_upgrade.resources import resolve_runbook

    return str(resolve_runbook(arg))


def add_params(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", default=[],
                   help="set a runbook parameter (repeatable); the runbook's `parameters:` "
                        "section lists the names, types and defaults")


def parse_params(args: argparse.Namespace) -> dict[str, str]:
    """``-p NAME=VALUE`` options → ``{NAME: VALUE}``."""
    from octavia_upgrade.session import parse_param_args

    return parse_param_args(args.param)


def settings(args: argparse.Namespace) -> Any:
    import sys

    from octavia_upgrade.config import load_config

    s = load_config(args.config_file)
    for w in s.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return s


def open_store(args: argparse.Namespace, redactor: Any = None, *,
               create: bool = True) -> tuple[Any, Any]:
    """(settings, store) for the configured state directory and database.

    ``create=False`` (read-only commands): no state database is created; the
    store is None when there is none yet.
    """
    from octavia_upgrade.state import open_store as _open
    from octavia_upgrade.state.db import exists

    s = settings(args)
    if not create and not exists(s.database_url, s.state_dir):
        return s, None
    if redactor is not None:
        redactor.add(*s.secret_values())
    return s, _open(s.database_url, s.state_dir, redactor=redactor,
                    tail_bytes=s.state_output_tail_bytes)


def raise_no_state(settings_: Any, run_id: str) -> None:
    """A run asked for before anything was recorded: exit 2, nothing created."""
    from octavia_upgrade.errors import InvalidInput
    from octavia_upgrade.state.db import default_url

    where = settings_.database_url or default_url(settings_.state_dir)
    raise InvalidInput(f"no run {run_id!r}: nothing has been recorded yet in {where} "
                       "(see `octavia-upgrade runs`)")


def console(args: argparse.Namespace, redactor: Any = None) -> Console:
    return Console(verbose=args.verbose, quiet=args.quiet,
                   redact=redactor.redact if redactor is not None else (lambda v: v))


def add_change(p: argparse.ArgumentParser, what: str) -> None:
    """``--change ID`` and ``--change-url URL`` (``run``, ``plan``); ``what``: where it shows."""
    p.add_argument("--change", metavar="ID", dest="change_id",
                   help=f"the change record (e.g. CHG0012345): {what}")
    p.add_argument("--change-url", metavar="URL",
                   help="link to the change record (needs --change)")


def check_change(args: argparse.Namespace) -> None:
    """Refuse ``--change-url`` without ``--change`` (exit 2)."""
    if args.change_url and not args.change_id:
        from octavia_upgrade.errors import InvalidInput

        raise InvalidInput("--change-url needs --change ID (the change record's id)")


def add_limit(p: argparse.ArgumentParser) -> None:
    """``--limit PATTERN``: an Ansible host pattern (``run``, ``plan``)."""
    p.add_argument("--limit", metavar="PATTERN",
                   help="only the hosts this Ansible host pattern selects: hosts, groups "
                        "(roles for an octavia-upgrade inventory), a:b, a:&b, a:!b, "
                        "wildcards, commas. A cold upgrade's service and migration steps "
                        "must cover the whole control plane: a limit that would split them "
                        "is refused (exit 3)")
