"""Executing a run under the deployment lock, from the first step or where it stopped.

The run is recorded (store), logged (JSON lines) and shown (console) as it
goes; signals stop it promptly. What it came to is returned as data
(:class:`RunResult`): wording it and turning it into an exit code is the
caller's business.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia_upgrade import __version__
from octavia_upgrade import executor as _executor
from octavia_upgrade.console import Console
from octavia_upgrade.errors import Refused, StateError
from octavia_upgrade.executor import Executor, Previous, operator_identity
from octavia_upgrade.plan import LOCAL, run_contexts
from octavia_upgrade.wording import plural
from octavia_upgrade.session.heartbeat import LockHeartbeat
from octavia_upgrade.session.preparation import Prepared
from octavia_upgrade.session.approvals import ApprovalGate
from octavia_upgrade.session.pausing import PauseControl
from octavia_upgrade.session.windowcheck import WindowCheck
from octavia_upgrade.session.prompts import SignalState, install_signals, manual_approvals
from octavia_upgrade.session.sink import RunSink
from octavia_upgrade.statuses import RunStatus

if TYPE_CHECKING:
    from octavia_upgrade.transport import TransportPool


@dataclass
class RunResult(_executor.RunResult):
    """What a run (or a resume) came to.

    ``status``: succeeded | failed | rolled_back | interrupted; ``failed``:
    host → the step it failed at; ``message``: why, in a line.
    """

    run_id: str = ""
    #: False when nothing was executed (a resume of a run that had already succeeded).
    executed: bool = True


@dataclass
class Services:
    """The I/O edge a run needs; built by the caller, replaceable in tests."""

    settings: Any
    store: Any
    console: Console
    redactor: Any = None


def open_connections(prep: Prepared) -> TransportPool:
    """A connection pool for the plan's hosts, their connections opening in the background."""
    from octavia_upgrade.transport import TransportPool

    pool = TransportPool(prep.inventory)
    pool.prefetch([h for ps in prep.plan.steps for h in ps.hosts if h != LOCAL])
    return pool


def open_run_store(settings: Any, redactor: Any) -> Any:
    """The state store of ``settings``, its secrets registered with ``redactor``."""
    from octavia_upgrade.state import open_store

    redactor.add(*settings.secret_values())
    redactor.add_url(settings.database_url)
    store = open_store(settings.database_url, settings.state_dir, redactor=redactor,
                       tail_bytes=settings.state_output_tail_bytes)
    # A run outlives a database server's restart or failover: it waits for it.
    store.wait_unreachable = getattr(settings, "database_wait_unreachable", 0.0)
    return store


def _begin(prep: Prepared, svc: Services, run_id: str | None, user: str, hostname: str,
           options: Mapping[str, Any] | None, change: Mapping[str, str | None]) -> str:
    """A new run: take the deployment lock and record the run; its id.

    A resumed run (``run_id`` given) already exists and keeps its id. The
    runbook and inventory paths are recorded absolute: ``resume`` reads them
    again from any directory.
    """
    if run_id is not None:
        return run_id
    from octavia_upgrade.state import new_run_id

    store = svc.store
    run_id = new_run_id()
    store.acquire_lock(prep.inventory.deployment, run_id, user, hostname, os.getpid())
    try:
        _create_run(prep, store, run_id, user, hostname, options, change)
    except BaseException:
        store.release_lock(prep.inventory.deployment, run_id)
        raise
    return run_id


def record_refused(prep: Prepared, store: Any, refusal: Exception, by: str,
                   options: Mapping[str, Any] | None,
                   change: Mapping[str, str | None]) -> str:
    """Record a run refused before its first step (``by``: detection | preflight).

    Kept as evidence: what was asked, by whom, when, and why it was refused
    (the message and every missing prerequisite, in a ``refused`` event).
    Nothing ran, so no lock is taken and nothing can be resumed. Returns its id.
    """
    from octavia_upgrade.errors import PreflightFailed
    from octavia_upgrade.state import new_run_id

    run_id = new_run_id()
    user, hostname = operator_identity()
    _create_run(prep, store, run_id, user, hostname, options, change)
    missing = ([{"host": h, "item": d, "steps": list(st), "why": w}
                for h, d, st, w in refusal.missing]
               if isinstance(refusal, PreflightFailed) else [])
    store.record_event(run_id, "refused", {"by": by, "message": str(refusal),
                                           "missing": missing})
    store.set_run_status(run_id, RunStatus.REFUSED)
    return run_id


