"""What the execution report shows as evidence: upgrade check, backup, database
revision, versions, configuration findings, load balancers, data-plane probes.

Part of :mod:`octavia_upgrade.reports.model`; built from evidence records by
:mod:`octavia_upgrade.reports.evidence`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


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
class RestoreResult:
    """A ``restore`` step: which dump, both checksums, and the revision it left."""

    step_id: str
    host: str
    path: str | None
    #: The sha256 the backup recorded, and the file's when the restore read it.
    recorded_sha256: str | None
    sha256: str | None
    verified: bool
    restored: bool
    revision: str | None
    expected: str | None


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
    #: vip (a load balancer) | api (the Octavia API on one host)
    kind: str
    samples: int
    failures: int
    availability: float | None  # percent
    #: Longest stretch of failing samples: first failure → next success (s).
    longest_gap: float
    longest_gap_ms: float
    longest_gap_start: str | None
    first_at: str | None
    last_at: str | None
    latency_avg_ms: float | None
    latency_max_ms: float | None
    errors: tuple[str, ...]


@dataclass(frozen=True)
class FailoverResult:
    """One load balancer of an ``amphora_failover`` step."""

    id: str
    name: str | None
    #: succeeded | failed | already (replaced earlier in this run) | not_started
    status: str
    canary: bool
    old_amphorae: tuple[str, ...]
    new_amphorae: tuple[str, ...]
    started_at: str | None
    duration: float | None
    vip_probed: bool
    vip_target: str | None
    vip_samples: int | None
    vip_availability: float | None  # percent
    vip_longest_gap: float | None  # seconds
    vip_note: str | None
    error: str | None
    #: Requested before the run stopped: the resumed step waited for it, never asked again.
    resumed: bool = False


@dataclass(frozen=True)
class FailoverStep:
    """An ``amphora_failover`` step: its filter, what it selected, each result, totals."""

    step_id: str
    host: str
    api: str | None
    filter: tuple[str, ...]
    rate: Mapping[str, object]
    refused: str | None
    results: tuple[FailoverResult, ...]
    totals: Mapping[str, object]


@dataclass(frozen=True)
class ObjectChange:
    type: str
    id: str
    name: str | None
    #: changed | disappeared | appeared
    change: str
    before: str | None  # "PROVISIONING/OPERATING"
    after: str | None
    message: str


@dataclass(frozen=True)
class ObjectComparison:
    """The run's first and last ``lb_snapshot``: every object whose status changed."""

    before_step: str | None
    before_at: str | None
    after_step: str | None
    after_at: str | None
    before_counts: Mapping[str, int]
    after_counts: Mapping[str, int]
    changes: tuple[ObjectChange, ...]


@dataclass(frozen=True)
class EvidenceSet:
    upgrade_checks: tuple[UpgradeCheckResult, ...]
    backups: tuple[BackupResult, ...]
    db_revisions: tuple[DbRevision, ...]
    versions: tuple[HostVersions, ...]
    config_checks: tuple[ConfigCheck, ...]
    loadbalancers: LoadBalancers | None
    restores: tuple[RestoreResult, ...] = ()
    failovers: tuple[FailoverStep, ...] = ()
    objects: ObjectComparison | None = None
