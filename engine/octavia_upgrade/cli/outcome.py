"""The end of ``run`` and ``resume``: what the run came to, in words and as an exit code."""

from __future__ import annotations

import os
import sys
from typing import Any

from octavia_upgrade.console import Console
from octavia_upgrade.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_REFUSED, EXIT_STEP_FAILED
from octavia_upgrade.statuses import RunStatus

_SUMMARY = {RunStatus.SUCCEEDED: "finished successfully", RunStatus.FAILED: "FAILED",
            RunStatus.ROLLED_BACK: "FAILED and was rolled back",
            RunStatus.INTERRUPTED: "was interrupted"}


def exit_code(result: Any) -> int:
    """0 succeeded, 130 interrupted, 3 a step refused before changing anything, 1 otherwise
    (failed, rolled back)."""
    if result.status == RunStatus.FAILED and getattr(result, "refused", False):
        return EXIT_REFUSED
    return {RunStatus.SUCCEEDED: EXIT_OK, RunStatus.INTERRUPTED: EXIT_INTERRUPTED}.get(
        result.status, EXIT_STEP_FAILED)


def finish(console: Console, result: Any) -> int:
    """Say how the run ended and what to do next; its exit code.

    After an interruption the process leaves at once (``os._exit``): worker
    threads may still wait on remote commands whose outcome is already
    recorded as unknown, and must not be waited for.
    """
    run_id = result.run_id
    if result.status == RunStatus.INTERRUPTED:
        console.error(f"run {run_id} interrupted. Inspect: octavia-upgrade show {run_id}; "
                      f"continue: octavia-upgrade resume {run_id}")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    console.info(f"\nrun {run_id} {_SUMMARY.get(result.status, result.status)}"
                 + (f": {result.message}" if result.message and result.status != "succeeded"
                    else ""))
    if result.status == RunStatus.FAILED:
        console.info(f"  inspect: octavia-upgrade show {run_id}\n"
                     f"  continue: octavia-upgrade resume {run_id}")
    console.info(f"  report: octavia-upgrade report {run_id} -f markdown -o report.md")
    return exit_code(result)
