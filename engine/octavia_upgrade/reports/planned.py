"""Build the plan report (before the change) from a :class:`~octavia_upgrade.plan.Plan`.

Pure: everything comes from the plan, an inventory summary, an optional
detection result, optional step-duration history and the provenance.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from octavia_upgrade.reports.model import (
    BackupStep,
    ChangeSummary,
    Detected,
    Estimate,
    HostAccess,
    HostInfo,
    Impact,
    ImpactStep,
    OutageWindow,
    PlannedCommandInfo,
    PlanReport,
    PreflightItem,
    ProcedureStep,
    ProvenanceInfo,
    RecoveryPlan,
    ReleaseInfo,
    iso,
)
from octavia_upgrade.statuses import Phase

#: Step kinds that check something without changing the deployment.
CHECK_KINDS = ("upgrade_check", "config_check", "assert", "wait")


@dataclass(frozen=True)
class HostSummary:
    name: str
    address: str | None
    roles: tuple[str, ...]


@dataclass(frozen=True)
class InventorySummary:
    """The parts of an inventory a report shows (never its secrets)."""

    path: str | None
    deployment: str
    flavor: str
    hosts: tuple[HostSummary, ...]
    probes: tuple[str, ...] = ()


def summarize_inventory(inventory: Any) -> InventorySummary:
    """From a :class:`~octavia_upgrade.model.Inventory`."""
    return InventorySummary(
        path=inventory.path, deployment=inventory.deployment, flavor=inventory.flavor,
        hosts=tuple(HostSummary(h.name, h.address, tuple(h.roles)) for h in inventory.hosts),
        probes=tuple(f"{p.name} ({p.url})" for p in inventory.probes),
    )


def _access(access: HostAccess | None) -> dict[str, Any]:
    """A :class:`HostInfo`'s access fields: from the plan's entry for the host."""
    if access is None:
        return {}
    return {"port": access.port, "user": access.user, "become": access.become,
            "proxy_jump": access.proxy_jump, "connection": access.connection,
            "container": access.container}


def _as_plan(plan: Any) -> Any:
    if isinstance(plan, Mapping):
        from octavia_upgrade.plan import Plan

        return Plan.from_dict(plan)
    return plan


def service_action(step: Any) -> str | None:
    """``stop``/``start``/``restart``/``status`` of a service step, as planned."""
    if step.kind != "service":
        return None
    act = getattr(step, "action", None)
    return str(act) if act else None


def outage_window(steps: Sequence[Any], actions: Mapping[str, str | None],
                  estimates: Mapping[str, float | None]) -> OutageWindow | None:
    """First service stop → last service start/restart after it (main phase)."""
    main = [s for s in steps if s.phase == Phase.MAIN]
    first = next((i for i, s in enumerate(main) if actions.get(s.id) == "stop"), None)
    if first is None:
        return None
    last = None
    for i in range(first + 1, len(main)):
        if actions.get(main[i].id) in ("start", "restart"):
            last = i
    inside = main[first:(last + 1 if last is not None else len(main))]
    est = [estimates.get(s.id) for s in inside]
    return OutageWindow(
        first_step=main[first].id, last_step=main[last].id if last is not None else None,
        steps=tuple(s.id for s in inside),
        estimate=None if any(e is None for e in est) else round(float(sum(est)), 3),  # type: ignore[arg-type]
    )


def _window_fit(windows: Any, outage: OutageWindow | None, now: datetime | None,
                predicted: Any = None) -> str | None:
    """Whether the predicted outage fits the change windows (``windows``: None = not asked).

    The outage judged is the longest measured in earlier runs of the hop when there
    are any (``predicted``), else the plan's step-based estimate.
    """
    if windows is None:
        return None
    if not windows:
        return "no change window is declared: any time is allowed"
    if outage is None:
        return "no control-plane outage is planned"
    seconds = outage.estimate
    if predicted is not None and predicted.runs and predicted.high is not None:
        seconds = predicted.high
    if seconds is None:
        return "the outage has no estimate: whether it fits the change window is unknown"
    from datetime import timezone

    return str(windows.fits(now or datetime.now(timezone.utc), seconds))


def _detected(detected: Any) -> tuple[Detected | None, dict[str, Mapping[str, Any]]]:
    if detected is None:
        return None, {}
    d = detected.as_dict() if hasattr(detected, "as_dict") else dict(detected)
    hosts = {str(h.get("host")): h for h in d.get("hosts") or ()}
    return Detected(release=d.get("release"), db_revision=d.get("db_revision"),
                    db_host=d.get("db_host"),
                    problems=tuple(str(p) for p in d.get("problems") or ())), hosts


def _prerequisites(plan: Any, inv: InventorySummary, src: ReleaseInfo, dst: ReleaseInfo,
                   detected: Detected | None, references: Sequence[str]) -> list[str]:
    out = [f"SSH access (strict host-key checking) to the {len(inv.hosts)} host(s) of "
           f"deployment {inv.deployment}, as listed in the inventory."]
    claim = (f"{src.label} (Octavia {src.octavia_major}.x) runs on every host and the Octavia "
             f"database is at {src.alembic_head or 'its head revision'}; the tool detects this "
             "before the run and refuses a mismatch or mixed releases.")
    out.append(claim)
    if detected is not None:
        if detected.problems:
            out.append("Detection found problems: " + "; ".join(detected.problems))
        else:
            out.append(f"Detected now: release {detected.release or 'unknown'}, database revision "
                       f"{detected.db_revision or 'unknown'}"
                       + (f" (read on {detected.db_host})" if detected.db_host else "") + ".")
    db_hosts = [h.name for h in inv.hosts if "db-migrate" in h.roles]
    if db_hosts:
        out.append(f"Database commands run on one db-migrate host: {', '.join(db_hosts)}.")
    else:
        out.append("No host has the db-migrate role: backup and database migration steps "
                   "cannot run.")
    if dst.octavia_status is False:
        out.append(f"{dst.label} has no octavia-status command: there is no automated "
                   "pre-upgrade check.")
    if plan.preflight() if hasattr(plan, "preflight") else ():
        out.append("Preflight, before the first step: every item below on its host (one "
                   "missing item refuses the run with nothing changed).")
    if references:
        out.append("Release notes read: " + ", ".join(references) + ".")
    out.append(f"A new amphora image for {dst.label} is built and uploaded after the control "
               "plane upgrade; existing amphorae keep their image until they are failed over.")
    return out


def _preflight_items(plan: Any, results: Any) -> tuple[PreflightItem, ...]:
    """Every preflight item of ``plan``, with its state from ``results`` (None: not checked)."""
    checks = plan.preflight() if hasattr(plan, "preflight") else ()
    found = {(r.check.host, r.check.check): r for r in results or ()}
    out = []
    for c in checks:
        r = found.get((c.host, c.check))
        state = "not checked" if r is None else ("present" if r.ok else "missing")
        out.append(PreflightItem(host=c.host, description=c.description, check=c.check,
                                 steps=tuple(c.steps), state=state,
                                 why="" if r is None else r.why, when=c.when))
    return tuple(out)


def plan_report(plan: Any, *, inventory_summary: InventorySummary | None = None,
                detected: Any = None, history: Mapping[str, float] | None = None,
                provenance: Any = None, runbook: Any = None, inventory: Any = None,
                predicted_outage: Any = None,
                generated_at: datetime | str | None = None, windows: Any = None,
                now: datetime | None = None, change_id: str | None = None,
                change_url: str | None = None, preflight: Any = None) -> PlanReport:
    """The plan report for the change advisory board.

    Args:
        plan: a :class:`~octavia_upgrade.plan.Plan` (or its ``to_dict()``).
        inventory_summary: hosts, roles and probes (default: taken from the plan).
        detected: a :class:`~octavia_upgrade.detect.Detection` (or its ``as_dict()``).
        history: step id → seconds from earlier runs of the same runbook; overrides
            the estimates stored in the plan.
        provenance: a :class:`~octavia_upgrade.reports.provenance.Provenance` or mapping.
        runbook: the loaded runbook, for its description and references.
        inventory: a loaded :class:`~octavia_upgrade.model.Inventory`, summarised when
            ``inventory_summary`` is not given.
        predicted_outage: the outage to expect from earlier runs of the hop
            (:func:`octavia_upgrade.outagehistory.predict`); None: not looked up.
        generated_at: when the report was made (fixed in tests for stable output).
        windows: the declared change windows (None: not asked).
        change_id, change_url: the change record the plan is submitted under.
        preflight: the results of the plan's preflight checks, run read-only while
            planning (``session.preflight.run_checks``); None: not checked.
    """
    plan = _as_plan(plan)
    if inventory_summary is None and inventory is not None:
        inventory_summary = summarize_inventory(inventory)
    inv = inventory_summary or InventorySummary(
        path=plan.inventory_path, deployment=plan.deployment, flavor=plan.flavor,
        hosts=tuple(HostSummary(h["name"], h.get("address"), tuple(h.get("roles") or ()))
                    for h in plan.hosts))
    src = ReleaseInfo.from_catalog_entry(plan.from_release)
    dst = ReleaseInfo.from_catalog_entry(plan.to_release)
    det, det_hosts = _detected(detected)
    access = {str(e.get("name")): HostAccess.from_entry(e) for e in plan.hosts}
    hosts = tuple(HostInfo(name=h.name, address=h.address, roles=h.roles,
                           octavia=det_hosts.get(h.name, {}).get("octavia"),
                           octavia_lib=det_hosts.get(h.name, {}).get("octavia_lib"),
                           release=det_hosts.get(h.name, {}).get("release"),
                           error=det_hosts.get(h.name, {}).get("error"),
                           **_access(access.get(h.name))) for h in inv.hosts)
    description, references = "", ()
    if runbook is not None:
        description = runbook.metadata.description
        references = tuple(runbook.metadata.references)

    estimates = {s.id: (history.get(s.id) if history and s.id in history else s.estimate)
                 for s in plan.steps}
    actions = {s.id: service_action(s) for s in plan.steps}
    window = outage_window(plan.steps, actions, estimates)
    in_window = set(window.steps) if window else set()

    procedure = tuple(ProcedureStep(
        number=i + 1, id=s.id, name=s.name, kind=s.kind, phase=s.phase, placement=s.placement,
        hosts=tuple(s.hosts), batches=tuple(tuple(b.hosts) for b in s.batches), when=s.when,
        approval=s.approval, data_plane_impact=s.data_plane_impact, on_failure=s.on_failure,
        attempts=s.attempts, timeout=s.timeout, idempotent=s.idempotent,
        description=s.description, estimate=estimates[s.id], in_outage=s.id in in_window,
        service_action=actions[s.id],
        commands={h: tuple(PlannedCommandInfo.of(c) for c in cs)
                  for h, cs in s.commands.items()}, deferred=s.deferred,
    ) for i, s in enumerate(plan.steps))

    impacted = tuple(ImpactStep(s.id, s.name, s.data_plane_impact, s.when)
                     for s in procedure if s.data_plane_impact)
    impact = Impact(control_plane=window, data_plane="downtime" if impacted else "unaffected",
                    data_plane_steps=impacted, probes=inv.probes,
                    predicted_outage=predicted_outage,
                    change_window=_window_fit(windows, window, now, predicted_outage))

    main = [s for s in procedure if s.phase == Phase.MAIN]
    first_stop = next((i for i, s in enumerate(main) if s.in_outage), len(main))
    prechecks = tuple(f"{s.name} ({s.kind} on {', '.join(s.hosts)})" for s in main[:first_stop]
                      if s.kind in CHECK_KINDS)

    backups = tuple(BackupStep(s.id, s.name, s.hosts,
                               tuple(c.display for cs in s.commands.values() for c in cs))
                    for s in procedure if s.kind == "backup")
    rollback = tuple(f"{s.id}: {s.name}" for s in procedure if s.phase == Phase.ROLLBACK)
    finally_ = tuple(f"{s.id}: {s.name}" for s in procedure if s.phase == Phase.FINALLY)
    notes = [f"Octavia has no database downgrade: once the migration to {dst.label} has run, "
             f"going back to {src.label} means restoring the database backup and reinstalling "
             f"the {src.label} packages."]
    if not backups:
        notes.append("This runbook takes no database backup.")
    if not rollback:
        notes.append("This runbook has no rollback steps: a failure stops the run, then the "
                     "finally steps run.")
    else:
        notes.append("Rollback steps run, in the order listed, when a step with "
                     "on_failure: rollback fails; finally steps run after that.")
    recovery = RecoveryPlan(backups=backups, rollback=rollback, finally_=finally_,
                            notes=tuple(notes))

    main_est = [s.estimate for s in main]
    known = sum(1 for e in main_est if e is not None)
    if not main_est or known == len(main_est):
        total, note = (round(float(sum(main_est)), 3) if main_est else 0.0), ""  # type: ignore[arg-type]
    elif known == 0:
        total, note = None, "unknown — no earlier run of this runbook"
    else:
        total, note = None, (f"unknown — {len(main_est) - known} step(s) have no duration "
                             "from an earlier run")
    estimate = Estimate(total=total, known_steps=known, unknown_steps=len(main_est) - known,
                        note=note)

    summary = ChangeSummary(
        runbook=plan.runbook, description=description, references=references,
        from_release=src, to_release=dst, deployment=plan.deployment, flavor=plan.flavor,
        inventory_path=inv.path, hosts=hosts, parameters=dict(plan.params), probes=inv.probes,
        detected=det, change_id=change_id, change_url=change_url,
    )
    return PlanReport(
        title=f"Octavia upgrade {src.label} → {dst.label} on {plan.deployment}",
        generated_at=iso(generated_at) if generated_at is not None else None,
        summary=summary, procedure=procedure, impact=impact,
        prerequisites=tuple(_prerequisites(plan, inv, src, dst, det, references)),
        preflight=_preflight_items(plan, preflight),
        prechecks=prechecks, recovery=recovery, estimate=estimate,
        provenance=provenance_info(provenance, plan),
    )


def provenance_info(provenance: Any, plan: Any = None) -> ProvenanceInfo:
    """Normalise a Provenance / mapping / None, filling gaps from the plan."""
    if provenance is None:
        p: dict[str, Any] = {}
    elif isinstance(provenance, Mapping):
        p = dict(provenance)
    else:
        p = provenance.to_dict()
    if plan is not None:
        fill = {"runbook_path": plan.runbook_path, "runbook_name": plan.runbook,
                "revision": plan.revision, "sha256": plan.runbook_sha256,
                "catalog_version": plan.catalog_version or None}
        for key, value in fill.items():
            if p.get(key) is None:
                p[key] = value
    if plan is not None and p.get("tool_version") is None:
        from octavia_upgrade import __version__

        p["tool_version"] = __version__
    return ProvenanceInfo(**{k: p.get(k) for k in ProvenanceInfo.__dataclass_fields__})
