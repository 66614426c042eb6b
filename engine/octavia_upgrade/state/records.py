"""What the run-state database hands out: frozen snapshots, never ORM objects.

Callers (executor, resume, reports, CLI) only ever see these dataclasses, so
no session or lazy load can leak out of :mod:`octavia_upgrade.state`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from octavia_upgrade.statuses import FINAL_RUN_STATUSES as _FINAL
from octavia_upgrade.statuses import Phase, ResultStatus, RunStatus

#: The status words as tuples of plain strings, derived from
#: :mod:`octavia_upgrade.statuses` (which says what each means): the tables'
#: CHECK constraints and ``integrity_check`` use them.
RUN_STATUSES: tuple[str, ...] = tuple(s.value for s in RunStatus)
FINAL_RUN_STATUSES: tuple[str, ...] = tuple(s.value for s in _FINAL)
RESULT_STATUSES: tuple[str, ...] = tuple(s.value for s in ResultStatus)
PHASES: tuple[str, ...] = tuple(p.value for p in Phase)
#: How an approval was given: at the run's terminal (``prompt``), in advance
#: (``--yes``, a rehearsal), on resume, with ``approve``/``reject`` from any
#: terminal (``cli``), or by a declared timeout (``timeout``).
APPROVAL_METHODS = ("prompt", "--yes", "resume", "cli", "timeout")
#: What an approval row decides.
DECISIONS = ("approved", "rejected", "expired")
#: An approval request: ``waiting`` for answers, then ``approved``,
#: ``rejected``, ``expired`` (its timeout passed) or ``abandoned`` (the run
#: stopped while it waited).
REQUEST_STATUSES = ("waiting", "approved", "rejected", "expired", "abandoned")

#: Host name recorded for steps that run on the operator machine.
LOCAL_HOST = "local"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_run_id(now: datetime | None = None) -> str:
    """A short id that sorts by start time: ``20261125-160501-ab12`` (UTC)."""
    now = now or utcnow()
    return f"{now.astimezone(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def isoformat(value: datetime | None) -> str | None:
    """``2026-11-25T16:05:01Z``: how times are shown to operators."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Run:
    id: str
    runbook_name: str
    runbook_path: str
    runbook_sha256: str
    runbook_revision: int
    from_release: str
    to_release: str
    deployment: str
    inventory_path: str | None
    user: str
    hostname: str
    pid: int
    status: str
    started_at: datetime
    ended_at: datetime | None
    params: dict[str, Any] = field(default_factory=dict)
    plan: Any = None
    tool_version: str | None = None
    catalog_version: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    #: How the inventory file was read (format, role map, flavor, ssh config);
    #: None for runs recorded before the tool kept them.
    inventory_options: dict[str, Any] | None = None
    #: How the run was started (``detect``, ``limit``, ``yes``, ``params``, …) as
    #: the caller gave it, secrets masked; None for runs recorded before schema 0003.
    options: dict[str, Any] | None = None
    #: The change record (ticket id and link) the run executes; None before 0004.
    change_id: str | None = None
    change_url: str | None = None
    #: Who asked the run to pause before its next step, and when; None: not paused.
    paused_by: str | None = None
    paused_at: datetime | None = None

    @property
    def duration(self) -> float | None:
        return (self.ended_at - self.started_at).total_seconds() if self.ended_at else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "runbook": {"name": self.runbook_name, "path": self.runbook_path,
                                       "sha256": self.runbook_sha256,
                                       "revision": self.runbook_revision},
            "from": self.from_release, "to": self.to_release, "deployment": self.deployment,
            "inventory": self.inventory_path, "inventory_options": self.inventory_options,
            "user": self.user, "hostname": self.hostname,
            "pid": self.pid, "status": self.status, "started_at": isoformat(self.started_at),
            "ended_at": isoformat(self.ended_at), "duration": self.duration,
            "params": self.params, "tool_version": self.tool_version,
            "catalog_version": self.catalog_version, "provenance": self.provenance,
            "options": self.options,
            "change": {"id": self.change_id, "url": self.change_url},
            "paused": (None if self.paused_by is None else
                       {"by": self.paused_by, "at": isoformat(self.paused_at)}),
        }


@dataclass(frozen=True)
class StepResult:
    id: int
    run_id: str
    step_id: str
    host: str
    attempt: int
    phase: str
    status: str
    rc: int | None
    started_at: datetime
    ended_at: datetime | None
    stdout_tail: str = ""
    stderr_tail: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    #: The commands sent, in order: ``{"key", "planned", "sent"}`` each (secrets
    #: masked); empty for steps that send none and for attempts recorded before 0003.
    commands: list[dict[str, str]] = field(default_factory=list)

    @property
    def duration(self) -> float | None:
        return (self.ended_at - self.started_at).total_seconds() if self.ended_at else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "run_id": self.run_id, "step_id": self.step_id, "host": self.host,
            "attempt": self.attempt, "phase": self.phase, "status": self.status, "rc": self.rc,
            "started_at": isoformat(self.started_at), "ended_at": isoformat(self.ended_at),
            "duration": self.duration, "stdout_tail": self.stdout_tail,
            "stderr_tail": self.stderr_tail, "outputs": self.outputs,
            "artifacts": self.artifacts, "message": self.message,
            "commands": self.commands,
        }


