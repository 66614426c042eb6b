"""Helpers shared by subcommands that touch the state store or nodes."""

from __future__ import annotations

import argparse
from typing import Any

from octavia_upgrade.console import Console


def add_inventory(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("-i", "--inventory", required=required, metavar="INVENTORY",
                   help="inventory YAML describing the control-plane hosts (see inventory/)")


def add_params(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", default=[],
                   help="set a runbook parameter (repeatable); see the runbook's parameters:")


def settings(args: argparse.Namespace) -> Any:
    import sys

    from octavia_upgrade.config import load_config

    s = load_config(args.config_file)
    for w in s.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return s


def open_store(args: argparse.Namespace, redactor: Any = None) -> tuple[Any, Any]:
    """(settings, store) for the configured state directory and database."""
    from octavia_upgrade.state import open_store as _open

    s = settings(args)
    if redactor is not None:
        redactor.add(*s.secret_values())
    return s, _open(s.database_url, s.state_dir, redactor=redactor,
                    tail_bytes=s.state_output_tail_bytes)


def console(args: argparse.Namespace, redactor: Any = None) -> Console:
    return Console(verbose=args.verbose, quiet=args.quiet,
                   redact=redactor.redact if redactor is not None else (lambda v: v))
