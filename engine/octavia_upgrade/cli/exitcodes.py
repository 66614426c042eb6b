"""The exit codes of every command, and which exception maps to which.

The table is the one README.md, ``octavia-upgrade --help`` and
docs/operator-guide.md print; :func:`exit_code_for` is the only place an
exception becomes a code. 70 is ``EX_SOFTWARE`` of sysexits(3): an
unexpected exception (a bug) is never confused with "a step failed" (1).
"""

from __future__ import annotations

from octavia_upgrade.errors import (EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, EXIT_REFUSED,
                                    EXIT_STEP_FAILED, UpgradeError)

#: An unexpected exception reached the command line (sysexits ``EX_SOFTWARE``).
EXIT_INTERNAL = 70

#: (code, meaning), in the order the documentation lists them.
TABLE: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (EXIT_STEP_FAILED, "a step failed (the run state is saved; see `show` and `resume`)"),
    (EXIT_INVALID, "invalid input (file:line:col is printed); nothing was executed"),
    (EXIT_REFUSED, "refused: non-sequential jump, deployed release differs, prerequisites "
                   "missing (preflight; nothing changed), no room to stage the new code "
                   "(nothing stopped), lock held, plan changed since the run started "
                   "(resume), a --limit that would split the control plane, outside the "
                   "change windows; an approval that cannot count (step not waiting, four "
                   "eyes, already decided) or a pause/continue that does not apply: nothing "
                   "recorded"),
    (EXIT_INTERNAL, "internal error (a bug): one line on stderr; -v or --debug prints the "
                    "traceback"),
    (EXIT_INTERRUPTED, "interrupted by SIGINT/SIGTERM after the state was saved"),
)


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an exception that reached the command line."""
    if isinstance(exc, UpgradeError):
        return int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        return EXIT_OK  # the reader (head, a pager) has seen enough
    return EXIT_INTERNAL


def epilog_table() -> str:
    """The table as ``--help`` prints it."""
    return "\n".join(f"  {code:<4} {meaning}" for code, meaning in TABLE)
