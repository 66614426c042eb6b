"""The change window at the outage gate: refused outside it, before the step starts.

The outage gate is the approval step marked ``outage_gate: true`` (or, in
runbooks that mark none, the step ``approve-control-plane-outage``). Checked
before the step records anything, so a refusal leaves no step in flight: the
run stops (exit 3, saying when the next window opens) and can be resumed in
the window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from octavia_upgrade.errors import Refused

#: The outage gate of runbooks that mark none.
OUTAGE_GATE_ID = "approve-control-plane-outage"


def is_outage_gate(step: Any) -> bool:
    return step.kind == "approval" and (bool(getattr(step.args, "outage_gate", False))
                                        or step.id == OUTAGE_GATE_ID)


class WindowCheck:
    """The executor's hold for the change window (a no-op when none is declared)."""

    def __init__(self, windows: Any, clock: Callable[[], Any], event: Callable[..., None],
                 then: Callable[[Any], None] | None = None) -> None:
        self.windows, self.clock, self.event, self.then = windows, clock, event, then

    def __call__(self, step: Any) -> None:
        if self.then is not None:
            self.then(step)  # a pause comes first: the window is judged when the step starts
        if not self.windows or not is_outage_gate(step):
            return
        now = self.clock()
        if self.windows.is_open(now):
            return
        message = self.windows.closed_message(
            now, f"the outage gate {step.id} may not pass")
        self.event("refused-outside-window", step_id=step.id, message=message)
        raise Refused(message + "; resume the run in the window")
