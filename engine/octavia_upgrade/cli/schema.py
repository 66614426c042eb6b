"""``octavia-upgrade schema NAME``: print a shipped JSON Schema."""

from __future__ import annotations

import argparse

from octavia_upgrade.errors import InvalidInput

HELP = "print a JSON Schema (runbook, inventory, flavor, rolemap, report) for editors and CI"
DESCRIPTION = """\
Print one of the JSON Schemas (Draft 2020-12) that the tool validates with.
Point a YAML language server at it to get errors while typing, e.g. add
  # yaml-language-server: $schema=<path to runbook.schema.json>
at the top of a runbook. `octavia-upgrade schema --list` names them all.
"""


def _names() -> list[str]:
    from octavia_upgrade.resources import schemas_dir

    return sorted(p.name.removesuffix(".schema.json") for p in schemas_dir().glob("*.schema.json"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help=f"schema name: {', '.join(_names())}")
    p.add_argument("--list", action="store_true", help="list the schema names")
    p.add_argument("--path", action="store_true", help="print the schema's file path instead")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.resources import schemas_dir

    names = _names()
    if args.list or not args.name:
        print("\n".join(names))
        return 0
    if args.name not in names:
        raise InvalidInput(f"unknown schema {args.name!r}; choose one of: {', '.join(names)}")
    path = schemas_dir() / f"{args.name}.schema.json"
    print(path if args.path else path.read_text(encoding="utf-8"), end="" if not args.path else "\n")
    return 0
