"""The report model: what a plan report and an execution report contain.

Plain frozen dataclasses, built by pure functions
(:func:`octavia_upgrade.reports.planned.plan_report` and
:func:`octavia_upgrade.reports.executed.execution_report`) and turned into
Markdown, HTML or JSON by the renderers. ``to_dict()`` gives the JSON shape
described by ``schemas/report.schema.json``; every key is always present
(``None`` when unknown), so tools can rely on it.

Times are ISO 8601 UTC strings (``2026-11-25T16:05:01Z``); durations and
timeline offsets are seconds.

One module per part, every name importable from here:

* :mod:`.model_common`: schema version, time helpers, releases, provenance;
* :mod:`.model_plan`: the plan report;
* :mod:`.model_execution`: the execution report (run, steps, attempts and the
  commands they sent, deviations, timeline);
* :mod:`.model_evidence`: its evidence and data-plane probe statistics.
"""

from __future__ import annotations

from octavia_upgrade.reports.model_common import (
    SCHEMA_VERSION,
    BecomeInfo,
    HopInfo,
    HostAccess,
    ProvenanceInfo,
    ReleaseInfo,
    iso,
    plain,
    seconds,
    to_datetime,
)
from octavia_upgrade.reports.model_plan import (
    BackupStep,
    ChangeSummary,
    Detected,
    Estimate,
    HostInfo,
    Impact,
    ImpactStep,
    OutagePrediction,
    OutageWindow,
    PlannedCommandInfo,
    PlanReport,
    PreflightItem,
    ProcedureStep,
    RecoveryPlan,
)
from octavia_upgrade.reports.model_evidence import (
    AmphoraState,
    BackupResult,
    ConfigCheck,
    ConfigFinding,
    DbRevision,
    EvidenceSet,
    Failover,
    FailoverResult,
    FailoverStep,
    HostVersions,
    LoadBalancerState,
    ObjectChange,
    ObjectComparison,
    LoadBalancers,
    ProbeStats,
    RestoreResult,
    UpgradeCheckResult,
)
from octavia_upgrade.reports.model_execution import (
    ApprovalInfo,
    Attempt,
    Bar,
    CommandSent,
    Deviation,
    DowntimeWindow,
    DurationComparison,
    EventInfo,
    ExecutionReport,
    HostResult,
    MeasuredOutage,
    PlanComparison,
    RunInfo,
    RunOutcome,
    Segment,
    AvailabilityRow,
    StepRun,
    Timeline,
    TimelineRow,
    WindowStep,
)

__all__ = [
    "AmphoraState", "ApprovalInfo", "Attempt", "BackupResult", "BackupStep", "Bar",
    "ChangeSummary", "CommandSent", "ConfigCheck", "ConfigFinding", "DbRevision", "Detected",
    "Deviation", "DowntimeWindow", "DurationComparison", "Estimate", "EventInfo", "EvidenceSet",
    "ExecutionReport", "Failover", "FailoverResult", "FailoverStep", "HostInfo", "HostResult", "HostVersions", "Impact",
    "ImpactStep", "LoadBalancerState", "LoadBalancers", "ObjectChange", "ObjectComparison", "OutageWindow", "PlanComparison",
    "PlannedCommandInfo", "PlanReport", "PreflightItem", "ProbeStats", "ProcedureStep", "ProvenanceInfo", "RecoveryPlan", "ReleaseInfo",
    "RestoreResult",
    "RunInfo", "RunOutcome", "SCHEMA_VERSION", "StepRun", "Timeline", "TimelineRow",
    "UpgradeCheckResult", "iso",
    "AvailabilityRow", "MeasuredOutage", "OutagePrediction", "Segment", "WindowStep", "plain", "seconds", "to_datetime",
    "BecomeInfo", "HopInfo", "HostAccess",
]
