"""The execution report (after the change): the run, its steps per host and attempt,
deviations, approvals, the comparison with the plan, events and the timeline.

Part of :mod:`octavia_upgrade.reports.model`; built by
:func:`octavia_upgrade.reports.executed.execution_report`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from octavia_upgrade.reports.model_common import (
    SCHEMA_VERSION,
    HostAccess,
    ProvenanceInfo,
    ReleaseInfo,
    plain,
)
from octavia_upgrade.reports.model_evidence import EvidenceSet, ProbeStats


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
    #: How the run was started (``detect``, ``limit``, ``yes``, ``params``, ...),
    #: secrets masked; None for runs recorded before the tool kept it.
    options: Mapping[str, Any] | None = None
    #: How each inventory host is reached, from the plan stored with the run
    #: (empty when the run stored no plan).
    hosts: tuple[HostAccess, ...] = ()
    #: The change record the run executed (id, link); None when not given.
    change_id: str | None = None
    change_url: str | None = None


@dataclass(frozen=True)
class RunOutcome:
    status: str
    ok: bool
    summary: str


@dataclass(frozen=True)
class CommandSent:
    """One command an attempt sent, as recorded."""

    #: Which command of the step this is (as the plan names it).
    key: str
    #: The plan's text.
    planned: str
    #: What was run; differs from ``planned`` only where the plan holds a run-time value.
    sent: str
    #: How often it was sent in a row (a poll, such as a service's state until it stops).
    times: int = 1


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
    #: The commands sent, in order (empty for steps that send none and for
    #: attempts recorded before the tool kept them).
    commands: tuple[CommandSent, ...] = ()


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
class WindowStep:
    """Where the seconds inside the measured window went: one step."""

    id: str
    name: str
    #: Seconds of the window this step was running on any host (hosts in
    #: parallel count once).
    seconds: float


@dataclass(frozen=True)
class MeasuredOutage:
    """The control-plane outage as the operator feels it, measured: the first
    stop command sent to an Octavia service → the first moment the API
    answered on every API host again (the API probes)."""

    #: measured | open (the API did not answer on every host again while
    #: probed) | api_never_down (the probes saw it answer throughout) |
    #: not_probed (no API probe ran: the window's end is unknown)
    status: str
    start: str | None
    end: str | None
    duration: float | None
    #: "step-id on host" of the first stop command.
    first_stop: str | None
    #: The API hosts probed, and the one that answered last.
    api_hosts: tuple[str, ...]
    last_answering: str | None
    steps: tuple[WindowStep, ...]
    #: Seconds of the window in no step (between steps, or after the last step
    #: that ran inside it).
    between_steps: float | None


@dataclass(frozen=True)
class ApprovalInfo:
    step_id: str
    user: str
    at: str | None
    how: str
    message: str | None
    data_plane_impact: str | None
    #: approved | rejected | expired.
    decision: str = "approved"
    #: The host the decision came from (None: not recorded).
    origin: str | None = None
    #: The approver's comment, or the rejection's reason.
    comment: str | None = None


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
class Segment:
    start: float  # seconds since the timeline start
    duration: float
    ok: bool


@dataclass(frozen=True)
class AvailabilityRow:
    """One probe target's availability over the run, as answering/failing stretches."""

    probe: str
    kind: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Timeline:
    start: str | None
    span: float
    rows: tuple[TimelineRow, ...]
    #: Control-plane downtime as offsets in seconds, from step boundaries, when known.
    downtime_start: float | None
    downtime_end: float | None
    #: The measured outage window (first stop → API answering) as offsets.
    outage_start: float | None = None
    outage_end: float | None = None
    #: VIP and API availability, one row per probe target.
    availability: tuple[AvailabilityRow, ...] = ()


@dataclass(frozen=True)
class ExecutionReport:
    title: str
    generated_at: str | None
    run: RunInfo
    outcome: RunOutcome
    deviations: tuple[Deviation, ...]
    downtime: DowntimeWindow | None
    outage: MeasuredOutage | None
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