def _create_run(prep: Prepared, store: Any, run_id: str, user: str, hostname: str,
                options: Mapping[str, Any] | None, change: Mapping[str, str | None]) -> None:
    """Record ``prep`` as the new run ``run_id`` (status running)."""
    from octavia_upgrade.reports.provenance import collect

    store.create_run(
        run_id=run_id, runbook_name=prep.runbook.metadata.name,
        runbook_path=str(Path(prep.runbook.path).resolve()),
        runbook_sha256=prep.runbook.sha256,
        runbook_revision=prep.runbook.metadata.revision,
        from_release=prep.runbook.metadata.from_, to_release=prep.runbook.metadata.to,
        deployment=prep.inventory.deployment,
        inventory_path=str(Path(prep.inventory.path).resolve()),
        inventory_options=prep.source.options() if prep.source else None,
        user=user, hostname=hostname, pid=os.getpid(), params=dict(prep.plan.params),
        plan=prep.plan.to_dict(), tool_version=__version__,
        catalog_version=prep.catalog.version,
        provenance=collect(prep.runbook.path, runbook_name=prep.runbook.metadata.name,
                           revision=prep.runbook.metadata.revision,
                           sha256=prep.runbook.sha256,
                           catalog_version=prep.catalog.version).to_dict(),
        options=dict(options or {}),
        change_id=change.get("id"), change_url=change.get("url"),
    )


def _build_executor(prep: Prepared, run_id: str, pool: Any, sink: RunSink, sig: SignalState,
                    prompter: Callable[..., Any], previous: Previous | None,
                    hold: Callable[..., None] | None = None) -> Executor:
    """The one place a run's :class:`~octavia_upgrade.executor.Executor` is made."""
    from octavia_upgrade.transport import LocalTransport

    contexts = run_contexts(prep.runbook, prep.inventory, prep.flavor, prep.catalog,
                            prep.params, run_id)
    return Executor(plan=prep.plan, contexts=contexts, runners=pool.get,
                    local=LocalTransport(), sink=sink, prompter=prompter,
                    previous=previous, cancel=sig.cancel, hold=hold, force=sig.force,
                    say=sink.console.warn)


def _notifications(prep: Prepared, svc: Services, sink: RunSink, run: Any,
                   resuming: bool) -> tuple[Any, Any]:
    """The run's notifier (listening to ``sink``) and its webhook sender (None: no URL)."""
    from octavia_upgrade import webhooks
    from octavia_upgrade.session.notify import Notifier

    config = webhooks.from_settings(svc.settings)
    sender = None
    if config is not None:
        sender = webhooks.WebhookSender(
            config, on_failure=lambda f: _webhook_failed(svc.console, svc.store, run.id, f))
    doc = run_document(run)
    from octavia_upgrade.metrics import TextfileWriter

    metrics = TextfileWriter(svc.settings.metrics_path, svc.store, run.id, svc.console.warn,
                             getattr(svc.settings, "metrics_interval", 5.0)).start()
    notifier = Notifier(prep.plan, doc, [metrics, *([sender.send] if sender else [])],
                        redact=svc.redactor.redact if svc.redactor is not None else (lambda v: v))
    notifier.metrics = metrics
    sink.listen = notifier
    notifier("resumed" if resuming else "run-started", {"pid": os.getpid()})
    return notifier, sender


def run_document(run: Any) -> dict[str, Any]:
    """The run as every webhook event carries it (no parameters, no secrets)."""
    return {"id": run.id, "deployment": run.deployment, "runbook": run.runbook_name,
            "from": run.from_release, "to": run.to_release,
            "change": {"id": run.change_id, "url": run.change_url},
            "operator": (run.options or {}).get("operator") or f"{run.user}@{run.hostname}"}


