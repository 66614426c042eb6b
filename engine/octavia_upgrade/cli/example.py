"""``octavia-upgrade example NAME``: print (or write) a shipped example file."""

from __future__ import annotations

import argparse

HELP = "print a shipped example: inventory, kolla, osa (inventories) or config"
DESCRIPTION = """\
Print one of the examples shipped with the tool, to start from:

  inventory  the tool's own inventory format (YAML, commented; addresses in
             the 192.0.2.0/24 documentation range)
  kolla      a kolla-ansible `multinode` INI inventory, trimmed
  osa        an OpenStack-Ansible YAML inventory
  config     the configuration file sample (oslo.config; every option,
             commented out with its default)

-o FILE writes it to FILE instead (refused if FILE exists, unless --force).
--path prints where the shipped file is.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from octavia_upgrade.resources import EXAMPLES

    p.add_argument("name", metavar="NAME", choices=tuple(EXAMPLES),
                   help=f"one of: {', '.join(EXAMPLES)}")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--force", action="store_true", help="with -o: replace an existing FILE")
    p.add_argument("--path", action="store_true", help="print the shipped file's path")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from octavia_upgrade.errors import InvalidInput
    from octavia_upgrade.resources import example_path

    path = example_path(args.name)
    if args.path:
        print(path)
        return 0
    text = path.read_text(encoding="utf-8")
    if not args.output:
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    if out.exists() and not args.force:
        raise InvalidInput(f"{out} exists; give --force to replace it")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from None
    if not args.quiet:
        print(f"wrote {out} (the {args.name} example)", file=sys.stderr)
    return 0
