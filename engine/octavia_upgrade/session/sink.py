"""Where a run's events go: the state store (durably first), the JSON log, the console."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from octavia_upgrade.console import Console
from octavia_upgrade.plan import Plan, PlannedStep
from octavia_upgrade.steps.base import Approval, Outcome


class RunSink:
    """Sends executor events to the store (durably), the JSON log and the console.

    ``redact`` masks secrets in what the sink writes to the log itself (the
    commands sent); by default the process-wide redactor.
    """

    def __init__(self, store: Any, run_id: str, log: Any, console: Console, plan: Plan,
                 redact: Callable[[Any], Any] | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.log = log
        self.console = console
        self.plan = plan
        if redact is None:
            from octavia_upgrade.logs import redact as redact
        self.redact = redact
        self._index = {s.id: i + 1 for i, s in enumerate(plan.steps)}
        self._lock = threading.Lock()
        #: Told ``listen(kind, data)`` of everything that happens (webhooks, metrics).
        self.listen: Callable[[str, dict[str, Any]], None] = lambda kind, data: None

    def step_started(self, step: PlannedStep, hosts: tuple[str, ...]) -> None:
        self.console.step(self._index[step.id], len(self.plan.steps), step.id, step.name,
                          step.kind, hosts)
        self.log.info("step-started", step_id=step.id, kind=step.kind, phase=step.phase,
                      hosts=list(hosts))
        self.listen("step-started", {"step_id": step.id, "kind": step.kind,
                                     "phase": step.phase, "hosts": list(hosts)})

    def attempt_started(self, step: PlannedStep, host: str, attempt: int) -> int:
        with self._lock:
            token = self.store.record_start(self.run_id, step.id, host, attempt, step.phase)
        self.log.info("attempt-started", step_id=step.id, host=host, attempt=attempt)
        return token

    def attempt_finished(self, token: int, step: PlannedStep, host: str, attempt: int,
                         outcome: Outcome, started: float, ended: float) -> None:
        from octavia_upgrade.errors import StateError

        unrecorded = None
        try:
            with self._lock:
                for kind, data in outcome.evidence:
                    self.store.record_evidence(self.run_id, step.id, host, kind, data)
                self.store.record_end(token, outcome.status, outcome.rc, outcome.stdout,
                                      outcome.stderr, outcome.outputs, outcome.artifacts,
                                      outcome.message, commands=outcome.commands)
        except StateError as exc:
            # The state database is away past its wait: the log and the console still
            # say how the attempt ended (the database will call it unknown on resume).
            unrecorded = exc
        self.log.info("attempt-finished", step_id=step.id, host=host, attempt=attempt,
                      status=outcome.status, rc=outcome.rc, duration=round(ended - started, 3),
                      message=outcome.message, commands=self.logged_commands(outcome),
                      **({"recorded": False} if unrecorded else {}))
        self.console.result(host, outcome.status, ended - started, attempt, outcome.message,
                            outcome.stdout + ("\n" + outcome.stderr if outcome.stderr else ""))
        if unrecorded is not None:
            raise unrecorded
        self.listen("attempt-finished", {"step_id": step.id, "host": host, "attempt": attempt,
                                         "status": outcome.status, "phase": step.phase,
                                         "started": started, "ended": ended,
                                         "message": outcome.message})

    def logged_commands(self, outcome: Outcome) -> list[dict[str, str]]:
        """The commands sent, redacted, as the JSON log holds them.

        Each is ``{"id", "planned", "sent"}``: the command's key is logged as
        ``id`` because the log's redaction masks every field named ``key``.
        """
        return [{"id": str(c.get("key", "")), "planned": self.redact(c.get("planned", "")),
                 "sent": self.redact(c.get("sent", ""))} for c in outcome.commands]

    def approval(self, step: PlannedStep, approval: Approval) -> None:
        if not approval.recorded:
            with self._lock:
                self.store.record_approval(self.run_id, step.id, approval.how,
                                           user=approval.user)
        self.log.info("approved", step_id=step.id, user=approval.user, how=approval.how)

    def event(self, kind: str, **data: Any) -> None:
        with self._lock:
            self.store.record_event(self.run_id, kind, data)
        self.log.info(kind, **data)
        self.listen(kind, dict(data))
