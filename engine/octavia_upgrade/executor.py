"""Execute a :class:`~octavia_upgrade.plan.Plan`, recording every attempt first.

The executor walks the plan's main steps in order. Within a step it runs one
batch at a time; hosts in a batch run in parallel threads, each over its own
reused connection. Every (step, host, attempt) is written to the state store
as ``running`` before the command starts and with its result before the next
attempt or step begins, so a crash at any point leaves an exact record: a
``running`` row found later means the outcome is unknown.

Failure policy: a failed or unreachable host drops out of later steps. With
``on_failure: abort`` the run stops (then ``finally`` runs); ``rollback``
runs the runbook's rollback steps (then ``finally``);
``continue`` carries on with the remaining hosts, up to ``max_failures``.

The executor reads nothing but the plan: no runbook, no flavor. Each step
kind sends the plan's commands by key (see
:class:`~octavia_upgrade.steps.base.TaskContext`), and what it sent is
recorded with the attempt. ``contexts`` (the template context of each host,
built from the inventory) serve only values known at run time: earlier
steps' outputs and the run's id.
"""

from __future__ import annotations

import getpass
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from octavia_upgrade import steps as kinds
from octavia_upgrade import templating
from octavia_upgrade.errors import (ConnectionFailure, ConnectionLost, Interrupted, Refused,
                                     UpgradeError)
from octavia_upgrade.plan import LOCAL, Plan, PlannedStep
from octavia_upgrade.statuses import DONE, ResultStatus, RunStatus
from octavia_upgrade.steps.base import Approval, Outcome, Runner, TaskContext


class Sink(Protocol):
    """Where the executor reports what happens (state store + log + console)."""

    def step_started(self, step: PlannedStep, hosts: tuple[str, ...]) -> None: ...
    def attempt_started(self, step: PlannedStep, host: str, attempt: int) -> int: ...
    def attempt_finished(self, token: int, step: PlannedStep, host: str, attempt: int,
                         outcome: Outcome, started: float, ended: float) -> None: ...
    def approval(self, step: PlannedStep, approval: Approval) -> None: ...
    def event(self, kind: str, **data: Any) -> None: ...


class Prompter(Protocol):
    def __call__(self, step: PlannedStep, message: str, impact: str | None) -> Approval: ...


@dataclass
class RunResult:
    status: str  # a RunStatus: succeeded | failed | rolled_back | interrupted
    failed: dict[str, str] = field(default_factory=dict)  # host -> step id
    message: str = ""
    #: The failing step refused before changing anything (e.g. no room to stage): exit 3.
    refused: bool = False


