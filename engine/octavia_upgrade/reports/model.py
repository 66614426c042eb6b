"""The report model: what a plan report and an execution report contain.

Plain frozen dataclasses, built by pure functions
(:func:`octavia_upgrade.reports.planned.plan_report` and
:func:`octavia_upgrade.reports.executed.execution_report`) and turned into
Markdown, HTML or JSON by the renderers. ``to_dict()`` gives the JSON shape
described by ``schemas/report.schema.json``; every key is always present
(``None`` when unknown), so tools can rely on it.

Times are ISO 8601 UTC strings (``2026-11-25T16:05:01Z``); durations and
timeline offsets are seconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

#: Bumped when the JSON shape changes incompatibly (tools check it).
SCHEMA_VERSION = 1

# --------------------------------------------------------------------------- helpers


def to_datetime(value: Any) -> datetime | None:
    """Accept aware/naive datetimes (naive = UTC), epoch seconds or ISO strings."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), timezone.utc)
    if isinstance(value, str):
        try:
            return to_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def iso(value: Any) -> str | None:
    dt = to_datetime(value)
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def seconds(a: Any, b: Any) -> float | None:
    """``b - a`` in seconds, or None when either is unknown."""
    da, db = to_datetime(a), to_datetime(b)
    if da is None or db is None:
        return None
    return round((db - da).total_seconds(), 3)