def notify_refused(settings: Any, store: Any, console: Console, redact: Any, run_id: str,
                   data: Mapping[str, Any]) -> None:
    """Send the ``run-refused`` event of a run refused before its first step (no
    URL configured: nothing); a receiver that fails is reported as for a run."""
    from octavia_upgrade import webhooks
    from octavia_upgrade.session.notify import refused_event

    config = webhooks.from_settings(settings)
    if config is None:
        return
    sender = webhooks.WebhookSender(
        config, on_failure=lambda f: _webhook_failed(console, store, run_id, f))
    sender.send(refused_event(run_document(store.get_run(run_id)), data, redact))
    left = sender.close()
    if left:
        console.warn(f"webhooks: {left} event(s) still undelivered")


def _webhook_failed(console: Console, store: Any, run_id: str, f: Any) -> None:
    """A delivery that still failed: on the console, and a ``webhook-failed`` event."""
    console.warn(f"webhook {f.url}: event {f.event} not delivered after "
                 f"{f.attempts} attempt(s): {f.error}")
    store.record_event(run_id, "webhook-failed", {
        "url": f.url, "event": f.event, "error": f.error, "attempts": f.attempts})


def _close_sender(sender: Any, store: Any, run_id: str, console: Console) -> None:
    """Let the webhooks drain for a bounded time; report what stayed undelivered."""
    if sender is None:
        return
    left = sender.close()
    if left:
        console.warn(f"webhooks: {left} event(s) still undelivered at the end of the run")
        store.record_event(run_id, "webhook-undelivered", {"events": left})


def start_probes(prep: Prepared, store: Any, run_id: str, console: Console) -> Any:
    """Sample the inventory's VIPs and every api host's API for the whole run, on
    threads of their own; ``None`` when there is nothing to probe."""
    from octavia_upgrade.probes import ProbeRunner, api_targets, vip_targets

    targets = vip_targets(prep.inventory.probes) + api_targets(prep.inventory, prep.plan.params)
    if not targets:
        return None
    warned: list[bool] = []

    def failed(exc: Exception) -> None:
        if not warned:  # once: the run goes on, the probes' record has a hole
            warned.append(True)
            console.warn(f"probe results could not be recorded: {exc}")

    return ProbeRunner(targets, lambda batch: store.record_probe_series(run_id, batch),
                       on_error=failed).start()


def _cleanup(console: Console, *actions: Callable[[], Any] | None) -> None:
    """Run every clean-up even when one fails; each distinct failure said once."""
    failed: dict[str, int] = {}
    for act in actions:
        if act is None:
            continue
        try:
            act()
        except Exception as exc:  # noqa: BLE001 - report and go on with the rest
            failed[str(exc)] = failed.get(str(exc), 0) + 1
    for message, times in failed.items():
        console.error(f"while finishing the run{f' ({times} clean-ups)' if times > 1 else ''}: "
                      f"{message}")


