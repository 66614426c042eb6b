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
    #: The first SIGINT/SIGTERM: no further step starts; running attempts are waited for.
    cancel: threading.Event = field(default_factory=threading.Event)
    #: The second: stop at once; commands still running are left running, ``unknown``.
    force: threading.Event = field(default_factory=threading.Event)


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
    """SIGINT/SIGTERM stop the run: the first lets the running commands end, the second
    stops at once.

    The first signal starts no further step, attempt or retry, and waits for
    the attempts already running on the hosts, so that their results are
    recorded (an approval prompt or a wait between checks ends at once). A
    second signal stops without waiting: the attempts still running are
    recorded ``unknown``, and their commands run on to their end on the hosts.

    Returns the function that puts the previous handlers back. Outside the
    main thread (where Python cannot install handlers) nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if not sig.cancel.is_set():
            console.warn(f"{name} received: stopping; no further step starts, the "
                         "state is saved")
            sig.cancel.set()
        elif not sig.force.is_set():
            console.warn(f"{name} received again: stopping at once; commands still "
                         "running are left running on their hosts and recorded as 'unknown'")
            sig.force.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore
