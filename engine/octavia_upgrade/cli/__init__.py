"""Command-line entry point: ``octavia-upgrade SUBCOMMAND ...``.

Each subcommand lives in its own module under ``octavia_upgrade.cli`` and
provides ``HELP`` (one line), ``DESCRIPTION`` (shown by ``SUBCOMMAND --help``),
``add_arguments(parser)`` and ``run(args) -> int``. Modules import heavy
libraries inside ``run`` only, so ``--help`` and ``lint`` start fast.

Only :func:`main` turns exceptions into exit codes:
0 ok, 1 a step failed, 2 invalid input, 3 refused, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from octavia_upgrade import __version__
from octavia_upgrade.errors import EXIT_INTERRUPTED, EXIT_INVALID, UpgradeError

#: Subcommand name → module, in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "releases": "octavia_upgrade.cli.releases",
    "schema": "octavia_upgrade.cli.schema",
    "lint": "octavia_upgrade.cli.lint",
    "detect": "octavia_upgrade.cli.detect",
    "plan": "octavia_upgrade.cli.plan",
    "run": "octavia_upgrade.cli.run",
    "resume": "octavia_upgrade.cli.resume",
    "report": "octavia_upgrade.cli.report",
    "runs": "octavia_upgrade.cli.runs",
    "show": "octavia_upgrade.cli.show",
    "unlock": "octavia_upgrade.cli.unlock",
    "lab": "octavia_upgrade.cli.lab",
    "completion": "octavia_upgrade.cli.completion",
}

EPILOG = """\
exit codes:
  0    success
  1    a step failed (the run state is saved; see `show` and `resume`)
  2    invalid input (file:line:col is printed); nothing was executed
  3    refused: non-sequential jump, deployed release differs, lock held,
       plan changed since the run started (resume)
  130  interrupted by SIGINT/SIGTERM after the state was saved

Upgrades are sequential only (Pike → Queens → ... one release at a time), as
the upstream Octavia upgrade guide requires. See `octavia-upgrade releases`.
"""


class _Parser(argparse.ArgumentParser):
    """argparse that exits with our 'invalid input' code (2) and no traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="octavia-upgrade",
        description="Upgrade OpenStack Octavia one release at a time from reviewed YAML runbooks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config-file", action="append", default=[], metavar="PATH",
                        help="oslo.config file (repeatable); default search: "
                             "~/.octavia-upgrade/octavia-upgrade.conf, "
                             "/etc/octavia-upgrade/octavia-upgrade.conf")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more console output (repeatable)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors and results")
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback on internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, modname in COMMANDS.items():
        mod = importlib.import_module(modname)
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        # -v/-q also after the subcommand, where operators tend to type them
        p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                       help="more console output (repeatable)")
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="only errors and results")
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:
        # A shell asks for completions (see cli/completion.py); answers and exits.
        from octavia_upgrade.cli.completion import autocomplete

        autocomplete(parser)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_INVALID
    try:
        return int(args._run(args) or 0)
    except UpgradeError as exc:
        from octavia_upgrade.cli.wording import describe

        print(f"octavia-upgrade: {describe(exc)}" if not getattr(exc, "diagnostics", None)
              else str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("octavia-upgrade: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if args.debug:
            raise
        print(f"octavia-upgrade: internal error: {type(exc).__name__}: {exc} "
              "(re-run with --debug for a traceback)", file=sys.stderr)
        return 1