@dataclass(frozen=True)
class Approval:
    """One decision on an approval step: who, when, how, from where, and why."""

    run_id: str
    step_id: str
    user: str
    approved_at: datetime
    how: str
    #: approved | rejected | expired (rows before 0004: approved).
    decision: str = "approved"
    #: user@host or the configured name; None before 0004 and for timeouts.
    identity: str | None = None
    #: The host the decision came from.
    origin: str | None = None
    comment: str | None = None
    request_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "step_id": self.step_id, "user": self.user,
                "approved_at": isoformat(self.approved_at), "how": self.how,
                "decision": self.decision, "identity": self.identity or self.user,
                "origin": self.origin, "comment": self.comment}


@dataclass(frozen=True)
class ApprovalRequest:
    """An approval step a run waits at (or waited at), and who may answer it."""

    id: int
    run_id: str
    step_id: str
    message: str
    data_plane_impact: str | None
    required: int
    four_eyes: bool
    outage_gate: bool
    operator: str
    requested_at: datetime
    expires_at: datetime | None
    on_expiry: str | None
    status: str
    resolved_at: datetime | None
    #: The identities that approved so far, in order.
    approved_by: tuple[str, ...] = ()

    def who_may_approve(self) -> str:
        n = self.required - len(self.approved_by)
        who = "anyone but " + self.operator if self.four_eyes else "anyone"
        done = f" (approved by {', '.join(self.approved_by)})" if self.approved_by else ""
        return f"{n} more of {who}{done}" if self.required > 1 else f"{who}{done}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run_id": self.run_id, "step_id": self.step_id,
                "message": self.message, "data_plane_impact": self.data_plane_impact,
                "required": self.required, "four_eyes": self.four_eyes,
                "outage_gate": self.outage_gate, "operator": self.operator,
                "requested_at": isoformat(self.requested_at),
                "expires_at": isoformat(self.expires_at), "on_expiry": self.on_expiry,
                "status": self.status, "resolved_at": isoformat(self.resolved_at),
                "approved_by": list(self.approved_by),
                "who_may_approve": self.who_may_approve()}


@dataclass(frozen=True)
class Evidence:
    run_id: str
    step_id: str
    host: str
    kind: str
    data: Any
    recorded_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "step_id": self.step_id, "host": self.host,
                "kind": self.kind, "data": self.data,
                "recorded_at": isoformat(self.recorded_at)}


@dataclass(frozen=True)
class ProbeSample:
    """One availability probe of a load balancer VIP (input and output)."""

    probe: str
    at: datetime
    ok: bool
    latency_ms: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"probe": self.probe, "at": isoformat(self.at), "ok": self.ok,
                "latency_ms": self.latency_ms, "error": self.error}


@dataclass(frozen=True)
class Transition:
    """A probe target's state changed: the first sample of a new state."""

    at: datetime
    ok: bool
    error: str | None = None

    def as_list(self) -> list[Any]:
        return [self.at.astimezone(timezone.utc).isoformat(), self.ok, self.error]


#: What a probe measures: a load balancer VIP (data plane) or the API on one host.
PROBE_KINDS = ("vip", "api")


@dataclass(frozen=True)
class ProbeSeries:
    """One probe target over one session of a run, compactly: counts, the longest
    gap and every change of state (not every sample).

    ``transitions[0]`` is the first sample; a target that never changed state
    has one transition. ``longest_gap_ms`` runs from the first failing sample to
    the next good one (or to the last sample while still failing).
    """

    probe: str
    kind: str
    host: str | None
    url: str
    started_at: datetime
    ended_at: datetime
    samples: int
    failures: int
    longest_gap_ms: float
    longest_gap_start: datetime | None
    latency_avg_ms: float | None
    latency_max_ms: float | None
    transitions: tuple[Transition, ...]
    errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"probe": self.probe, "kind": self.kind, "host": self.host, "url": self.url,
                "started_at": isoformat(self.started_at), "ended_at": isoformat(self.ended_at),
                "samples": self.samples, "failures": self.failures,
                "longest_gap_ms": self.longest_gap_ms,
                "longest_gap_start": isoformat(self.longest_gap_start),
                "latency_avg_ms": self.latency_avg_ms, "latency_max_ms": self.latency_max_ms,
                "transitions": [t.as_list() for t in self.transitions],
                "errors": dict(self.errors)}


@dataclass(frozen=True)
class Event:
    """Something that happened to a run as a whole: resumed, interrupted, lock-broken, …"""

    run_id: str | None
    at: datetime
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "at": isoformat(self.at), "kind": self.kind,
                "data": self.data}


@dataclass(frozen=True)
class LockInfo:
    """Who holds a deployment's lock."""

    deployment: str
    run_id: str
    user: str
    hostname: str
    pid: int
    since: datetime
    heartbeat_at: datetime

    def describe(self) -> str:
        return (f"run {self.run_id} (user {self.user} on host {self.hostname}, "
                f"pid {self.pid}, since {isoformat(self.since)})")

    def as_dict(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "run_id": self.run_id, "user": self.user,
                "hostname": self.hostname, "pid": self.pid, "since": isoformat(self.since),
                "heartbeat_at": isoformat(self.heartbeat_at)}


#: ``free``: nobody holds it; ``alive``: the holder process runs on this
#: machine; ``stale``: the holder is gone (or its heartbeat is too old);
#: ``unknown``: held from another machine with a recent heartbeat.
LOCK_STATES = ("free", "alive", "stale", "unknown")


@dataclass(frozen=True)
class LockStatus:
    deployment: str
    state: str
    lock: LockInfo | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "state": self.state, "reason": self.reason,
                "lock": self.lock.as_dict() if self.lock else None}
