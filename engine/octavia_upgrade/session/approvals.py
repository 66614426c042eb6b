"""Approvals by identity: a run waits on a record in the state database.

At an approval step the run opens a request in the state database and looks
at it every ``[approvals] poll_interval`` seconds. Anyone who reaches the
database answers it with ``octavia-upgrade approve`` or ``reject`` (from any
terminal or machine), and the operator at the run's own terminal can answer
at its prompt: that answer is recorded the same way, under the operator's
identity. The step passes once its ``approvers`` distinct identities approved
(never the run's operator under ``four_eyes``), fails at the first rejection,
and at ``expires`` comes to its declared ``on_expiry`` outcome.

``--yes`` approves in advance, recorded as such (a rehearsal), except the
rollback gates, which stand for manual work.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from octavia_upgrade.console import Console
from octavia_upgrade.errors import ApprovalRefused, ApprovalRejected, ApprovalUnavailable
from octavia_upgrade.identity import Identity
from octavia_upgrade.steps.args import ApprovalArgs
from octavia_upgrade.steps.base import Approval

#: How an approval given in advance is recorded (``Approval.how``).
APPROVED_IN_ADVANCE = "--yes"

#: What an approval step needs when its kind states nothing (an
#: ``upgrade_check`` whose policy is ``approve``): one approval, any identity.
_DEFAULT = ApprovalArgs(message="")

#: Called before an outage gate opens its request (the change window check);
#: raises :class:`~octavia_upgrade.errors.Refused` to refuse.
GateCheck = Callable[[Any], None]
#: ``event(kind, **data)``: the run's event sink (state, log, webhooks).
EventSink = Callable[..., None]


class TerminalAnswers:
    """Lines typed at the run's terminal, read by one background thread.

    One reader for the whole run, so that a line typed for one approval is
    never eaten by a reader left over from another; lines typed while no
    approval waits are dropped.
    """

    def __init__(self, stdin: Any) -> None:
        self.stdin = stdin
        self.lines: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._read, name="approval-prompt",
                                            daemon=True)
            self._thread.start()

    def _read(self) -> None:
        for line in iter(self.stdin.readline, ""):
            self.lines.put(line.strip())

    def drain(self) -> None:
        while not self.lines.empty():
            self.lines.get_nowait()

    def next(self) -> str | None:
        try:
            return self.lines.get_nowait()
        except queue.Empty:
            return None


class ApprovalGate:
    """The run's approver (:class:`~octavia_upgrade.executor.Prompter`) on the state database."""

    def __init__(self, *, store: Any, run_id: str, operator: str, me: Identity,
                 console: Console, cancel: threading.Event, yes: bool,
                 manual: frozenset[str] = frozenset(), stdin: Any = None,
                 poll_interval: float = 0.5, event: EventSink | None = None,
                 outage_check: GateCheck | None = None) -> None:
        """
        Args:
            operator: the identity that started the run (four-eyes compares with it).
            me: whoever sits at this process's terminal (its prompt answers as them).
            manual: rollback gates, which ``yes`` never approves.
        """
        self.store, self.run_id, self.operator, self.me = store, run_id, operator, me
        self.console, self.cancel, self.yes, self.manual = console, cancel, yes, manual
        self.stdin = stdin or sys.stdin
        self.poll = poll_interval
        self.event = event or (lambda kind, **data: None)
        self.outage_check = outage_check
        self._terminal = TerminalAnswers(self.stdin) if self._tty() else None

    def _tty(self) -> bool:
        try:
            return bool(self.stdin.isatty())
        except (AttributeError, ValueError):
            return False

    def __call__(self, step: Any, message: str, impact: str | None) -> Approval:
        args = step.args if isinstance(getattr(step, "args", None), ApprovalArgs) else _DEFAULT
        if args.outage_gate and self.outage_check is not None:
            self.outage_check(step)
        self.console.info(f"\n  APPROVAL NEEDED ({step.id}): {message}")
        if impact:
            self.console.info(f"  DATA-PLANE IMPACT: {impact}")
        if self.yes and step.id not in self.manual:
            self.console.info(f"  approved with {APPROVED_IN_ADVANCE} (a rehearsal: "
                              "nobody was asked)")
            self.event("approved", step_id=step.id, by=[self.me.name], how=APPROVED_IN_ADVANCE)
            return Approval(self.me.name, APPROVED_IN_ADVANCE, time.time(),
                            ({"identity": self.me.name, "how": APPROVED_IN_ADVANCE,
                              "origin": self.me.origin, "comment": None},))
        if self._terminal is None and self.yes:
            # A rehearsal without a terminal: nobody is there to do the manual work.
            raise ApprovalUnavailable(step.id, rollback_gate=True)
        expires_at = (None if args.expires is None
                      else self.store.clock() + timedelta(seconds=args.expires))
        request = self.store.open_request(
            self.run_id, step.id, message=message, data_plane_impact=impact,
            required=args.approvers, four_eyes=args.four_eyes, outage_gate=args.outage_gate,
            operator=self.operator, expires_at=expires_at,
            on_expiry=args.on_expiry if args.expires is not None else None)
        self._announce(step.id, args, request)
        try:
            return self._wait(step.id, request)
        finally:
            self.store.resolve_request(request.id, "abandoned")  # no-op once resolved

    def _announce(self, step_id: str, args: ApprovalArgs, request: Any) -> None:
        need = (f"{args.approvers} distinct approvers" if args.approvers > 1 else "one approval")
        if args.four_eyes:
            need += f", none of them {self.operator} (four eyes)"
        until = (f"; expires at {request.expires_at:%Y-%m-%d %H:%M:%S} UTC ({args.on_expiry})"
                 if request.expires_at else "")
        self.console.info(f"  waiting for {need}{until}")
        self.console.info(f"  from any terminal: octavia-upgrade approve {self.run_id} "
                          f"{step_id} [--comment TEXT] | reject {self.run_id} {step_id} "
                          "--reason TEXT")
        self.event("approval-waiting", step_id=step_id, required=args.approvers,
                   four_eyes=args.four_eyes, outage_gate=args.outage_gate,
                   expires_at=request.expires_at.isoformat() if request.expires_at else None)
        if self._terminal is not None:
            self._terminal.start()
            self._terminal.drain()
            sys.stdout.write(f"  Type 'yes' to approve as {self.me.name}, 'no' to reject: ")
            sys.stdout.flush()

    def _wait(self, step_id: str, request: Any) -> Approval:
        while True:
            self._answer_from_terminal(step_id)
            decisions = self.store.decisions(request.id)
            rejected = next((d for d in decisions if d.decision == "rejected"), None)
            if rejected is not None:
                self.store.resolve_request(request.id, "rejected")
                by = rejected.identity or rejected.user
                self.console.info(f"  rejected by {by}: {rejected.comment}")
                self.event("rejected", step_id=step_id, by=by, reason=rejected.comment,
                           origin=rejected.origin)
                raise ApprovalRejected(step_id, by, rejected.comment or "")
            approved = [d for d in decisions if d.decision == "approved"]
            if len({d.identity for d in approved}) >= request.required:
                self.store.resolve_request(request.id, "approved")
                return self._approved(step_id, approved)
            if request.expires_at is not None and self.store.clock() >= request.expires_at:
                return self._expired(step_id, request)
            if self.cancel.wait(self.poll):
                raise KeyboardInterrupt

    def _answer_from_terminal(self, step_id: str) -> None:
        if self._terminal is None:
            return
        line = self._terminal.next()
        if line is None:
            return
        if line.lower() == "yes":
            decision, comment = "approved", None
        else:
            decision, comment = "rejected", f"answered {line!r} at the run's terminal"
        try:
            self.store.decide(self.run_id, step_id, decision=decision, identity=self.me.name,
                              origin=self.me.origin, how="prompt", comment=comment)
        except ApprovalRefused as exc:
            self.console.warn(str(exc))

    def _approved(self, step_id: str, approved: list[Any]) -> Approval:
        names = [d.identity or d.user for d in approved]
        decisions = tuple({"identity": d.identity or d.user, "how": d.how, "origin": d.origin,
                           "comment": d.comment,
                           "at": d.approved_at.isoformat()} for d in approved)
        self.console.info(f"  approved by {', '.join(names)}")
        self.event("approved", step_id=step_id, by=names,
                   comments=[d.comment for d in approved if d.comment])
        return Approval(", ".join(names), approved[-1].how, time.time(), decisions,
                        recorded=True)

    def _expired(self, step_id: str, request: Any) -> Approval:
        outcome = request.on_expiry or "reject"
        self.store.record_expiry(request, outcome)
        self.store.resolve_request(request.id, "expired")
        self.console.info(f"  no decision in time: {outcome} (declared by the runbook)")
        self.event("approval-expired", step_id=step_id, outcome=outcome)
        if outcome == "approve":
            return Approval("timeout", "timeout", time.time(),
                            ({"identity": None, "how": "timeout", "origin": None,
                              "comment": "approved by the declared timeout"},), recorded=True)
        raise ApprovalRejected(step_id, "timeout", "no decision before the step expired")