def execute_run(prep: Prepared, svc: Services, *, yes: bool, run_id: str | None = None,
                previous: Previous | None = None, pool: Any = None,
                options: Mapping[str, Any] | None = None,
                change: Mapping[str, str | None] | None = None) -> RunResult:
    """Run (or resume) ``prep.plan`` under the deployment lock.

    ``yes``: approve approval steps in advance (rollback gates excepted).
    ``change``: the change record (``id``, ``url``) a new run executes; a
    resumed run keeps its own.
    ``pool``: connections already opening (:func:`open_connections`); by
    default they are opened here. Either way they are closed here (after an
    interruption in the background: commands may still be running).
    ``options``: how the run was asked for, recorded with a new run.
    """
    from octavia_upgrade import logs

    from octavia_upgrade.identity import current

    store, console = svc.store, svc.console
    user, hostname = operator_identity()
    me = current(svc.settings)
    resuming = run_id is not None
    try:
        run_id = _begin(prep, svc, run_id, user, hostname,
                        {**dict(options or {}), "operator": me.name}, dict(change or {}))
    except BaseException:
        if pool is not None:
            pool.close_all()
        raise
    if pool is None:
        pool = open_connections(prep)
    log = logs.run_logger(svc.settings.state_dir, run_id, redactor=svc.redactor)
    store.on_unreachable = console.warn
    sig = SignalState()
    restore = install_signals(sig, console)
    sink = RunSink(store, run_id, log, console, prep.plan,
                   redact=svc.redactor.redact if svc.redactor is not None else None)
    if resuming:
        # The run is executing again: a status left final (failed, rolled back)
        # would make it look finished while steps run, and a crash now would
        # leave "running" attempts under a finished run.
        store.set_run_status(run_id, RunStatus.RUNNING, ended=False)
        from octavia_upgrade.logrecover import recover

        recover(log, store.results(run_id))
        sink.event("resumed", pid=os.getpid(), user=user, hostname=hostname)
    started_by = store.get_run(run_id)
    poll = getattr(svc.settings, "approvals_poll_interval", 0.5)
    prompter = ApprovalGate(
        store=store, run_id=run_id, me=me, console=console, cancel=sig.cancel, yes=yes,
        operator=(started_by.options or {}).get("operator")
        or f"{started_by.user}@{started_by.hostname}",
        manual=manual_approvals(prep.runbook),
        poll_interval=poll, event=sink.event)
    from octavia_upgrade.windows import declared

    hold = WindowCheck(declared(svc.settings, prep.inventory), store.clock, sink.event,
                       then=PauseControl(store, run_id, console, sig.cancel, poll, sink.event))
    executor = _build_executor(prep, run_id, pool, sink, sig, prompter, previous, hold)
    notifier, sender = _notifications(prep, svc, sink, started_by, resuming)
    heartbeat = LockHeartbeat(store, prep.inventory.deployment, run_id, sig.cancel, console).start()
    probes = start_probes(prep, store, run_id, console)
    console.info(f"run {run_id}: {prep.runbook.metadata.name} on {prep.inventory.deployment} "
                 f"({plural(len(prep.inventory.hosts), 'host')}); log: {log.path}")
    result = RunResult(RunStatus.FAILED, message="internal error: see the log", run_id=run_id)
    try:
        done = executor.execute()
        result = RunResult(done.status, dict(done.failed), done.message, done.refused,
                           run_id=run_id)
    except KeyboardInterrupt:
        result = RunResult(RunStatus.INTERRUPTED, message="interrupted", run_id=run_id)
    except Refused as exc:  # the outage gate outside the change window
        result = RunResult(RunStatus.FAILED, message=str(exc), run_id=run_id)
        raise
    except StateError as exc:  # the state database away past [database] wait_unreachable
        result = RunResult(RunStatus.FAILED, message=f"the run's state could not be recorded: "
                           f"{exc}", run_id=run_id)
        raise StateError(f"{exc}. Run {run_id} stopped there: no further step was started; "
                         f"how each attempt ended is in {log.path}. Once the state database "
                         f"answers again: octavia-upgrade resume {run_id}") from None
    finally:
        status = (result.status if result.status in (
            RunStatus.SUCCEEDED, RunStatus.ROLLED_BACK, RunStatus.INTERRUPTED)
            else RunStatus.FAILED)
        # Each clean-up runs even when an earlier one fails: the run's final
        # status and the lock release must never be skipped.
        _cleanup(console, heartbeat.stop, probes.stop if probes else None,
                 lambda: store.set_run_status(run_id, status),
                 lambda: store.abandon_requests(run_id),
                 lambda: notifier("run-finished", {"status": str(status),
                                                   "message": result.message}),
                 lambda: _close_sender(sender, store, run_id, console),
                 notifier.metrics.stop,
                 lambda: store.release_lock(prep.inventory.deployment, run_id),
                 lambda: log.info("run-finished", status=status, message=result.message),
                 log.close, restore)
        if result.status == RunStatus.INTERRUPTED:
            # Threads may still wait on a remote command or a prompt: the state
            # is written, so do not wait for them.
            threading.Thread(target=pool.close_all, name="close-connections",
                             daemon=True).start()
        else:
            pool.close_all()
    return result
