"""The operator at the terminal: confirmations and stop signals (approvals: ``approvals``)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from octavia_upgrade.console import Console


@dataclass
class SignalState:
    cancel: threading.Event = field(default_factory=threading.Event)


def manual_approvals(runbook: Any) -> frozenset[str]:
    """Ids of the approvals ``--yes`` never gives: every rollback approval, and any
    approval with ``requires_human: true``."""
    rollback = {s.id for s in runbook.rollback}
    return frozenset(s.id for s in runbook.all_steps() if s.kind == "approval" and (
        s.id in rollback or getattr(s.args, "requires_human", False)))


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