@dataclass
class Previous:
    """What an earlier, interrupted execution of the same run recorded."""

    status: Mapping[tuple[str, str], str] = field(default_factory=dict)
    outputs: Mapping[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    attempts: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: (step, host) pairs whose in-flight outcome is unknown and that the
    #: operator (or the step's ``idempotent`` flag) allowed to run again.
    rerun_unknown: frozenset[tuple[str, str]] = frozenset()


class Executor:
    def __init__(self, *, plan: Plan, contexts: Mapping[str, dict[str, Any]],
                 runners: Callable[[str], Runner], local: Runner, sink: Sink,
                 prompter: Prompter, previous: Previous | None = None,
                 cancel: threading.Event | None = None,
                 hold: Callable[[PlannedStep], None] | None = None,
                 force: threading.Event | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        """
        Args:
            plan: what to run, exactly.
            contexts: each host's template context (and :data:`LOCAL`'s), for
                values known only at run time; ``run.id`` must be the run's id.
            runners: the transport of a host, by name.
            local: the operator machine's transport.
            hold: called before each step; returns when the step may start
                (a paused run waits in it), raises ``Interrupted`` to stop.
            cancel: set to stop: no further step, attempt or retry starts, and
                the attempts running are waited for, their results recorded.
            force: set to stop at once: the commands still running are left
                running and recorded ``unknown``.
            say: tells the operator what a stop waits for.
        """
        self.plan = plan
        self.contexts = contexts
        self.runners = runners
        self.local = local
        self.sink = sink
        self.prompter = prompter
        self.previous = previous or Previous()
        self.cancel = cancel or threading.Event()
        self.force = force or threading.Event()
        self.say = say or (lambda text: None)
        self.hold = hold
        self.outputs: dict[str, dict[str, Any]] = {}
        self.dropped: dict[str, str] = {}  # host -> step id where it failed
        self._lock = threading.Lock()
        #: Serialises state writes with abandonment (see :meth:`_abandon`).
        self._state_lock = threading.Lock()
        self.in_flight: dict[int, tuple[PlannedStep, str, int, float]] = {}
        self.abandoned = False
        self._pool: ThreadPoolExecutor | None = None
        self._restore_outputs()

    # ------------------------------------------------------------------ public

    def execute(self) -> RunResult:
        try:
            return self._execute()
        finally:
            if self._pool is not None:
                # After an interruption, workers may still wait on remote commands
                # whose outcome is already recorded as unknown: do not wait for them.
                self._pool.shutdown(wait=not self.abandoned, cancel_futures=True)
                self._pool = None

    def _execute(self) -> RunResult:
        result = RunResult(RunStatus.SUCCEEDED)
        try:
            failing = self._run_phase(self.plan.phase("main"))
            if failing is not None:
                if failing.on_failure == "rollback" and self.plan.phase("rollback"):
                    self.sink.event("rollback-started", step_id=failing.id)
                    self._run_phase(self.plan.phase("rollback"), tolerant=True)
                    result = RunResult(RunStatus.ROLLED_BACK, dict(self.dropped),
                                       f"step {failing.id} failed; rollback steps ran")
                else:
                    refused = any(o.get("refused") for o in (
                        self.outputs.get(failing.id) or {}).get("hosts", {}).values())
                    result = RunResult(RunStatus.FAILED, dict(self.dropped),
                                       f"step {failing.id} " + ("refused" if refused
                                                                else "failed"), refused)
            elif self.dropped:
                result = RunResult(RunStatus.FAILED, dict(self.dropped),
                                   "finished with failed hosts: " + ", ".join(sorted(self.dropped)))
            self._run_phase(self.plan.phase("finally"), tolerant=True)
        except (Interrupted, KeyboardInterrupt):
            left = self._abandon()
            self.sink.event("interrupted", in_flight=left)
            return RunResult(RunStatus.INTERRUPTED, dict(self.dropped),
                             "interrupted; resume to continue")
        return result

    def _abandon(self) -> list[str]:
        """Record every attempt still running as ``unknown``; ignore their later results.

        Called when a signal stops the run: the remote commands may still be
        running (or may have finished), so their outcome is genuinely unknown.
        """
        with self._state_lock:
            self.abandoned = True
            left = []
            for token, (ps, host, attempt, started) in list(self.in_flight.items()):
                self.sink.attempt_finished(
                    token, ps, host, attempt,
                    Outcome(ResultStatus.UNKNOWN,
                            message="interrupted while running; the outcome on the host is "
                                    "unknown"), started, time.time())
                left.append(f"{ps.id}@{host}")
            self.in_flight.clear()
        return left

    # ------------------------------------------------------------------ phases

    def _run_phase(self, planned: tuple[PlannedStep, ...], tolerant: bool = False) -> PlannedStep | None:
        """Run steps in order; return the step whose failure stops the phase, if any."""
        for ps in planned:
            if self.cancel.is_set():
                raise Interrupted("interrupted")
            if self.hold is not None:
                self.hold(ps)
            ok = self._run_step(ps)
            if ok or tolerant:
                continue
            if ps.on_failure in ("abort", "rollback"):
                return ps
            limit = self.plan.max_failures
            if limit is not None and len(self.dropped) > limit:
                self.sink.event("max-failures", step_id=ps.id, failed=len(self.dropped), limit=limit)
                return ps
        return None

    def _run_step(self, ps: PlannedStep) -> bool:
        # Failed hosts drop out of later main steps; rollback and finally steps
        # still run there (that is where undoing and recording matter most).
        dropped = self.dropped if ps.phase == "main" else {}
        hosts = tuple(h for h in ps.hosts if h == LOCAL or h not in dropped)
        todo = [h for h in hosts if not self._already_done(ps, h)]
        if not todo:
            return True
        self.sink.step_started(ps, tuple(todo))
        if ps.when is not None and not self._when(ps):
            for h in todo:
                self._record_skip(ps, h, f"skipped: when {ps.when!r} is false")
            return True
        for gone in (h for h in ps.hosts if h in dropped):
            self._record_skip(ps, gone, f"skipped: host dropped after failing {dropped[gone]}")
        failed_here = False
        for batch in ps.batches:
            members = [h for h in batch.hosts if h in todo and (h == LOCAL or h not in dropped)]
            if not members:
                continue
            outcomes = self._run_batch(ps, members)
            bad = [h for h, o in outcomes.items() if not o.ok]
            for h in bad:
                failed_here = True
                if h != LOCAL:
                    self.dropped.setdefault(h, ps.id)
            if bad and ps.on_failure != "continue":
                return False
        if ps.placement != "hosts" and failed_here:
            return False
        return not failed_here

    # ------------------------------------------------------------------ tasks

    def _workers(self) -> ThreadPoolExecutor:
        """The run's worker threads: one per host of the widest batch, made once.

        Starting threads for every batch cost more CPU than many commands do;
        the pool's threads are reused from step to step.
        """
        if self._pool is None:
            widest = max((len(b.hosts) for ps in self.plan.steps for b in ps.batches), default=1)
            self._pool = ThreadPoolExecutor(max_workers=max(1, widest),
                                            thread_name_prefix="worker")
        return self._pool

    def _run_batch(self, ps: PlannedStep, hosts: list[str]) -> dict[str, Outcome]:
        """Run one batch, one worker thread per host; the main thread watches for signals."""
        results: dict[str, Outcome] = {}
        pool = self._workers()
        futures: dict[Future[Outcome], str] = {
            pool.submit(self._run_task, ps, h): h for h in hosts}
        pending = set(futures)
        told = False
        try:
            while pending:
                if self.cancel.is_set():
                    # Stopping: what has not started never will; what runs is waited
                    # for, so that its result is known, unless told to stop at once.
                    pending = {f for f in pending if not f.cancel()}
                    if self.force.is_set() or not pending:
                        raise Interrupted("interrupted")
                    if not told:
                        told = self._tell_waiting()
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for f in done:
                    if f.cancelled():
                        continue
                    try:
                        results[futures[f]] = f.result()
                    except Interrupted:
                        # A host that was between attempts stopped there; the others
                        # still running are waited for (unless told to stop at once).
                        if not self.cancel.is_set():
                            raise
            if self.cancel.is_set():
                raise Interrupted("interrupted")
        finally:
            for f in pending:
                f.cancel()  # not started yet: never will be
        return results

    def _tell_waiting(self) -> bool:
        """Say which commands a stop waits for; True once said."""
        with self._state_lock:
            now = time.time()
            left = [f"{ps.id} on {host} (running {now - started:.0f}s)"
                    for ps, host, _attempt, started in self.in_flight.values()]
        if not left:
            return False
        self.sink.event("waiting-for-commands", in_flight=left)
        self.say(f"stopping: waiting for {', '.join(left)} to end, so that "
                 f"{'its result is' if len(left) == 1 else 'their results are'} known; "
                 "signal again to stop at once and leave "
                 f"{'it' if len(left) == 1 else 'them'} running (recorded 'unknown')")
        return True

    def _run_task(self, ps: PlannedStep, host_name: str) -> Outcome:
        kind = kinds.get(ps.kind)
        retry = ps.retry
        first = self.previous.attempts.get((ps.id, host_name), 0) + 1
        outcome = Outcome(ResultStatus.FAILED, message="not run")
        for attempt in range(first, first + retry.attempts):
            if attempt > first:
                delay = retry.delay_before(attempt - first + 1)
                if delay and self.cancel.wait(delay):
                    raise Interrupted("interrupted")
            with self._state_lock:
                if self.abandoned or self.cancel.is_set():
                    raise Interrupted("interrupted")
                token = self.sink.attempt_started(ps, host_name, attempt)
                started = time.time()
                self.in_flight[token] = (ps, host_name, attempt, started)
            ctx = self._context(host_name)
            # This (step, host) was in flight when the run stopped and runs again: a
            # kind that changes things through an API finds its own earlier request.
            ctx["rerun_unknown"] = attempt == first and (
                (ps.id, host_name) in self.previous.rerun_unknown)
            tc = TaskContext(step=ps, host=host_name,
                             runner=self.local if host_name == LOCAL else self.runners(host_name),
                             ctx=ctx, approver=self._approve(ps),
                             cancel=self.cancel, timeout=ps.timeout, local=self.local,
                             attempt=attempt)
            try:
                outcome = kind.run(tc)
            except (KeyboardInterrupt, Interrupted):
                raise Interrupted("interrupted") from None
            except Refused:
                raise
            except ConnectionLost as exc:
                # The command was sent and the connection went: it may have run to its
                # end on the host. Recorded unknown, as a crash of the engine would be,
                # so that `resume` re-runs it only where that is safe or confirmed.
                outcome = Outcome(ResultStatus.UNKNOWN, message=str(exc))
            except ConnectionFailure as exc:
                outcome = Outcome(ResultStatus.UNREACHABLE, message=str(exc))
            except UpgradeError as exc:
                outcome = Outcome(ResultStatus.FAILED, message=str(exc))
            except Exception as exc:  # noqa: BLE001 - recorded, never lost
                outcome = Outcome(ResultStatus.FAILED, message=f"{type(exc).__name__}: {exc}")
            outcome.commands = tc.sent
            with self._state_lock:
                if self.abandoned:
                    raise Interrupted("interrupted")
                self.in_flight.pop(token, None)
                self.sink.attempt_finished(token, ps, host_name, attempt, outcome, started,
                                           time.time())
            with self._lock:
                entry = self.outputs.setdefault(ps.id, {"hosts": {}})
                entry["hosts"][host_name] = outcome.outputs
                if len(entry) == 1 or ps.placement != "hosts":
                    entry.update(outcome.outputs)
            if outcome.ok or outcome.status in (ResultStatus.UNREACHABLE, ResultStatus.UNKNOWN):
                break  # a retry would run again what may have run
        return outcome

    def _record_skip(self, ps: PlannedStep, host: str, message: str) -> None:
        attempt = self.previous.attempts.get((ps.id, host), 0) + 1
        token = self.sink.attempt_started(ps, host, attempt)
        now = time.time()
        self.sink.attempt_finished(token, ps, host, attempt,
                                   Outcome(ResultStatus.SKIPPED, message=message),
                                   now, now)

    # ------------------------------------------------------------------ helpers

    def _already_done(self, ps: PlannedStep, host: str) -> bool:
        key = (ps.id, host)
        status = self.previous.status.get(key)
        if status in DONE:
            return True
        if status == ResultStatus.UNKNOWN and key not in self.previous.rerun_unknown:
            raise Refused(f"step {ps.id} on {host} was in flight when the run stopped; its outcome "
                          "is unknown and the step is not idempotent: confirm a re-run")
        return False

    def _context(self, host: str) -> dict[str, Any]:
        ctx = dict(self.contexts[host])
        with self._lock:
            ctx["outputs"] = {k: dict(v) for k, v in self.outputs.items()}
        return ctx

    def _when(self, ps: PlannedStep) -> bool:
        return bool(templating.evaluate(ps.when or "true", self._context(LOCAL)))

    def _approve(self, ps: PlannedStep) -> Callable[[PlannedStep, str, str | None], Approval]:
        def approve(step: PlannedStep, message: str, impact: str | None) -> Approval:
            with self._lock:  # one prompt at a time
                a = self.prompter(step, message, impact)
            self.sink.approval(ps, a)
            return a
        return approve

    def _restore_outputs(self) -> None:
        for (step_id, host), out in self.previous.outputs.items():
            if self.previous.status.get((step_id, host)) not in DONE:
                continue
            entry = self.outputs.setdefault(step_id, {"hosts": {}})
            entry["hosts"][host] = out
            if len(entry) == 1:
                entry.update(out)


def operator_identity() -> tuple[str, str]:
    """(user, host) of whoever runs the tool, for approvals and locks."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        user = "unknown"
    return user, socket.gethostname()
