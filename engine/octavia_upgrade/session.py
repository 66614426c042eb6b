"""Orchestration of ``plan``, ``run`` and ``resume``: the I/O edge around the core.

This module wires the pure core (loader, plan) to the outside world: the
state store, SSH transports, logs, console, signals and the deployment lock.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia_upgrade import __version__
from octavia_upgrade.catalog import Catalog, load_catalog
from octavia_upgrade.console import Console
from octavia_upgrade.errors import (EXIT_INTERRUPTED, EXIT_OK, EXIT_STEP_FAILED, InvalidInput,
                                    Refused, UpgradeError)
from octavia_upgrade.executor import Executor, Previous, RunResult, operator_identity
from octavia_upgrade.model import Flavor, Inventory, Runbook, Step
from octavia_upgrade.plan import (LOCAL, Plan, PlannedStep, build_plan, resolve_params,
                                  run_contexts)
from octavia_upgrade.steps.base import Approval, Outcome

if TYPE_CHECKING:
    from octavia_upgrade.inventory_source import InventorySource
    from octavia_upgrade.transport import TransportPool


@dataclass
class Prepared:
    runbook: Runbook
    inventory: Inventory
    flavor: Flavor
    catalog: Catalog
    params: dict[str, Any]
    plan: Plan
    source: InventorySource | None = None  # how the inventory was read (None: a test's Inventory)


def parse_param_args(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--param {item!r}: expected NAME=VALUE")
        out[key.strip()] = value
    return out


def limit_hosts(inventory: Inventory, limit: str | None) -> Inventory:
    """The inventory restricted to ``--limit host1,host2`` (unknown names are errors)."""
    if not limit:
        return inventory
    from dataclasses import replace

    names = [n.strip() for n in limit.split(",") if n.strip()]
    known = {h.name for h in inventory.hosts}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(f"--limit: unknown host(s) {', '.join(unknown)} "
                           f"(inventory {inventory.path} has {', '.join(sorted(known))})")
    return replace(inventory, hosts=tuple(h for h in inventory.hosts if h.name in names))


def prepare(runbook_path: str, inventory_path: Any, overrides: Mapping[str, Any],
            history: Mapping[str, float] | None = None, limit: str | None = None) -> Prepared:
    """Load and validate everything, and build the plan. No I/O beyond reading files.

    ``inventory_path`` is a path or an :class:`~octavia_upgrade.inventory_source.InventorySource`.
    """
    from octavia_upgrade.flavors import load_flavor
    from octavia_upgrade.inventory_source import InventorySource, open_inventory
    from octavia_upgrade.loader import load_runbook

    catalog = load_catalog()
    runbook = load_runbook(runbook_path, catalog=catalog)
    source = (inventory_path if isinstance(inventory_path, InventorySource)
              else InventorySource(str(inventory_path)))
    inventory = limit_hosts(open_inventory(source), limit)
    flavor = load_flavor(inventory.flavor)
    params = resolve_params(runbook, overrides)
    plan = build_plan(runbook, inventory, flavor, catalog, params, history)
    return Prepared(runbook, inventory, flavor, catalog, params, plan, source)


def replan(prep: Prepared, history: Mapping[str, float]) -> Prepared:
    """``prep`` with its plan rebuilt from step-duration history (files are not read again)."""
    from dataclasses import replace

    return replace(prep, plan=build_plan(prep.runbook, prep.inventory, prep.flavor,
                                         prep.catalog, prep.params, history))


def secret_values(prepared: Prepared) -> list[str]:
    vals = [str(prepared.params[n]) for n in prepared.runbook.secret_params
            if prepared.params.get(n) not in (None, "")]
    vals += [str(v) for v in _leaves(prepared.inventory.secrets) if v not in (None, "")]
    vals += [h.become.password for h in prepared.inventory.hosts
             if h.become is not None and h.become.password]
    from octavia_upgrade.inventory import secret_var_values  # variables named like secrets

    vals += secret_var_values(prepared.inventory, prepared.flavor)
    return vals


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _leaves(v)]
    return [value]


# --------------------------------------------------------------------------- sink


class RunSink:
    """Sends executor events to the store (durably), the JSON log and the console."""

    def __init__(self, store: Any, run_id: str, log: Any, console: Console, plan: Plan) -> None:
        self.store = store
        self.run_id = run_id
        self.log = log
        self.console = console
        self.plan = plan
        self._index = {s.id: i + 1 for i, s in enumerate(plan.steps)}
        self._lock = threading.Lock()

    def step_started(self, step: PlannedStep, hosts: tuple[str, ...]) -> None:
        self.console.step(self._index[step.id], len(self.plan.steps), step.id, step.name,
                          step.kind, hosts)
        self.log.info("step-started", step_id=step.id, kind=step.kind, phase=step.phase,
                      hosts=list(hosts))

    def attempt_started(self, step: PlannedStep, host: str, attempt: int) -> int:
        with self._lock:
            token = self.store.record_start(self.run_id, step.id, host, attempt, step.phase)
        self.log.info("attempt-started", step_id=step.id, host=host, attempt=attempt)
        return token

    def attempt_finished(self, token: int, step: PlannedStep, host: str, attempt: int,
                         outcome: Outcome, started: float, ended: float) -> None:
        with self._lock:
            for kind, data in outcome.evidence:
                self.store.record_evidence(self.run_id, step.id, host, kind, data)
            self.store.record_end(token, outcome.status, outcome.rc, outcome.stdout,
                                  outcome.stderr, outcome.outputs, outcome.artifacts,
                                  outcome.message)
        self.log.info("attempt-finished", step_id=step.id, host=host, attempt=attempt,
                      status=outcome.status, rc=outcome.rc, duration=round(ended - started, 3),
                      message=outcome.message)
        self.console.result(host, outcome.status, ended - started, attempt, outcome.message,
                            outcome.stdout + ("\n" + outcome.stderr if outcome.stderr else ""))

    def approval(self, step: PlannedStep, approval: Approval) -> None:
        with self._lock:
            self.store.record_approval(self.run_id, step.id, approval.how, user=approval.user)
        self.log.info("approved", step_id=step.id, user=approval.user, how=approval.how)

    def event(self, kind: str, **data: Any) -> None:
        with self._lock:
            self.store.record_event(self.run_id, kind, data)
        self.log.info(kind, **data)


# --------------------------------------------------------------------------- approvals


@dataclass
class SignalState:
    cancel: threading.Event = field(default_factory=threading.Event)


class ApprovalUnavailable(UpgradeError):
    """An approval is needed but there is no terminal to ask on and no --yes."""


def make_prompter(*, yes: bool, console: Console, sig: SignalState, stdin: Any = None,
                  manual: frozenset[str] = frozenset()) -> Callable[[Step, str, str | None], Approval]:
    """Approvals: ``--yes`` answers them, except the ``manual`` ones (rollback gates).

    A rollback approval stands for work an operator does by hand while the run
    waits (such as restoring the database): approving it in advance would
    let the rollback go on as if that work were done.
    """
    user, _host = operator_identity()
    stdin = stdin or sys.stdin

    def prompt(step: Step, message: str, impact: str | None) -> Approval:
        console.info(f"\n  APPROVAL NEEDED ({step.id}): {message}")
        if impact:
            console.info(f"  DATA-PLANE IMPACT: {impact}")
        if yes and step.id not in manual:
            console.info("  approved with --yes")
            return Approval(user, "--yes", time.time())
        if yes and not stdin.isatty():
            raise ApprovalUnavailable(f"step {step.id} is a rollback gate: --yes never approves "
                                      "it; an operator must approve it at a terminal")
        if not stdin.isatty():
            raise ApprovalUnavailable(f"step {step.id} needs an approval, but there is no terminal "
                                      "to ask on: resume with --yes to approve")
        sys.stdout.write("  Type 'yes' to approve, anything else to stop: ")
        sys.stdout.flush()
        answer = stdin.readline().strip().lower()
        if answer != "yes":
            raise ApprovalDeclined(f"step {step.id} was not approved (answer {answer!r})")
        return Approval(user, "prompt", time.time())

    return prompt


class ApprovalDeclined(UpgradeError):
    """The operator answered anything but 'yes'."""


def install_signals(sig: SignalState, console: Console) -> Callable[[], None]:
    """SIGINT/SIGTERM stop the run promptly: running attempts become ``unknown``."""

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


# --------------------------------------------------------------------------- run


def _cleanup(console: Console, *actions: Callable[[], Any] | None) -> None:
    for act in actions:
        if act is None:
            continue
        try:
            act()
        except Exception as exc:  # noqa: BLE001 - report and go on with the rest
            console.error(f"while finishing the run: {exc}")


class LockHeartbeat:
    """Refreshes the deployment lock while a run executes.

    Another machine judges a lock stale by its heartbeat; if the lock was
    broken meanwhile (``unlock``), the run stops as if interrupted rather than
    carry on without it.
    """

    def __init__(self, store: Any, deployment: str, run_id: str, cancel: threading.Event,
                 console: Console, every: float = 30.0) -> None:
        self.store, self.deployment, self.run_id = store, deployment, run_id
        self.cancel, self.console, self.every = cancel, console, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lock-heartbeat", daemon=True)

    def start(self) -> LockHeartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.store.heartbeat(self.deployment, self.run_id)
            except Refused as exc:
                self.console.error(f"{exc}: stopping the run")
                self.cancel.set()
                return
            except UpgradeError as exc:  # a transient DB error: try again next time
                self.console.warn(f"lock heartbeat failed: {exc}")



@dataclass
class Services:
    """The I/O edge a run needs; built by the CLI, replaceable in tests."""

    settings: Any
    store: Any
    console: Console
    redactor: Any = None


def exit_code(result: RunResult) -> int:
    return {"succeeded": EXIT_OK, "interrupted": EXIT_INTERRUPTED}.get(result.status,
                                                                       EXIT_STEP_FAILED)


def open_connections(prep: Prepared) -> TransportPool:
    """A connection pool for the plan's hosts, their connections opening in the background."""
    from octavia_upgrade.transport import TransportPool

    pool = TransportPool(prep.inventory)
    pool.prefetch([h for ps in prep.plan.steps for h in ps.hosts if h != LOCAL])
    return pool


