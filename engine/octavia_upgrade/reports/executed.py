"""Build the execution report (after the change) from the run-state records alone.

:func:`execution_report` takes what :class:`octavia_upgrade.state` hands out
for one run (the run row, step results, approvals, evidence, probe samples
and events) and nothing else: a report can be regenerated at any time
without access to the nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from octavia_upgrade.reports import evidence as ev
from octavia_upgrade.reports import outage as ev_outage
from octavia_upgrade.reports.evidence import field
from octavia_upgrade.reports.model import (
    ApprovalInfo,
    Attempt,
    Bar,
    CommandSent,
    Deviation,
    DurationComparison,
    EventInfo,
    EvidenceSet,
    ExecutionReport,
    HostAccess,
    HostResult,
    PlanComparison,
    ProvenanceInfo,
    ReleaseInfo,
    RunInfo,
    RunOutcome,
    StepRun,
    Timeline,
    TimelineRow,
    iso,
    seconds,
    to_datetime,
)
from octavia_upgrade.reports.redaction import MASK
from octavia_upgrade.statuses import DONE, Phase, ResultStatus, RunStatus

#: Result statuses that mean a (step, host) did not do its job.
BAD = (ResultStatus.FAILED, ResultStatus.TIMED_OUT, ResultStatus.UNREACHABLE,
       ResultStatus.UNKNOWN, ResultStatus.ABORTED)
#: How deviations are ordered: what most needs attention first.
_DEVIATION_ORDER = ("refused", "failed", "timed_out", "unreachable", "unknown", "aborted",
                    "running", "rolled_back", "max_failures", "interrupted", "resumed",
                    "lock_broken", "retried", "not_run", "skipped")
_EVENT_DEVIATIONS = {"resumed": "resumed", "interrupted": "interrupted",
                     "rollback-started": "rolled_back", "lock-broken": "lock_broken",
                     "max-failures": "max_failures", "refused": "refused"}


def _release(run: Any, plan: Mapping[str, Any] | None, which: str) -> ReleaseInfo:
    series = str(field(run, f"{which}_release") or "")
    entry = (plan or {}).get(f"{which}_release")
    if not entry and series:
        try:
            from octavia_upgrade.catalog import load_catalog

            entry = load_catalog().get(series).as_dict()
        except (KeyError, OSError):
            entry = None
    return ReleaseInfo.from_catalog_entry(entry, series)


def _duration_text(value: float | None) -> str:
    from octavia_upgrade.reports.text import duration

    return duration(value)


def _commands(record: Any) -> tuple[CommandSent, ...]:
    """The commands an attempt sent (none for records made before the tool kept them)."""
    return tuple(CommandSent(key=str(c.get("key", "")), planned=str(c.get("planned", "")),
                             sent=str(c.get("sent", "")), times=int(c.get("times", 1)))
                 for c in field(record, "commands") or () if isinstance(c, Mapping))


def _host_result(host: str, attempts: list[Any]) -> HostResult:
    attempts = sorted(attempts, key=lambda r: field(r, "attempt") or 0)
    last = attempts[-1]
    history = tuple(Attempt(
        attempt=int(field(r, "attempt") or 0), status=str(field(r, "status")), rc=field(r, "rc"),
        started_at=iso(field(r, "started_at")), ended_at=iso(field(r, "ended_at")),
        duration=seconds(field(r, "started_at"), field(r, "ended_at")),
        message=str(field(r, "message") or ""), stdout=ev.trim(field(r, "stdout_tail")),
        stderr=ev.trim(field(r, "stderr_tail")), commands=_commands(r)) for r in attempts)
    out = "\n".join(x for x in (ev.trim(field(last, "stdout_tail")),
                                ev.trim(field(last, "stderr_tail"))) if x)
    return HostResult(
        host=host, status=str(field(last, "status")), attempts=len(attempts),
        started_at=iso(field(attempts[0], "started_at")),
        duration=seconds(field(attempts[0], "started_at"), field(last, "ended_at")),
        rc=field(last, "rc"), message=str(field(last, "message") or ""), output=out,
        history=history)


def _step_status(hosts: Sequence[HostResult]) -> str:
    statuses = [h.status for h in hosts]
    for s in (ResultStatus.UNKNOWN, ResultStatus.FAILED, ResultStatus.TIMED_OUT,
              ResultStatus.UNREACHABLE, ResultStatus.ABORTED, ResultStatus.RUNNING):
        if s in statuses:
            return s.value
    if statuses and all(s == ResultStatus.SKIPPED for s in statuses):
        return ResultStatus.SKIPPED.value
    return ResultStatus.SUCCEEDED.value


def _steps(results: Sequence[Any], planned: Mapping[str, Mapping[str, Any]],
           order: Mapping[str, int]) -> tuple[StepRun, ...]:
    grouped: dict[str, dict[str, list[Any]]] = {}
    for r in results:
        grouped.setdefault(field(r, "step_id"), {}).setdefault(field(r, "host") or "", []).append(r)

    def first_start(step_id: str) -> tuple[Any, int]:
        starts = [to_datetime(field(r, "started_at")) for hs in grouped[step_id].values()
                  for r in hs]
        known = [s for s in starts if s is not None]
        return (min(known).timestamp() if known else float("inf"), order.get(step_id, 10**6))

    out = []
    for step_id in sorted(grouped, key=first_start):
        hosts = tuple(_host_result(h, rs) for h, rs in sorted(grouped[step_id].items()))
        rows = [r for rs in grouped[step_id].values() for r in rs]
        starts = [to_datetime(field(r, "started_at")) for r in rows]
        ends = [to_datetime(field(r, "ended_at")) for r in rows]
        start = min((s for s in starts if s), default=None)
        end = max((e for e in ends if e), default=None)
        p = planned.get(step_id, {})
        out.append(StepRun(
            id=step_id, name=str(p.get("name") or step_id), kind=str(p.get("kind") or ""),
            phase=str(field(rows[0], "phase") or p.get("phase") or Phase.MAIN),
            status=_step_status(hosts), started_at=iso(start), duration=seconds(start, end),
            estimate=p.get("estimate"), hosts=hosts))
    return tuple(out)


def _deviations(run: Any, steps: Sequence[StepRun], events: Sequence[Any],
                not_run: Sequence[str]) -> tuple[Deviation, ...]:
    out: list[Deviation] = []
    for s in steps:
        for h in s.hosts:
            earlier = [a for a in h.history[:-1] if a.status not in DONE]
            tries = f" after {h.attempts} attempt(s)" if h.attempts > 1 else ""
            running = h.status == ResultStatus.RUNNING
            if h.status in BAD or (running and field(run, "status") != RunStatus.RUNNING):
                kind = "unknown" if running else h.status
                last_line = (h.output.strip().splitlines() or [""])[-1]
                msg = h.message or last_line or (f"rc {h.rc}" if h.rc is not None else h.status)
                if not h.message and h.rc is not None:
                    msg = f"rc {h.rc}: {msg}" if last_line else msg
                if h.status == ResultStatus.UNKNOWN or running:
                    msg = (h.message or "in flight when the engine stopped; whether it took "
                           "effect is not known")
                out.append(Deviation(kind, s.id, h.host, h.started_at,
                                     f"{s.name}: {h.status}{tries}: {msg}"))
            elif earlier:
                what = ", ".join(f"attempt {a.attempt} {a.status}"
                                 + (f" (rc {a.rc})" if a.rc is not None else "") for a in earlier)
                out.append(Deviation("retried", s.id, h.host, h.started_at,
                                     f"{s.name}: {h.status} on attempt {h.history[-1].attempt}; "
                                     f"earlier: {what}"))
            elif h.status == ResultStatus.SKIPPED:
                out.append(Deviation("skipped", s.id, h.host, h.started_at,
                                     f"{s.name}: {h.message or 'skipped'}"))
    seen_rollback = False
    for e in events:
        kind = _EVENT_DEVIATIONS.get(str(field(e, "kind")))
        if kind is None:
            continue
        seen_rollback |= kind == "rolled_back"
        data = field(e, "data") or {}
        if kind == "refused":  # its own words: the message lists every missing item
            out.append(Deviation(kind, None, None, iso(field(e, "at")),
                                 f"refused by the {data.get('by', 'deployment check')} before "
                                 f"the first step: {data.get('message', '')}"))
            continue
        step_id = data.get("step_id") if isinstance(data, Mapping) else None
        detail = ", ".join(f"{k}={v}" for k, v in sorted(data.items())) if isinstance(
            data, Mapping) and data else ""
        text = {"resumed": "run resumed", "interrupted": "run interrupted",
                "rolled_back": "rollback started", "lock_broken": "deployment lock broken",
                "max_failures": "too many failed hosts"}[kind]
        out.append(Deviation(kind, step_id, None, iso(field(e, "at")),
                             text + (f" ({detail})" if detail else "")))
    if field(run, "status") == RunStatus.ROLLED_BACK and not seen_rollback:
        out.append(Deviation("rolled_back", None, None, iso(field(run, "ended_at")),
                             "the run ended rolled back"))
    for step_id in not_run:
        out.append(Deviation("not_run", step_id, None, None, f"planned step {step_id} did not run"))
    rank = {k: i for i, k in enumerate(_DEVIATION_ORDER)}
    # Stable sort: within a kind and time, the order above (plan order) is kept.
    return tuple(sorted(out, key=lambda d: (rank.get(d.kind, 99), d.at or "")))


def _outcome(run: Any, steps: Sequence[StepRun], deviations: Sequence[Deviation]) -> RunOutcome:
    status = str(field(run, "status"))
    first_bad = next((d for d in deviations if d.kind in BAD), None)
    where = (f"{first_bad.message} (step {first_bad.step_id} on {first_bad.host})"
             if first_bad else "")
    hosts = sorted({h.host for s in steps for h in s.hosts if h.host and h.host != "local"})
    dur = _duration_text(seconds(field(run, "started_at"), field(run, "ended_at")))
    if status == RunStatus.SUCCEEDED:
        extra = [d for d in deviations if d.kind not in ("skipped",)]
        text = (f"{len(steps)} step(s) on {len(hosts)} host(s) in {dur}"
                + (f", with {len(extra)} deviation(s) listed below." if extra else "."))
    elif status == RunStatus.ROLLED_BACK:
        text = f"{where or 'a step failed'}; the rollback steps ran."
    elif status == RunStatus.INTERRUPTED:
        last = steps[-1].id if steps else "the start"
        text = (f"stopped at {last}; continue with `octavia-upgrade resume "
                f"{field(run, 'id')}`.")
    elif status == RunStatus.REFUSED:
        why = next((d.message for d in deviations if d.kind == "refused"),
                   "refused before the first step")
        text = f"{why}; nothing ran."
    elif status == RunStatus.RUNNING:
        text = ("no end recorded: the run is still going, or the engine stopped without "
                "recording one (see `octavia-upgrade show`).")
    else:
        text = f"{where or 'see the deviations below'}."
    return RunOutcome(status=status, ok=status == RunStatus.SUCCEEDED, summary=text)


def _approvals(approvals: Sequence[Any], evidence: Sequence[Any]) -> tuple[ApprovalInfo, ...]:
    said = {field(e, "step_id"): field(e, "data") or {} for e in evidence
            if field(e, "kind") == "approval"}
    out = []
    for a in sorted(approvals, key=lambda a: to_datetime(field(a, "approved_at")) or 0):  # type: ignore[arg-type, return-value]
        d = said.get(field(a, "step_id"), {})
        out.append(ApprovalInfo(step_id=field(a, "step_id"),
                                user=str(field(a, "identity") or field(a, "user")),
                                at=iso(field(a, "approved_at")), how=str(field(a, "how")),
                                message=d.get("message"),
                                data_plane_impact=d.get("data_plane_impact"),
                                decision=str(field(a, "decision") or "approved"),
                                origin=field(a, "origin"), comment=field(a, "comment")))
    return tuple(out)


def _timeline(run: Any, steps: Sequence[StepRun], downtime: Any, outage: Any = None,
              series: Sequence[Any] = ()) -> Timeline:
    starts = [to_datetime(a.started_at) for s in steps for h in s.hosts for a in h.history]
    ends = [to_datetime(a.ended_at) for s in steps for h in s.hosts for a in h.history]
    origin = to_datetime(field(run, "started_at")) or min((s for s in starts if s), default=None)
    last = max([e for e in ends + starts if e] + [to_datetime(field(run, "ended_at"))
                                                  or origin], default=origin) if origin else None
    span = max(seconds(origin, last) or 0.0, 0.0) if origin else 0.0
    rows = []
    for s in steps:
        for h in s.hosts:
            bars = []
            for a in h.history:
                off = seconds(origin, a.started_at)
                if off is None:
                    continue
                dur = a.duration if a.duration is not None else max(span - off, 0.0)
                bars.append(Bar(start=off, duration=dur, status=a.status, attempt=a.attempt))
            rows.append(TimelineRow(step_id=s.id, host=h.host, phase=s.phase, bars=tuple(bars)))
    dstart = dend = None
    if downtime is not None and origin is not None:
        dstart = seconds(origin, downtime.start)
        dend = seconds(origin, downtime.end) if downtime.end else span
    ostart = oend = None
    if outage is not None and origin is not None and outage.start is not None:
        ostart = seconds(origin, outage.start)
        oend = seconds(origin, outage.end) if outage.end else span
    return Timeline(start=iso(origin), span=span, rows=tuple(rows), downtime_start=dstart,
                    downtime_end=dend, outage_start=ostart, outage_end=oend,
                    availability=ev_outage.availability(series, origin, span))


def _comparison(run: Any, plan: Mapping[str, Any] | None, steps: Sequence[StepRun]) -> PlanComparison:
    ran = {s.id: s for s in steps}
    if not plan:
        return PlanComparison(planned=False, not_run=(), unplanned=(), durations=(),
                              estimate_total=None,
                              actual_total=seconds(field(run, "started_at"), field(run, "ended_at")))
    planned = list(plan.get("steps") or [])
    status = field(run, "status")
    wanted_phases = {Phase.MAIN, Phase.FINALLY} | (
        {Phase.ROLLBACK} if status == RunStatus.ROLLED_BACK else set())
    not_run = tuple(p["id"] for p in planned if p.get("phase", Phase.MAIN) in wanted_phases
                    and p["id"] not in ran) if status != RunStatus.RUNNING else ()
    ids = {p["id"] for p in planned}
    unplanned = tuple(s.id for s in steps if s.id not in ids)
    durations = []
    for p in planned:
        s = ran.get(p["id"])
        if s is None:
            continue
        est, act = p.get("estimate"), s.duration
        durations.append(DurationComparison(id=s.id, estimate=est, actual=act,
                                            delta=None if est is None or act is None
                                            else round(act - est, 3)))
    main_est = [p.get("estimate") for p in planned
                if p.get("phase", Phase.MAIN) == Phase.MAIN]
    est_total = (None if not main_est or any(e is None for e in main_est)
                 else round(float(sum(main_est)), 3))
    return PlanComparison(planned=True, not_run=not_run, unplanned=unplanned,
                          durations=tuple(durations), estimate_total=est_total,
                          actual_total=seconds(field(run, "started_at"), field(run, "ended_at")))


def _options(run: Any, plan: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """How the run was started; the plan's secret parameters masked once more (the
    store masked them already, the report does not rely on it)."""
    options = field(run, "options")
    if not isinstance(options, Mapping):
        return None
    out = dict(options)
    secret = set((plan or {}).get("secret_params") or ())
    if isinstance(out.get("params"), Mapping) and secret:
        out["params"] = {k: MASK if k in secret and v not in (None, "") else v
                         for k, v in out["params"].items()}
    return out


def _provenance(run: Any) -> ProvenanceInfo:
    p = dict(field(run, "provenance") or {})
    fill = {"runbook_path": field(run, "runbook_path"), "runbook_name": field(run, "runbook_name"),
            "revision": field(run, "runbook_revision"), "sha256": field(run, "runbook_sha256"),
            "tool_version": field(run, "tool_version"),
            "catalog_version": field(run, "catalog_version")}
    for key, value in fill.items():
        if p.get(key) is None:
            p[key] = value
    return ProvenanceInfo(**{k: p.get(k) for k in ProvenanceInfo.__dataclass_fields__})


def execution_report(run: Any, results: Sequence[Any], approvals: Sequence[Any] = (),
                     evidence: Sequence[Any] = (), probe_samples: Sequence[Any] = (),
                     events: Sequence[Any] = (), *, probe_series: Sequence[Any] = (),
                     generated_at: datetime | str | None = None) -> ExecutionReport:
    """The execution report of one run, from the state store's records only.

    Args:
        run: the run row (:class:`octavia_upgrade.state.records.Run`).
        results: every (step, host, attempt) result of the run.
        approvals: recorded approvals.
        evidence: evidence records (``kind`` + ``data``) written by steps.
        probe_samples: data-plane probe samples (empty when no probes ran).
        events: run events (resumed, interrupted, rollback-started, ...).
        probe_series: the VIP and API probes' compact series (runs recorded
            before them have ``probe_samples`` instead).
        generated_at: when the report was made (fixed in tests for stable output).
    """
    plan = field(run, "plan")
    plan = plan if isinstance(plan, Mapping) else None
    planned = {p["id"]: p for p in (plan or {}).get("steps") or []}
    order = {sid: i for i, sid in enumerate(planned)}
    events = sorted(events, key=lambda e: to_datetime(field(e, "at")) or 0)  # type: ignore[arg-type, return-value]
    steps = _steps(results, planned, order)
    comparison = _comparison(run, plan, steps)
    # A refused run ran nothing: its one deviation says so, not one per planned step.
    deviations = _deviations(run, steps, events,
                             () if field(run, "status") == RunStatus.REFUSED
                             else comparison.not_run)
    downtime = ev.downtime(evidence, results)
    src, dst = _release(run, plan, "from"), _release(run, plan, "to")
    info = RunInfo(
        id=str(field(run, "id")), runbook=str(field(run, "runbook_name")),
        deployment=str(field(run, "deployment")), from_release=src, to_release=dst,
        user=str(field(run, "user")), hostname=str(field(run, "hostname")),
        status=str(field(run, "status")), started_at=iso(field(run, "started_at")),
        ended_at=iso(field(run, "ended_at")),
        duration=seconds(field(run, "started_at"), field(run, "ended_at")),
        inventory_path=field(run, "inventory_path"), parameters=dict(field(run, "params") or {}),
        options=_options(run, plan),
        hosts=tuple(HostAccess.from_entry(h) for h in (plan or {}).get("hosts") or ()),
        change_id=field(run, "change_id"), change_url=field(run, "change_url"))
    evidence_set = EvidenceSet(
        upgrade_checks=ev.upgrade_checks(evidence), backups=ev.backups(evidence),
        restores=ev.restores(evidence),
        db_revisions=ev.db_revisions(evidence), versions=ev.versions(evidence),
        config_checks=ev.config_checks(evidence), loadbalancers=ev.loadbalancers(evidence),
        failovers=ev.failovers(evidence), objects=ev.objects(evidence))
    if evidence_set.objects is not None:
        o = evidence_set.objects
        deviations = (*deviations, *(Deviation(f"object_{c.change}", o.after_step, None,
                                               o.after_at, c.message) for c in o.changes))
    outage = ev_outage.measured_window(results, probe_series,
                                       {k: str(p.get("name") or k) for k, p in planned.items()})
    notes = []
    if not probe_samples and not any(field(s, "kind") == "vip" for s in probe_series):
        notes.append("No data-plane probes ran (the inventory lists none).")
    if outage is not None and outage.status == "not_probed":
        notes.append("The API was not probed during this run: the outage window's end is "
                     "not measured (the step-based window is shown instead).")
    return ExecutionReport(
        title=f"Octavia upgrade {src.label} → {dst.label} on {info.deployment}: run {info.id}",
        generated_at=iso(generated_at) if generated_at is not None else None,
        run=info, outcome=_outcome(run, steps, deviations), deviations=deviations,
        downtime=downtime, outage=outage, steps=steps,
        approvals=_approvals(approvals, evidence), evidence=evidence_set,
        probes=ev.probe_stats(probe_samples) + ev_outage.series_stats(probe_series),
        comparison=comparison,
        events=tuple(EventInfo(at=iso(field(e, "at")), kind=str(field(e, "kind")),
                               data=dict(field(e, "data") or {})) for e in events),
        timeline=_timeline(run, steps, downtime, outage, probe_series),
        provenance=_provenance(run),
        notes=tuple(notes),
    )
