"""Command-line entry point: ``octavia-upgrade SUBCOMMAND ...``.

Each subcommand lives in its own module under ``octavia_upgrade.cli`` and
provides ``HELP`` (one line), ``DESCRIPTION`` (shown by ``SUBCOMMAND --help``),
``add_arguments(parser)`` and ``run(args) -> int``. Modules import heavy
libraries inside ``run`` only, so ``--help`` and ``lint`` start fast.

Only :func:`main` turns exceptions into exit codes (``cli/exitcodes.py``):
0 ok, 1 a step failed, 2 invalid input, 3 refused, 70 internal error,
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from octavia_upgrade import __version__
from octavia_upgrade.cli.exitcodes import EXIT_INTERNAL, epilog_table, exit_code_for
from octavia_upgrade.errors import EXIT_INVALID, UpgradeError

#: Subcommand name → module, in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "releases": "octavia_upgrade.cli.releases",
    "schema": "octavia_upgrade.cli.schema",
    "lint": "octavia_upgrade.cli.lint",
    "runbooks": "octavia_upgrade.cli.runbooks",
    "detect": "octavia_upgrade.cli.detect",
    "plan": "octavia_upgrade.cli.plan",
    "run": "octavia_upgrade.cli.run",
    "resume": "octavia_upgrade.cli.resume",
    "report": "octavia_upgrade.cli.report",
    "runs": "octavia_upgrade.cli.runs",
    "show": "octavia_upgrade.cli.show",
    "approvals": "octavia_upgrade.cli.approvals",
    "approve": "octavia_upgrade.cli.approve",
    "reject": "octavia_upgrade.cli.reject",
    "pause": "octavia_upgrade.cli.pause",
    "continue": "octavia_upgrade.cli.unpause",
    "metrics": "octavia_upgrade.cli.metrics",
    "serve": "octavia_upgrade.cli.serve",
    "unlock": "octavia_upgrade.cli.unlock",
    "lab": "octavia_upgrade.cli.lab",
    "example": "octavia_upgrade.cli.example",
    "completion": "octavia_upgrade.cli.completion",
}

EPILOG = f"""\
exit codes:
{epilog_table()}

Upgrades are sequential only (Pike → Queens → ... one release at a time), as
the upstream Octavia upgrade guide requires. See `octavia-upgrade releases`.
"""


QUIET_HELP = ("no progress output: only warnings, errors and results (a plan, a report, "
              "a table); not together with -v")


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
    parser.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback on internal errors (exit 70)")
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
                       help=QUIET_HELP)
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
    if args.quiet and args.verbose:
        parser.error("-q/--quiet and -v/--verbose contradict each other: give one of them")
    try:
        return int(args._run(args) or 0)
    except UpgradeError as exc:
        from octavia_upgrade.cli.wording import describe

        print(f"octavia-upgrade: {describe(exc)}" if not getattr(exc, "diagnostics", None)
              else str(exc), file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt as exc:
        print("octavia-upgrade: interrupted", file=sys.stderr)
        return exit_code_for(exc)
    except BrokenPipeError as exc:
        return exit_code_for(exc)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        return _internal_error(exc, args)


def _internal_error(exc: Exception, args: argparse.Namespace) -> int:
    """One line (exit 70); the traceback with -v or --debug."""
    if args.debug or args.verbose:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    hint = ("the traceback is above" if args.debug or args.verbose
            else "re-run with -v for the traceback")
    print(f"octavia-upgrade: internal error: {type(exc).__name__}: {exc} (a bug, exit "
          f"{EXIT_INTERNAL}); {hint}, and please report it", file=sys.stderr)
    return exit_code_for(exc)