def _begin(prep: Prepared, svc: Services, run_id: str | None, user: str,
           hostname: str) -> str:
    """A new run: take the deployment lock and record the run; its id.

    A resumed run (``run_id`` given) already exists and keeps its id.
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
            runbook_path=prep.runbook.path, runbook_sha256=prep.runbook.sha256,
            runbook_revision=prep.runbook.metadata.revision,
            from_release=prep.runbook.metadata.from_, to_release=prep.runbook.metadata.to,
            deployment=prep.inventory.deployment, inventory_path=prep.inventory.path,
            inventory_options=prep.source.options() if prep.source else None,
            user=user, hostname=hostname, pid=os.getpid(), params=dict(prep.plan.params),
            plan=prep.plan.to_dict(), tool_version=__version__,
            catalog_version=prep.catalog.version,
            provenance=collect(prep.runbook.path, runbook_name=prep.runbook.metadata.name,
                               revision=prep.runbook.metadata.revision,
                               sha256=prep.runbook.sha256,
                               catalog_version=prep.catalog.version).to_dict(),
        )
    except BaseException:
        store.release_lock(prep.inventory.deployment, run_id)
        raise
    return run_id


def execute_run(prep: Prepared, svc: Services, *, yes: bool, run_id: str | None = None,
                previous: Previous | None = None, pool: TransportPool | None = None) -> int:
    """Run (or resume) ``prep.plan`` under the deployment lock; returns the exit code.

    ``pool``: connections already opening (:func:`open_connections`); by
    default they are opened here. Either way they are closed here.
    """
    from octavia_upgrade import logs
    from octavia_upgrade.transport import LocalTransport

    store, console = svc.store, svc.console
    user, hostname = operator_identity()
    resuming = run_id is not None
    try:
        run_id = _begin(prep, svc, run_id, user, hostname)
    except BaseException:
        if pool is not None:
            pool.close_all()
        raise
    if pool is None:
        pool = open_connections(prep)
    log = logs.run_logger(svc.settings.state_dir, run_id, redactor=svc.redactor)
    sig = SignalState()
    restore = install_signals(sig, console)
    sink = RunSink(store, run_id, log, console, prep.plan)
    if resuming:
        # The run is executing again: a status left final (failed, rolled back)
        # would make it look finished while steps run, and a crash now would
        # leave "running" attempts under a finished run.
        store.set_run_status(run_id, "running", ended=False)
        from octavia_upgrade.logrecover import recover

        recover(log, store.results(run_id))
        sink.event("resumed", pid=os.getpid(), user=user, hostname=hostname)
    contexts = run_contexts(prep.runbook, prep.inventory, prep.flavor, prep.catalog,
                            prep.params, run_id)
    executor = Executor(plan=prep.plan, contexts=contexts, runners=pool.get,
                        local=LocalTransport(), sink=sink,
                        prompter=make_prompter(
                            yes=yes, console=console, sig=sig,
                            manual=frozenset(s.id for s in prep.runbook.rollback
                                             if s.kind == "approval")),
                        previous=previous, cancel=sig.cancel)
    heartbeat = LockHeartbeat(store, prep.inventory.deployment, run_id, sig.cancel, console).start()
    probes = None
    if prep.inventory.probes:
        from octavia_upgrade.probes import ProbeRunner

        probes = ProbeRunner(prep.inventory.probes,
                             lambda batch: store.record_probe_samples(run_id, batch)).start()
    console.info(f"run {run_id}: {prep.runbook.metadata.name} on {prep.inventory.deployment} "
                 f"({len(prep.inventory.hosts)} hosts); log: {log.path}")
    result = RunResult("failed", message="internal error: see the log")
    try:
        result = executor.execute()
    except KeyboardInterrupt:
        result = RunResult("interrupted", message="interrupted")
    finally:
        status = {"succeeded": "succeeded", "rolled_back": "rolled_back",
                  "interrupted": "interrupted"}.get(result.status, "failed")
        # Each clean-up runs even when an earlier one fails: the run's final
        # status and the lock release must never be skipped.
        _cleanup(console, heartbeat.stop, probes.stop if probes else None,
                 lambda: store.set_run_status(run_id, status),
                 lambda: store.release_lock(prep.inventory.deployment, run_id),
                 lambda: log.info("run-finished", status=status, message=result.message),
                 log.close, restore)
        if result.status == "interrupted":
            # Threads may still wait on a remote command or a prompt: the state
            # is written, so leave without joining them.
            console.error(f"run {run_id} interrupted. Inspect: octavia-upgrade show {run_id}; "
                          f"continue: octavia-upgrade resume {run_id}")
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        pool.close_all()
    summary = {"succeeded": "finished successfully", "failed": "FAILED",
               "rolled_back": "FAILED and was rolled back", "interrupted": "was interrupted"}
    console.info(f"\nrun {run_id} {summary.get(result.status, result.status)}"
                 + (f": {result.message}" if result.message and result.status != "succeeded" else ""))
    if result.status in ("failed", "interrupted"):
        console.info(f"  inspect: octavia-upgrade show {run_id}\n"
                     f"  continue: octavia-upgrade resume {run_id}")
    console.info(f"  report: octavia-upgrade report {run_id} -f markdown -o report.md")
    return exit_code(result)


#: Kinds with no effect on the deployment: safe to run again after a crash.
RERUNNABLE_KINDS = ("approval", "assert", "sleep", "wait", "upgrade_check", "config_check")


def previous_state(store: Any, run_id: str, plan: Plan, *, yes: bool, console: Console,
                   confirm: Callable[[str], bool]) -> Previous:
    """Load what an earlier execution recorded, deciding what to do with unknowns."""
    store.mark_in_flight_unknown(run_id)
    latest = store.latest_results(run_id)
    unknown = [r for r in latest.values() if r.status == "unknown"]
    rerun: set[tuple[str, str]] = set()
    for r in unknown:
        key = (r.step_id, r.host)
        try:
            ps = plan.step(r.step_id)
            idempotent = ps.idempotent or ps.kind in RERUNNABLE_KINDS
        except KeyError:
            idempotent = False
        if idempotent:
            console.info(f"  {r.step_id} on {r.host}: outcome unknown; idempotent, will run again")
            rerun.add(key)
        elif yes or confirm(f"{r.step_id} on {r.host} was in flight when the run stopped; its "
                            "outcome is unknown. Run it again?"):
            console.info(f"  {r.step_id} on {r.host}: outcome unknown; re-run confirmed")
            rerun.add(key)
        else:
            raise Refused(f"step {r.step_id} on {r.host} has an unknown outcome and is not marked "
                          f"idempotent: check the host, then resume with --yes to run it again")
    return Previous(
        status={k: v.status for k, v in latest.items()},
        outputs={k: v.outputs for k, v in latest.items()},
        attempts={k: v.attempt for k, v in latest.items()},
        rerun_unknown=frozenset(rerun),
    )


def resume_run(store: Any, settings: Any, run_id: str, *, param_args: list[str], yes: bool,
               make_console: Callable[[list[str]], Console],
               redactor_factory: Callable[[list[str]], Any],
               inventory_options: Mapping[str, Any] | None = None) -> int:
    """Continue ``run_id``: same runbook (sha256 checked), same inventory, same params.

    The inventory is read with the options the run recorded (format, role
    map, flavor, ssh config); ``inventory_options``
    (:class:`~octavia_upgrade.inventory_source.InventorySource` fields, None
    where not given) replace them one by one.
    """
    import hashlib

    run = store.get_run(run_id)
    if run.status == "succeeded":
        print(f"run {run_id} already finished successfully; nothing to resume")
        return EXIT_OK
    path = Path(run.runbook_path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InvalidInput(f"cannot read the runbook of run {run_id}: {path}: "
                           f"{exc.strerror or exc}") from None
    if digest != run.runbook_sha256:
        raise Refused(f"the runbook {path} changed since run {run_id} started (sha256 "
                      f"{run.runbook_sha256[:12]} then, {digest[:12]} now): a run resumes only "
                      "with the runbook it was planned from; start a new run instead")
    overrides: dict[str, Any] = {k: v for k, v in (run.params or {}).items() if v != "***"}
    given = parse_param_args(param_args)
    overrides.update(given)
    missing = [k for k, v in (run.params or {}).items() if v == "***" and k not in given]
    if missing:
        raise InvalidInput("secret parameter(s) are never stored; give them again: "
                           + " ".join(f"--param {k}=..." for k in missing))
    if not run.inventory_path:
        raise InvalidInput(f"run {run_id} has no inventory recorded")
    from octavia_upgrade.inventory_source import InventorySource

    # The run's deployment name holds even when it came from --deployment.
    source = InventorySource.resumed(run.inventory_path, run.deployment,
                                     run.inventory_options, inventory_options or {})
    prep = prepare(str(path), source, overrides)
    values = secret_values(prep)
    console = make_console(values)
    redactor = redactor_factory(values)
    redactor.add_url(getattr(settings, "database_url", None))
    store.redactor = redactor
    user, hostname = operator_identity()
    store.acquire_lock(prep.inventory.deployment, run_id, user, hostname, os.getpid())
    console.info(f"resuming run {run_id} ({run.runbook_name}, status {run.status})")

    def confirm(question: str) -> bool:
        if not sys.stdin.isatty():
            return False
        sys.stdout.write(f"  {question} [y/N] ")
        sys.stdout.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    try:
        previous = previous_state(store, run_id, prep.plan, yes=yes, console=console,
                                  confirm=confirm)
    except UpgradeError:
        store.release_lock(prep.inventory.deployment, run_id)
        raise
    return execute_run(prep, Services(settings, store, console, redactor), yes=yes,
                       run_id=run_id, previous=previous)