def plain(value: Any) -> Any:
    """Dataclasses, tuples and mappings → JSON-ready dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    return value


# --------------------------------------------------------------------------- shared parts


@dataclass(frozen=True)
class ReleaseInfo:
    series: str
    #: How operators name it: ``2024.2 Dalmatian``.
    label: str
    version_id: str | None = None
    octavia_major: int | None = None
    #: Newest Octavia / octavia-lib versions the catalog knows for the release.
    octavia: str | None = None
    octavia_lib: str | None = None
    alembic_head: str | None = None
    octavia_status: bool | None = None

    @classmethod
    def from_catalog_entry(cls, entry: Mapping[str, Any] | None, fallback: str = "") -> ReleaseInfo:
        """From ``Release.as_dict()`` (as stored in a plan), or just a series name."""
        if not entry:
            return cls(series=fallback, label=fallback.capitalize())
        series = str(entry.get("series") or fallback)
        vid = entry.get("version_id")
        octavia = list(entry.get("octavia_versions") or [])
        lib = list(entry.get("octavia_lib_versions") or [])
        return cls(series=series,
                   label=f"{vid} {series.capitalize()}" if vid else series.capitalize(),
                   version_id=vid, octavia_major=entry.get("octavia_major"),
                   octavia=octavia[-1] if octavia else None, octavia_lib=lib[-1] if lib else None,
                   alembic_head=entry.get("alembic_head"),
                   octavia_status=entry.get("octavia_status"))


@dataclass(frozen=True)
class ProvenanceInfo:
    runbook_path: str | None
    runbook_name: str | None
    revision: int | None
    sha256: str | None
    git_commit: str | None
    git_dirty: bool | None
    tool_version: str | None
    catalog_version: str | None


# --------------------------------------------------------------------------- plan report


@dataclass(frozen=True)
class HostInfo:
    name: str
    address: str | None
    roles: tuple[str, ...]
    #: What ``detect`` found installed (None when detection was not run).
    octavia: str | None = None
    octavia_lib: str | None = None
    release: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Detected:
    release: str | None
    db_revision: str | None
    db_host: str | None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangeSummary:
    runbook: str
    description: str
    references: tuple[str, ...]
    from_release: ReleaseInfo
    to_release: ReleaseInfo
    deployment: str
    flavor: str
    inventory_path: str | None
    hosts: tuple[HostInfo, ...]
    #: Parameter values (secret ones already masked by the planner).
    parameters: Mapping[str, Any]
    probes: tuple[str, ...]
    detected: Detected | None


@dataclass(frozen=True)
class ProcedureStep:
    number: int
    id: str
    name: str
    kind: str
    phase: str  # main | rollback | finally
    placement: str  # hosts | once | local
    hosts: tuple[str, ...]
    batches: tuple[tuple[str, ...], ...]
    when: str | None
    approval: str | None
    data_plane_impact: str | None
    on_failure: str
    attempts: int
    timeout: float | None
    idempotent: bool
    description: str
    estimate: float | None
    #: True for steps inside the expected control-plane API outage.
    in_outage: bool
    #: ``stop``/``start``/… for service steps, else None.
    service_action: str | None
    commands: Mapping[str, tuple[str, ...]]
    deferred: bool


@dataclass(frozen=True)
class OutageWindow:
    first_step: str
    last_step: str | None
    steps: tuple[str, ...]
    #: Sum of the steps' estimates; None when any is unknown.
    estimate: float | None


@dataclass(frozen=True)
class ImpactStep:
    id: str
    name: str
    impact: str
    #: The step's guard: the impact only happens when it is true.
    when: str | None = None


@dataclass(frozen=True)
class Impact:
    control_plane: OutageWindow | None
    #: ``unaffected`` or ``downtime``: whether any step states a data-plane impact.
    data_plane: str
    data_plane_steps: tuple[ImpactStep, ...]
    probes: tuple[str, ...]


@dataclass(frozen=True)
class BackupStep:
    id: str
    name: str
    hosts: tuple[str, ...]
    commands: tuple[str, ...]


@dataclass(frozen=True)
class RecoveryPlan:
    backups: tuple[BackupStep, ...]
    #: Rollback steps in the order they would run.
    rollback: tuple[str, ...]
    finally_: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Estimate:
    total: float | None
    known_steps: int
    unknown_steps: int
    note: str


@dataclass(frozen=True)
class PlanReport:
    title: str
    generated_at: str | None
    summary: ChangeSummary
    procedure: tuple[ProcedureStep, ...]
    impact: Impact
    prerequisites: tuple[str, ...]
    prechecks: tuple[str, ...]
    recovery: RecoveryPlan
    estimate: Estimate
    provenance: ProvenanceInfo
    type: str = "plan"
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = plain(self)
        return {"type": d.pop("type"), "schema_version": d.pop("schema_version"), **d}


# --------------------------------------------------------------------------- execution report


@dataclass(frozen=True)
class RunInfo:
    id: str
    runbook: str
    deployment: str
    from_release: ReleaseInfo
    to_release: ReleaseInfo
    user: str
    hostname: str
    status: str
    started_at: str | None
    ended_at: str | None
    duration: float | None
    inventory_path: str | None
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class RunOutcome:
    status: str
    ok: bool
    summary: str


@dataclass(frozen=True)
class Attempt:
    attempt: int
    status: str
    rc: int | None
    started_at: str | None
    ended_at: str | None
    duration: float | None
    message: str
    stdout: str
    stderr: str


@dataclass(frozen=True)
class HostResult:
    host: str
    #: Status of the last attempt.
    status: str
    attempts: int
    started_at: str | None
    #: First attempt's start → last attempt's end (includes retry delays).
    duration: float | None
    rc: int | None
    message: str
    #: The last lines of the last attempt's stdout and stderr.
    output: str
    history: tuple[Attempt, ...]


@dataclass(frozen=True)
class StepRun:
    id: str
    name: str
    kind: str
    phase: str
    status: str
    started_at: str | None
    duration: float | None
    estimate: float | None
    hosts: tuple[HostResult, ...]


@dataclass(frozen=True)
class Deviation:
    #: failed | timed_out | unreachable | unknown | retried | skipped | not_run |
    #: resumed | interrupted | rolled_back | aborted | lock_broken | running
    kind: str
    step_id: str | None
    host: str | None
    at: str | None
    message: str


@dataclass(frozen=True)
class DowntimeWindow:
    start: str | None
    end: str | None
    duration: float | None
    first_stop: str | None  # "step-id on host"
    last_healthy: str | None
    #: True when services were stopped and never seen healthy again.
    open: bool


@dataclass(frozen=True)
class ApprovalInfo:
    step_id: str
    user: str
    at: str | None
    how: str
    message: str | None
    data_plane_impact: str | None


@dataclass(frozen=True)
class UpgradeCheckResult:
    step_id: str
    host: str
    rc: int | None
    outcome: str
    output: str


@dataclass(frozen=True)
class BackupResult:
    step_id: str
    host: str
    path: str | None
    size: int | None
    sha256: str | None


@dataclass(frozen=True)
class DbRevision:
    step_id: str
    host: str
    before: str | None
    after: str | None
    expected: str | None
    #: after == expected (None when either is unknown).
    at_expected: bool | None


@dataclass(frozen=True)
class HostVersions:
    host: str
    step_id: str
    target: str | None
    octavia_before: str | None
    octavia_after: str | None
    octavia_lib_before: str | None
    octavia_lib_after: str | None


@dataclass(frozen=True)
class ConfigFinding:
    host: str
    path: str
    line: int | None
    group: str | None
    option: str | None
    severity: str
    code: str | None
    message: str
    replacement: str | None


@dataclass(frozen=True)
class ConfigCheck:
    step_id: str
    host: str
    target: str | None
    files: tuple[str, ...]
    counts: Mapping[str, int]
    findings: tuple[ConfigFinding, ...]


@dataclass(frozen=True)
class LoadBalancerState:
    id: str
    name: str | None
    before_provisioning: str | None
    before_operating: str | None
    after_provisioning: str | None
    after_operating: str | None


@dataclass(frozen=True)
class AmphoraState:
    id: str
    loadbalancer_id: str | None
    role: str | None
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Failover:
    loadbalancer_id: str | None
    replaced: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True)
class LoadBalancers:
    before_step: str | None
    before_at: str | None
    after_step: str | None
    after_at: str | None
    loadbalancers: tuple[LoadBalancerState, ...]
    amphorae: tuple[AmphoraState, ...]
    failovers: tuple[Failover, ...]
    #: True when an amphora id present before is gone after (or None without both snapshots).
    failed_over: bool | None


@dataclass(frozen=True)
class ProbeStats:
    probe: str
    samples: int
    failures: int
    availability: float | None  # percent
    #: Longest stretch of failing samples: first failure → next success.
    longest_gap: float
    longest_gap_start: str | None
    first_at: str | None
    last_at: str | None
    latency_avg_ms: float | None
    latency_max_ms: float | None
    errors: tuple[str, ...]


@dataclass(frozen=True)
class EvidenceSet:
    upgrade_checks: tuple[UpgradeCheckResult, ...]
    backups: tuple[BackupResult, ...]
    db_revisions: tuple[DbRevision, ...]
    versions: tuple[HostVersions, ...]
    config_checks: tuple[ConfigCheck, ...]
    loadbalancers: LoadBalancers | None


@dataclass(frozen=True)
class DurationComparison:
    id: str
    estimate: float | None
    actual: float | None
    #: actual - estimate (seconds), None when either is unknown.
    delta: float | None


@dataclass(frozen=True)
class PlanComparison:
    planned: bool
    not_run: tuple[str, ...]
    unplanned: tuple[str, ...]
    durations: tuple[DurationComparison, ...]
    estimate_total: float | None
    actual_total: float | None


@dataclass(frozen=True)
class EventInfo:
    at: str | None
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Bar:
    start: float  # seconds since the timeline start
    duration: float
    status: str
    attempt: int


@dataclass(frozen=True)
class TimelineRow:
    step_id: str
    host: str
    phase: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Timeline:
    start: str | None
    span: float
    rows: tuple[TimelineRow, ...]
    #: Control-plane downtime as offsets in seconds, when known.
    downtime_start: float | None
    downtime_end: float | None


@dataclass(frozen=True)
class ExecutionReport:
    title: str
    generated_at: str | None
    run: RunInfo
    outcome: RunOutcome
    deviations: tuple[Deviation, ...]
    downtime: DowntimeWindow | None
    steps: tuple[StepRun, ...]
    approvals: tuple[ApprovalInfo, ...]
    evidence: EvidenceSet
    probes: tuple[ProbeStats, ...]
    comparison: PlanComparison
    events: tuple[EventInfo, ...]
    timeline: Timeline
    provenance: ProvenanceInfo
    type: str = "execution"
    schema_version: int = SCHEMA_VERSION
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        d = plain(self)
        return {"type": d.pop("type"), "schema_version": d.pop("schema_version"), **d}
