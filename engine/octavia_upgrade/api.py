"""The programmatic interface: ``plan``, ``run`` and ``resume`` without the command line.

In the manner of alembic's ``command`` module, each function does what the
subcommand of the same name does, and the CLI is a thin layer over them::

    from octavia_upgrade import api

    prepared = api.plan("runbooks/dalmatian-to-epoxy.yaml", "inventory/prod.yaml",
                        params={"backup_dir": "/srv/backups"})
    result = api.run("runbooks/dalmatian-to-epoxy.yaml", "inventory/prod.yaml", yes=True)
    if result.status == "interrupted":
        result = api.resume(result.run_id, yes=True)

Nothing here prints, exits or speaks of command-line options: progress goes
to the ``console`` given (by default errors only, on stderr), failures are
exceptions of :mod:`octavia_upgrade.errors` carrying their data (e.g.
:class:`~octavia_upgrade.errors.UnknownHosts` has ``.names``), and what a
run came to is a :class:`~octavia_upgrade.session.RunResult`.

After an interrupted run (SIGINT/SIGTERM while :func:`run` or :func:`resume`
executes, in the main thread), remote commands may still be running on
worker threads whose outcome is already recorded as ``unknown``; a process
that wants to leave at once should not wait for them (the CLI leaves with
``os._exit``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from octavia_upgrade.errors import Refused, UpgradeError
from octavia_upgrade.session.execution import (RunResult, Services, execute_run,
                                               open_connections, open_run_store)
from octavia_upgrade.session.preparation import (Prepared, masked_params, prepare, replan,
                                                 secret_values, with_absolute_paths)
from octavia_upgrade.session.prompts import never_confirm
from octavia_upgrade.wording import plural
from octavia_upgrade.session.resumption import resume_run

if TYPE_CHECKING:
    from octavia_upgrade.config import Settings
    from octavia_upgrade.console import Console
    from octavia_upgrade.inventory_source import InventorySource
    from octavia_upgrade.logs import Redactor

__all__ = ["Prepared", "RunResult", "plan", "resume", "run"]


def plan(runbook: str, inventory: str | InventorySource, *,
         params: Mapping[str, Any] | None = None, limit: str | None = None,
         detect: bool = True, settings: Settings | None = None, store: Any = None,
         pool: Any = None, preflight: bool = False) -> Prepared:
    """Load and validate a runbook and an inventory, and build the plan.

    Args:
        runbook: the runbook file.
        inventory: an inventory file, or an
            :class:`~octavia_upgrade.inventory_source.InventorySource` saying how
            to read one (Ansible formats, role map, flavor, ssh config).
        params: runbook parameters by name (values as strings or typed).
        limit: an Ansible host pattern (hosts, groups, ``a:b``, ``a:&b``, ``a:!b``,
            wildcards) restricting the inventory; refused (``LimitSplitsStep``)
            when it would split a step that must cover the whole control plane.
        detect: connect to the hosts and refuse unless the deployed release is
            the runbook's ``from`` (the result is in ``Prepared.detected``).
        settings: configuration whose state database holds earlier runs: their
            step durations become the plan's estimates. Opened once the inputs
            are valid, closed after, and never created (planning writes no
            state); a failure to read it is a warning in
            ``Prepared.warnings``. None (and no ``store``): no estimates.
            The same history gives ``Prepared.predicted_outage``: the measured
            outage windows of earlier successful runs of the hop.
        store: an open state store to read that history from instead (left open).
        pool: connections for detection (``get(host)``), left open; by default
            opened and closed here.
        preflight: with ``detect``, also send the plan's preflight checks (read-only
            by contract) and keep their results in ``Prepared.preflight``; a missing
            item does not refuse the plan, the plan report shows it.

    Returns:
        :class:`~octavia_upgrade.session.Prepared`: the loaded objects and ``.plan``.

    Raises:
        InvalidInput: bad files or arguments (``ParamSyntaxError``, ``UnknownHosts``…).
        Refused: the deployed release is not the runbook's ``from``.
    """
    from dataclasses import replace

    prep = prepare(runbook, inventory, dict(params or {}), limit=limit)
    if detect and preflight:
        prep = _detect_and_check(prep, pool)
    elif detect:
        prep = replace(prep, detected=_detect(prep, pool))
    if store is None and settings is None:
        return prep
    try:
        history, outage = _history(prep, settings, store)
    except UpgradeError as exc:
        # Durations are an estimate; a plan is still worth having without them.
        return replace(prep, warnings=(*prep.warnings, f"no duration estimates: {exc}"))
    prep = replace(prep, predicted_outage=outage)
    return replan(prep, history) if history else prep


def _history(prep: Prepared, settings: Settings | None,
             store: Any) -> tuple[Mapping[str, float], Any]:
    """Earlier runs' step durations (this runbook) and the outage to expect (this hop)."""
    from octavia_upgrade.outagehistory import predict

    meta = prep.runbook.metadata
    if store is not None:
        return store.step_duration_history(meta.name), predict(store, meta.from_, meta.to)
    from octavia_upgrade.state import open_store
    from octavia_upgrade.state.db import exists

    assert settings is not None
    if not exists(settings.database_url, settings.state_dir):
        # Nothing recorded yet; planning creates no state.
        return {}, predict(None, meta.from_, meta.to)
    with open_store(settings.database_url, settings.state_dir,
                    tail_bytes=settings.state_output_tail_bytes) as own:
        return own.step_duration_history(meta.name), predict(own, meta.from_, meta.to)


def run(runbook: str, inventory: str | InventorySource, *,
        params: Mapping[str, Any] | None = None, limit: str | None = None,
        detect: bool = True, yes: bool = False, settings: Settings | None = None,
        store: Any = None, console: Console | None = None, redactor: Redactor | None = None,
        pool: Any = None, preflight: bool = True, change_id: str | None = None,
        change_url: str | None = None) -> RunResult:
    """Execute a runbook against an inventory under the deployment lock; record every step.

    Args:
        runbook, inventory, params, limit: as for :func:`plan`; the files'
            paths are recorded absolute, so :func:`resume` works from anywhere.
        detect: refuse unless the deployed release is the runbook's ``from``
            (off only for rehearsals; recorded with the run).
        yes: approve approval steps in advance (recorded as such); rollback
            gates still need an operator at the terminal.
        settings: configuration (state directory, database); default: the
            configuration files' (:func:`~octavia_upgrade.config.load_config`).
        store: the state store; default: opened from ``settings`` and closed after.
        console: where progress goes; default: errors only, on stderr.
        redactor: masks secrets in the console, log and state; the run's
            secrets are added to it.
        pool: connections (``get(host)``, ``prefetch``, ``close_all``), closed
            at the end; default: SSH to the inventory's hosts.
        preflight: check every prerequisite of the plan on every host first,
            and refuse when any is missing (off only when a check is known to
            be wrong for the deployment; recorded with the run).
        change_id, change_url: the change record the run executes (a ticket
            id and its link): recorded with the run, shown in every report
            and event; a resume keeps them.

    Returns:
        :class:`~octavia_upgrade.session.RunResult` with ``run_id`` and
        ``status`` (succeeded, failed, rolled_back, interrupted).

    Raises:
        InvalidInput: bad files or arguments; nothing ran.
        Refused: wrong deployed release, missing prerequisites
            (:class:`~octavia_upgrade.errors.PreflightFailed`, every one listed;
            nothing changed; the run is recorded with status ``refused``), the
            deployment is locked by another run, or the time is outside the
            allowed change windows.
    """
    given = dict(params or {})
    prep = with_absolute_paths(prepare(runbook, inventory, given, limit=limit))
    redactor, console = _output(redactor, console)
    redactor.add(*secret_values(prep))
    for warning in prep.warnings:
        console.warn(warning)
    settings = settings if settings is not None else _settings()
    _check_window(settings, prep)
    pool = pool if pool is not None else open_connections(prep)
    own_store = store is None
    options = {"detect": detect, "limit": limit, "yes": yes, "preflight": preflight,
               "params": masked_params(prep.runbook, given)}
    change = {"id": change_id, "url": change_url}
    by = "detection"
    try:
        if detect:
            det = _detect(prep, pool)
            console.info(f"deployed release: {det.release} on "
                         f"{plural(len(det.hosts), 'host')}; database at {det.db_revision}")
        by = "preflight"
        if preflight:
            _preflight(prep, pool, console, redactor)
        by = ""
        if own_store:
            store = open_run_store(settings, redactor)
        else:
            redactor.add(*settings.secret_values())
            redactor.add_url(settings.database_url)
            store.redactor = redactor
        history = store.step_duration_history(prep.runbook.metadata.name)
        if history:
            prep = replan(prep, history)
    except BaseException as exc:
        pool.close_all()
        if by and isinstance(exc, Refused):
            _record_refused(prep, settings, store, redactor, console, exc, by, options, change)
        if own_store and store is not None:
            store.close()
        raise
    try:
        return execute_run(prep, Services(settings, store, console, redactor), yes=yes,
                           pool=pool, options=options, change=change)
    finally:
        if own_store:
            store.close()


def resume(run_id: str, *, params: Mapping[str, Any] | None = None, yes: bool = False,
           inventory_options: Mapping[str, Any] | None = None,
           settings: Settings | None = None, store: Any = None, console: Console | None = None,
           redactor: Redactor | None = None, confirm: Callable[[str], bool] | None = None,
           pool: Any = None) -> RunResult:
    """Continue a run where it stopped; steps recorded as succeeded are not run again.

    The run's runbook must be unchanged (sha256), and the plan rebuilt from
    it, the recorded inventory and parameters must be the plan the run
    recorded (duration estimates aside).

    Args:
        run_id: the run to continue.
        params: parameters to give again: secret ones are never stored, and
            must be; others replace the recorded value.
        yes: approve approval steps in advance and re-run (step, host) pairs
            whose outcome is unknown.
        inventory_options: how to read the inventory, replacing what the run
            recorded one by one (``format``, ``role_map``, ``flavor``,
            ``ssh_config``, ``use_ssh_config``; None: as recorded).
        settings, store, console, redactor, pool: as for :func:`run`.
        confirm: asked ``confirm(question)`` whether an unknown (step, host)
            of a non-idempotent step may run again; default: never.

    Returns:
        :class:`~octavia_upgrade.session.RunResult`; ``executed`` is False when
        the run had already succeeded and nothing ran.

    Raises:
        InvalidInput: unknown run, unreadable runbook, secret parameters
            missing (:class:`~octavia_upgrade.errors.SecretParamsMissing`).
        Refused: changed runbook; changed plan
            (:class:`~octavia_upgrade.errors.PlanChanged`, with ``.diff``); a plan
            recorded by a tool version with another plan schema
            (:class:`~octavia_upgrade.errors.PlanSchemaChanged`); an unknown
            outcome not confirmed (:class:`~octavia_upgrade.errors.UnknownOutcome`);
            the lock held by another live run.
    """
    redactor, console = _output(redactor, console)
    settings = settings if settings is not None else _settings()
    own_store = store is None
    if own_store:
        store = open_run_store(settings, redactor)
    try:
        return resume_run(store, settings, run_id, params=dict(params or {}), yes=yes,
                          console=console, redactor=redactor, confirm=confirm or never_confirm,
                          inventory_options=inventory_options, pool=pool)
    finally:
        if own_store:
            store.close()


def _record_refused(prep: Prepared, settings: Settings, store: Any, redactor: Redactor,
                    console: Console, refusal: Exception, by: str,
                    options: Mapping[str, Any], change: Mapping[str, str | None]) -> None:
    """Keep a run the deployment refused as evidence (status ``refused``); a
    state database that cannot take it costs a warning, never the refusal."""
    from octavia_upgrade.identity import current
    from octavia_upgrade.session.execution import notify_refused, record_refused

    own = store is None
    run_id = None
    try:
        try:
            if own:
                store = open_run_store(settings, redactor)
            run_id = record_refused(prep, store, refusal, by,
                                    {**options, "operator": current(settings).name}, change)
            console.info(f"recorded as run {run_id} (refused by the {by}; nothing ran): "
                         f"`octavia-upgrade show {run_id}`")
        except Exception as exc:  # noqa: BLE001 - the refusal itself must reach the operator
            console.warn(f"the refusal could not be recorded in the state database: {exc}")
        if run_id is not None:
            try:
                notify_refused(settings, store, console, redactor.redact, run_id, {
                    "by": by, "message": str(refusal),
                    "missing": len(getattr(refusal, "missing", None) or ())})
            except Exception as exc:  # noqa: BLE001 - never in the way of the refusal
                console.warn(f"the run-refused event could not be sent: {exc}")
    finally:
        if own and store is not None:
            store.close()


def _check_window(settings: Settings, prep: Prepared) -> None:
    """Refuse (exit 3) a run that would start outside the allowed change windows."""
    from datetime import datetime, timezone

    from octavia_upgrade.windows import declared

    windows = declared(settings, prep.inventory)
    now = datetime.now(timezone.utc)
    if not windows.is_open(now):
        raise Refused(windows.closed_message(now, "the run may not start") + "; nothing ran")


def _detect_and_check(prep: Prepared, pool: Any) -> Prepared:
    """Detection, then every preflight check, over one set of connections."""
    from dataclasses import replace

    from octavia_upgrade.session.execution import open_connections
    from octavia_upgrade.session.preflight import run_checks
    from octavia_upgrade.transport import LocalTransport

    own = pool is None
    pool = open_connections(prep) if own else pool
    try:
        detected = _detect(prep, pool)
        results = run_checks(prep.plan, pool.get, LocalTransport())
    finally:
        if own:
            pool.close_all()
    return replace(prep, detected=detected, preflight=tuple(results))


def _detect(prep: Prepared, pool: Any) -> Any:
    from octavia_upgrade.detect import detect_release

    return detect_release(prep.inventory, prep.flavor, prep.catalog, prep.runbook.metadata.from_,
                          prep.runbook.metadata.name, runners=pool.get if pool else None)


def _preflight(prep: Prepared, pool: Any, console: Console, redactor: Redactor) -> None:
    """Check the plan's prerequisites on every host; warn about conditional ones."""
    from octavia_upgrade.errors import PreflightFailed
    from octavia_upgrade.preflight import warnings
    from octavia_upgrade.session.preflight import require
    from octavia_upgrade.transport import LocalTransport

    try:
        results = require(prep.plan, pool.get, LocalTransport())
    except PreflightFailed as exc:  # a check's output may quote a secret value
        raise PreflightFailed(redactor.redact(str(exc)),
                              [(h, d, s, redactor.redact(w)) for h, d, s, w in exc.missing]
                              ) from None
    missing = [(r.check, r.why) for r in results if not r.ok]
    for line in warnings(missing):
        console.warn(line)
    if results:
        hosts = {r.check.host for r in results}
        console.info(f"preflight: {plural(len(results) - len(missing), 'prerequisite')} of "
                     f"{len(results)} present on {plural(len(hosts), 'host')}")


def _settings() -> Settings:
    from octavia_upgrade.config import load_config

    return load_config()


def _output(redactor: Redactor | None, console: Console | None) -> tuple[Redactor, Console]:
    from octavia_upgrade.console import Console
    from octavia_upgrade.logs import Redactor

    redactor = redactor if redactor is not None else Redactor()
    if console is None:
        console = Console(quiet=True, redact=redactor.redact, stream=sys.stderr)
    return redactor, console
