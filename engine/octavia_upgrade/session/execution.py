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
from octavia_upgrade.executor import Executor, Previous, operator_identity
from octavia_upgrade.plan import LOCAL, run_contexts
from octavia_upgrade.wording import plural
from octavia_upgrade.session.heartbeat import LockHeartbeat
from octavia_upgrade.session.preparation import Prepared
from octavia_upgrade.session.prompts import SignalState, install_signals, make_prompter
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
    return open_store(settings.database_url, settings.state_dir, redactor=redactor,
                      tail_bytes=settings.state_output_tail_bytes)


def _begin(prep: Prepared, svc: Services, run_id: str | None, user: str, hostname: str,
           options: Mapping[str, Any] | None) -> str:
    """A new run: take the deployment lock and record the run; its id.

    A resumed run (``run_id`` given) already exists and keeps its id. The
    runbook and inventory paths are recorded absolute: ``resume`` reads them
    again from any directory.
    """
    if run_id is not None:
        return run_id
    from octavia_upgrade.reports.provenance import collect
    from octavia_upgrade.state import new_run_id

    store = svc.store
    run_id = new_run_id()
    store.acquire_lock(prep.inventory.deployment, run_id, user, hostname, os.getpid())
    try:
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
        )
    except BaseException:
        store.release_lock(prep.inventory.deployment, run_id)
        raise
    return run_id


def _build_executor(prep: Prepared, run_id: str, pool: Any, sink: RunSink, sig: SignalState,
                    prompter: Callable[..., Any], previous: Previous | None) -> Executor:
    """The one place a run's :class:`~octavia_upgrade.executor.Executor` is made."""
    from octavia_upgrade.transport import LocalTransport

    contexts = run_contexts(prep.runbook, prep.inventory, prep.flavor, prep.catalog,
                            prep.params, run_id)
    return Executor(plan=prep.plan, contexts=contexts, runners=pool.get,
                    local=LocalTransport(), sink=sink, prompter=prompter,
                    previous=previous, cancel=sig.cancel)


def _cleanup(console: Console, *actions: Callable[[], Any] | None) -> None:
    for act in actions:
        if act is None:
            continue
        try:
            act()
        except Exception as exc:  # noqa: BLE001 - report and go on with the rest
            console.error(f"while finishing the run: {exc}")


def execute_run(prep: Prepared, svc: Services, *, yes: bool, run_id: str | None = None,
                previous: Previous | None = None, pool: Any = None,
                options: Mapping[str, Any] | None = None) -> RunResult:
    """Run (or resume) ``prep.plan`` under the deployment lock.

    ``yes``: approve approval steps in advance (rollback gates excepted).
    ``pool``: connections already opening (:func:`open_connections`); by
    default they are opened here. Either way they are closed here (after an
    interruption in the background: commands may still be running).
    ``options``: how the run was asked for, recorded with a new run.
    """
    from octavia_upgrade import logs

    store, console = svc.store, svc.console
    user, hostname = operator_identity()
    resuming = run_id is not None
    try:
        run_id = _begin(prep, svc, run_id, user, hostname, options)
    except BaseException:
        if pool is not None:
            pool.close_all()
        raise
    if pool is None:
        pool = open_connections(prep)
    log = logs.run_logger(svc.settings.state_dir, run_id, redactor=svc.redactor)
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
    prompter = make_prompter(yes=yes, console=console, sig=sig,
                             manual=frozenset(s.id for s in prep.runbook.rollback
                                              if s.kind == "approval"))
    executor = _build_executor(prep, run_id, pool, sink, sig, prompter, previous)
    heartbeat = LockHeartbeat(store, prep.inventory.deployment, run_id, sig.cancel, console).start()
    probes = None
    if prep.inventory.probes:
        from octavia_upgrade.probes import ProbeRunner

        probes = ProbeRunner(prep.inventory.probes,
                             lambda batch: store.record_probe_samples(run_id, batch)).start()
    console.info(f"run {run_id}: {prep.runbook.metadata.name} on {prep.inventory.deployment} "
                 f"({plural(len(prep.inventory.hosts), 'host')}); log: {log.path}")
    result = RunResult(RunStatus.FAILED, message="internal error: see the log", run_id=run_id)
    try:
        done = executor.execute()
        result = RunResult(done.status, dict(done.failed), done.message, done.refused,
                           run_id=run_id)
    except KeyboardInterrupt:
        result = RunResult(RunStatus.INTERRUPTED, message="interrupted", run_id=run_id)
    finally:
        status = (result.status if result.status in (
            RunStatus.SUCCEEDED, RunStatus.ROLLED_BACK, RunStatus.INTERRUPTED)
            else RunStatus.FAILED)
        # Each clean-up runs even when an earlier one fails: the run's final
        # status and the lock release must never be skipped.
        _cleanup(console, heartbeat.stop, probes.stop if probes else None,
                 lambda: store.set_run_status(run_id, status),
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
