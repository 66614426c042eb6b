"""The run's events as the outside world gets them (webhooks, metrics).

:class:`Notifier` listens to the run's sink and turns what happens into the
events operators subscribe to: ``run-started``, ``approval-waiting``,
``approved``, ``rejected``, ``approval-expired``, ``outage-started``,
``outage-ended`` (with its length), ``step-failed``, ``paused``,
``run-finished``, and ``run-refused`` for a run refused before its first
step (:func:`refused_event`). Each event carries the run (id, deployment,
runbook, releases, change record, operator) and its own data, secrets
masked; the parameters are never included.

The outage is the control plane's: from the start of the first main step
that stops a service to the end of the last start/restart step after it (the
plan's step boundaries); :func:`outage_seconds` is the one place its length
is computed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from octavia_upgrade.statuses import Phase, ResultStatus

#: The sink events passed on as they are.
PASSED_ON = frozenset({"approval-waiting", "approved", "rejected", "approval-expired",
                       "paused", "refused-outside-window", "run-started", "resumed",
                       "run-finished"})
#: Attempt statuses that fail a step.
FAILED = frozenset({ResultStatus.FAILED, ResultStatus.TIMED_OUT, ResultStatus.UNREACHABLE,
                    ResultStatus.UNKNOWN})
#: Attempt statuses after which the step is never retried (the engine stops at once).
FINAL_AT_ONCE = frozenset({ResultStatus.UNREACHABLE, ResultStatus.UNKNOWN})


def outage_bounds(plan: Any) -> tuple[str, str | None] | None:
    """(first stop step, the step whose end closes the outage) of the main phase; None:
    no outage.

    The outage ends when the API answers again: with the ``wait`` step right after
    the last start step (``wait-api``: every API host answered), else with that start
    step.
    """
    from octavia_upgrade.reports.planned import outage_window, service_action

    window = outage_window(plan.steps, {s.id: service_action(s) for s in plan.steps},
                           {s.id: s.estimate for s in plan.steps})
    if window is None:
        return None
    main = [s for s in plan.steps if s.phase == Phase.MAIN]
    after = [b for a, b in zip(main, main[1:]) if a.id == window.last_step]
    last = after[0].id if after and after[0].kind == "wait" else window.last_step
    return window.first_step, last


def outage_seconds(started: float, ended: float) -> float:
    """The length of the control-plane outage between the step boundaries (seconds)."""
    return round(max(0.0, ended - started), 3)


class Notifier:
    """Listens to the sink; hands events to ``deliver`` (never raises, never blocks long)."""

    def __init__(self, plan: Any, run: dict[str, Any], deliver: Iterable[Callable[..., None]],
                 redact: Callable[[Any], Any] = lambda v: v) -> None:
        self.run = run
        self.deliver = tuple(deliver)
        self.redact = redact
        self.bounds = outage_bounds(plan)
        self.attempts = {s.id: s.retry.attempts for s in plan.steps}
        self.main = [s.id for s in plan.steps if s.phase == Phase.MAIN]
        self.outage_started: float | None = None
        self.outage_ended: float | None = None
        self._lock = threading.Lock()
        #: The run's metrics textfile writer (set by the session), stopped at the end.
        self.metrics: Any = None

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        try:
            self._handle(kind, data)
        except Exception:  # noqa: BLE001 - notifications never fail the upgrade
            pass

    def _handle(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "step-started":
            self._step_started(str(data["step_id"]))
        elif kind == "attempt-finished":
            self._attempt_finished(data)
        elif kind in PASSED_ON:
            if kind == "run-finished":
                self._end_outage(data.get("status") == "succeeded", at_end=True)
            self.emit(kind, data)

    def _step_started(self, step_id: str) -> None:
        if self.bounds is None or step_id not in self.main:
            return
        first, last = self.bounds
        with self._lock:
            if step_id == first and self.outage_started is None:
                self.outage_started = time.time()
                self.emit("outage-started", {"step_id": step_id})
                return
        if self.outage_started is not None and self.outage_ended is None and last is not None:
            if self.main.index(step_id) > self.main.index(last):
                self._end_outage(True)

    def _attempt_finished(self, data: dict[str, Any]) -> None:
        status = data.get("status")
        if status in FAILED and (status in FINAL_AT_ONCE or int(data.get("attempt", 1)) >=
                                 self.attempts.get(str(data.get("step_id")), 1)):
            self.emit("step-failed", {k: data.get(k) for k in (
                "step_id", "host", "status", "attempt", "message")})

    def _end_outage(self, healthy: bool, at_end: bool = False) -> None:
        with self._lock:
            if self.outage_started is None or self.outage_ended is not None:
                return
            self.outage_ended = time.time()
            length = outage_seconds(self.outage_started, self.outage_ended)
        self.emit("outage-ended", {"seconds": length, "services_started": healthy,
                                   "at_run_end": at_end})

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        event = self.redact({"event": kind, "at": _iso(time.time()), "run": self.run,
                             "data": dict(data)})
        for d in self.deliver:
            try:
                d(event)
            except Exception:  # noqa: BLE001 - one broken receiver does not stop the others
                pass


def refused_event(run: dict[str, Any], data: Any, redact: Callable[[Any], Any]) -> dict[str, Any]:
    """The ``run-refused`` event: a run that detection or the preflight refused
    before its first step (``data``: ``by``, ``message``, ``missing``)."""
    return redact({"event": "run-refused", "at": _iso(time.time()), "run": run,
                   "data": dict(data)})


def _iso(ts: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")
