"""Pause and continue: a run stops before its next step while someone asked it to.

``octavia-upgrade pause RUN`` records who asked in the state database; the
run looks before every step (never inside one) and waits, looking again every
``[approvals] poll_interval`` seconds, until ``continue RUN`` clears it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from octavia_upgrade.console import Console
from octavia_upgrade.errors import Interrupted


class PauseControl:
    """The executor's ``hold``: returns when the step may start."""

    def __init__(self, store: Any, run_id: str, console: Console, cancel: threading.Event,
                 poll_interval: float, event: Callable[..., None]) -> None:
        self.store, self.run_id, self.console = store, run_id, console
        self.cancel, self.poll, self.event = cancel, poll_interval, event

    def __call__(self, step: Any) -> None:
        by = self.store.paused_by(self.run_id)
        if by is None:
            return
        self.console.info(f"\n  PAUSED by {by} before step {step.id}; "
                          f"`octavia-upgrade continue {self.run_id}` lets it go on")
        self.event("paused", before_step=step.id, by=by)
        while self.store.paused_by(self.run_id) is not None:
            if self.cancel.wait(self.poll):
                raise Interrupted("interrupted")
        self.console.info("  continued")
