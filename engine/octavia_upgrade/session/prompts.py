"""The operator at the terminal: approval prompts, confirmations and stop signals."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from octavia_upgrade.console import Console
from octavia_upgrade.errors import ApprovalDeclined, ApprovalUnavailable
from octavia_upgrade.executor import operator_identity
from octavia_upgrade.model import Step
from octavia_upgrade.steps.base import Approval

#: How an approval given in advance is recorded (``Approval.how``).
APPROVED_IN_ADVANCE = "--yes"


@dataclass
class SignalState:
    cancel: threading.Event = field(default_factory=threading.Event)


Prompter = Callable[[Step, str, "str | None"], Approval]


def manual_approvals(runbook: Any) -> frozenset[str]:
    """Ids of the approvals ``--yes`` never gives: every rollback approval, and any
    approval with ``requires_human: true``."""
    rollback = {s.id for s in runbook.rollback}
    return frozenset(s.id for s in runbook.all_steps() if s.kind == "approval" and (
        s.id in rollback or getattr(s.args, "requires_human", False)))


def make_prompter(*, yes: bool, console: Console, sig: SignalState, stdin: Any = None,
                  manual: frozenset[str] = frozenset()) -> Prompter:
    """Approvals: ``yes`` (approval in advance) answers them, except the ``manual`` ones.

    The ``manual`` ones (:func:`manual_approvals`) are rollback gates and
    approvals marked ``requires_human``: they stand for work an operator does
    or checks by hand while the run waits (such as letting the tool restore
    the database); approving them in advance would let the run go on as if
    that were done.

    Raises (from the prompter):
        ApprovalUnavailable: no terminal to ask on.
        ApprovalDeclined: the answer was not ``yes``.
    """
    user, _host = operator_identity()
    stdin = stdin or sys.stdin

    def prompt(step: Step, message: str, impact: str | None) -> Approval:
        console.info(f"\n  APPROVAL NEEDED ({step.id}): {message}")
        if impact:
            console.info(f"  DATA-PLANE IMPACT: {impact}")
        if yes and step.id not in manual:
            console.info(f"  approved with {APPROVED_IN_ADVANCE}")
            return Approval(user, APPROVED_IN_ADVANCE, time.time())
        if not stdin.isatty():
            raise ApprovalUnavailable(step.id, rollback_gate=yes)
        sys.stdout.write("  Type 'yes' to approve, anything else to stop: ")
        sys.stdout.flush()
        answer = stdin.readline().strip().lower()
        if answer != "yes":
            raise ApprovalDeclined(step.id, answer)
        return Approval(user, "prompt", time.time())

    return prompt


def terminal_confirm(question: str, stdin: Any = None) -> bool:
    """Ask a yes/no ``question`` on the terminal; False when there is none."""
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        return False
    sys.stdout.write(f"  {question} [y/N] ")
    sys.stdout.flush()
    return stdin.readline().strip().lower() in ("y", "yes")


def never_confirm(question: str) -> bool:
    """Confirmation for callers without an operator: the answer is always no."""
    return False


def install_signals(sig: SignalState, console: Console) -> Callable[[], None]:
    """SIGINT/SIGTERM stop the run promptly: running attempts become ``unknown``.

    Returns the function that puts the previous handlers back. Outside the
    main thread (where Python cannot install handlers) nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, _frame: Any) -> None:
        if not sig.cancel.is_set():
            name = signal.Signals(signum).name
            console.warn(f"{name} received: stopping; the state is saved and running "
                         "commands are recorded as 'unknown'")
        sig.cancel.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore
