"""Resuming a run: the same runbook, inventory, parameters and plan, from where it stopped."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from octavia_upgrade.console import Console
from octavia_upgrade.errors import (InvalidInput, PlanChanged, PlanSchemaChanged, Refused,
                                    SecretParamsMissing, UnknownOutcome, UpgradeError)
from octavia_upgrade.executor import Previous, operator_identity
from octavia_upgrade.plan import PLAN_SCHEMA_VERSION, Plan
from octavia_upgrade.session.execution import RunResult, Services, execute_run
from octavia_upgrade.session.preparation import MASK, Prepared, prepare, secret_values
from octavia_upgrade.statuses import ResultStatus, RunStatus

#: Kinds with no effect on the deployment: safe to run again after a crash.
RERUNNABLE_KINDS = ("approval", "assert", "sleep", "wait", "upgrade_check", "config_check")
#: Kinds that, run again, check through the Octavia API what the stopped attempt did
#: (a failover already done or in flight is never requested twice).
API_CHECKED_KINDS = ("amphora_failover",)


def previous_state(store: Any, run_id: str, plan: Plan, *, yes: bool, console: Console,
                   confirm: Callable[[str], bool]) -> Previous:
    """Load what an earlier execution recorded, deciding what to do with unknowns.

    An unknown (step, host) runs again when its step is idempotent (or of a
    kind that changes nothing), when ``yes`` confirms in advance, or when
    ``confirm(question)`` says so.

    Raises:
        UnknownOutcome: an unknown (step, host) that may not run again.
    """
    store.mark_in_flight_unknown(run_id)
    latest = store.latest_results(run_id)
    unknown = [r for r in latest.values() if r.status == ResultStatus.UNKNOWN]
    rerun: set[tuple[str, str]] = set()
    for r in unknown:
        key = (r.step_id, r.host)
        try:
            ps = plan.step(r.step_id)
            idempotent = ps.idempotent or ps.kind in RERUNNABLE_KINDS
        except KeyError:
            idempotent = False
        if ps_kind(plan, r.step_id) in API_CHECKED_KINDS:
            console.info(f"  {r.step_id} on {r.host}: outcome unknown; runs again and checks "
                         "each load balancer through the API (none is failed over twice)")
            rerun.add(key)
        elif idempotent:
            console.info(f"  {r.step_id} on {r.host}: outcome unknown; idempotent, will run again")
            rerun.add(key)
        elif yes or confirm(f"{r.step_id} on {r.host} was in flight when the run stopped; its "
                            "outcome is unknown. Run it again?"):
            console.info(f"  {r.step_id} on {r.host}: outcome unknown; re-run confirmed")
            rerun.add(key)
        else:
            raise UnknownOutcome(r.step_id, r.host)
    return Previous(
        status={k: v.status for k, v in latest.items()},
        outputs={k: v.outputs for k, v in latest.items()},
        attempts={k: v.attempt for k, v in latest.items()},
        rerun_unknown=frozenset(rerun),
    )


def refuse_while_running(prep: Prepared, previous: Previous, run_id: str, pool: Any,
                         console: Console) -> Any:
    """Refuse while a command of the stopped run still runs where an attempt's
    outcome is unknown (``inflight.py``); the connection pool, opened here when
    there was something to look for and ``pool`` was None.

    A host that cannot be asked costs a warning: the run then meets it as it is.

    Raises:
        Refused: the stopped run's processes, with step, host, PID and command.
    """
    from octavia_upgrade import inflight
    from octavia_upgrade.errors import TransportError
    from octavia_upgrade.plan import LOCAL
    from octavia_upgrade.session.execution import open_connections
    from octavia_upgrade.transport import LocalTransport

    hosts = sorted({h for (_s, h), st in previous.status.items() if st == ResultStatus.UNKNOWN})
    if not hosts:
        return pool
    own = pool is None
    pool = open_connections(prep) if own else pool
    found = []
    try:
        for host in hosts:
            try:
                runner = LocalTransport() if host == LOCAL else pool.get(host)
                processes = inflight.still_running(runner, run_id, host)
            except TransportError as exc:
                console.warn(f"could not look on {host} for commands of the stopped run "
                             f"still running: {exc}")
                continue
            if processes:
                found.append(inflight.describe(host, processes))
    except BaseException:
        if own:
            pool.close_all()
        raise
    if found:
        if own:
            pool.close_all()
        raise Refused(f"run {run_id}: commands it sent before it stopped are still running, "
                      f"and running their steps again now would run them twice at once: "
                      f"{'; '.join(found)}. Wait until they end (or stop them), then resume")
    console.info(f"  no command of the stopped run is still running on "
                 f"{', '.join(hosts)}")
    return pool


def ps_kind(plan: Plan, step_id: str) -> str | None:
    try:
        return plan.step(step_id).kind
    except KeyError:
        return None


def check_runbook(run: Any) -> Path:
    """The run's runbook file, refused when it changed since the run started."""
    path = Path(run.runbook_path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InvalidInput(f"cannot read the runbook of run {run.id}: {path}: "
                           f"{exc.strerror or exc}") from None
    if digest != run.runbook_sha256:
        raise Refused(f"the runbook {path} changed since run {run.id} started (sha256 "
                      f"{run.runbook_sha256[:12]} then, {digest[:12]} now): a run resumes only "
                      "with the runbook it was planned from; start a new run instead")
    return path


def check_plan(run: Any, plan: Plan, redact: Callable[[Any], Any]) -> None:
    """Refuse unless ``plan`` (rebuilt now) is the plan ``run`` recorded, estimates aside.

    Raises:
        PlanSchemaChanged: the recorded plan has no schema version, or another one.
        PlanChanged: the plans differ (``.diff``: a bounded unified diff, secrets masked).
    """
    from octavia_upgrade.plandiff import differences

    recorded = run.plan if isinstance(run.plan, Mapping) else {}
    version = recorded.get("schema_version")
    if version != PLAN_SCHEMA_VERSION:
        raise PlanSchemaChanged(run.id, version if isinstance(version, int) else None,
                                PLAN_SCHEMA_VERSION, run.tool_version)
    diff = differences(recorded, redact(plan.to_dict()), redact)
    if diff:
        raise PlanChanged(run.id, diff)


def resume_overrides(run: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a resumed run: those it recorded, ``given`` ones replacing them.

    Raises:
        SecretParamsMissing: a secret parameter (stored masked) was not given again.
    """
    overrides: dict[str, Any] = {k: v for k, v in (run.params or {}).items() if v != MASK}
    overrides.update(given)
    missing = [k for k, v in (run.params or {}).items() if v == MASK and k not in given]
    if missing:
        raise SecretParamsMissing(missing)
    return overrides


def resume_run(store: Any, settings: Any, run_id: str, *, params: Mapping[str, Any],
               yes: bool, console: Console, redactor: Any,
               confirm: Callable[[str], bool],
               inventory_options: Mapping[str, Any] | None = None,
               pool: Any = None) -> RunResult:
    """Continue ``run_id``: same runbook (sha256 checked), inventory, params and plan.

    The inventory is read with the options the run recorded (format, role
    map, flavor, ssh config); ``inventory_options``
    (:class:`~octavia_upgrade.inventory_source.InventorySource` fields, None
    where not given) replace them one by one. ``console`` shows progress and
    masks secrets through ``redactor``, to which the run's secrets are added.
    """
    run = store.get_run(run_id)
    if run.status == RunStatus.SUCCEEDED:
        return RunResult(RunStatus.SUCCEEDED,
                         message="already finished successfully; nothing to resume",
                         run_id=run_id, executed=False)
    if run.status == RunStatus.REFUSED:
        raise Refused(f"run {run_id} was refused before its first step and nothing ran, so "
                      f"there is nothing to resume: see why with `octavia-upgrade show "
                      f"{run_id}`, put it right, then start a new run")
    path = check_runbook(run)
    overrides = resume_overrides(run, params)
    if not run.inventory_path:
        raise InvalidInput(f"run {run_id} has no inventory recorded")
    from octavia_upgrade.inventory_source import InventorySource

    # The run's deployment name holds even when it came from --deployment.
    source = InventorySource.resumed(run.inventory_path, run.deployment,
                                     run.inventory_options, inventory_options or {})
    # The run's --limit holds too: the plan compared below was built with it.
    prep = prepare(str(path), source, overrides, limit=(run.options or {}).get("limit"))
    _register_secrets(prep, settings, redactor)
    store.redactor = redactor
    check_plan(run, prep.plan, redactor.redact)
    user, hostname = operator_identity()
    store.acquire_lock(prep.inventory.deployment, run_id, user, hostname, os.getpid())
    console.info(f"resuming run {run_id} ({run.runbook_name}, status {run.status})")
    try:
        previous = previous_state(store, run_id, prep.plan, yes=yes, console=console,
                                  confirm=confirm)
        pool = refuse_while_running(prep, previous, run_id, pool, console)
    except UpgradeError:
        store.release_lock(prep.inventory.deployment, run_id)
        raise
    return execute_run(prep, Services(settings, store, console, redactor), yes=yes,
                       run_id=run_id, previous=previous, pool=pool)


def _register_secrets(prep: Prepared, settings: Any, redactor: Any) -> None:
    redactor.add(*secret_values(prep))
    redactor.add(*settings.secret_values())
    redactor.add_url(getattr(settings, "database_url", None))
