"""The plan report (before the change): summary, procedure, impact, recovery, estimate.

Part of :mod:`octavia_upgrade.reports.model`; built by
:func:`octavia_upgrade.reports.planned.plan_report`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from octavia_upgrade.commands import PlannedCommand

from octavia_upgrade.reports.model_common import (
    SCHEMA_VERSION,
    BecomeInfo,
    HopInfo,
    ProvenanceInfo,
    ReleaseInfo,
    plain,
)


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
    #: How the host is reached, from the plan (see :class:`~model_common.HostAccess`):
    #: SSH port, login user, sudo, bastions; None where the plan did not record them.
    port: int | None = None
    user: str | None = None
    become: BecomeInfo | None = None
    proxy_jump: tuple[HopInfo, ...] | None = None
    #: ``ssh`` or ``local`` (the operator machine); the OSA container, if any.
    connection: str = "ssh"
    container: str | None = None


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
    #: The change record the plan is submitted under (``plan --change``).
    change_id: str | None = None
    change_url: str | None = None


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
    #: What each host will be sent, exactly as the executor sends it.
    commands: Mapping[str, tuple[PlannedCommandInfo, ...]]
    deferred: bool


@dataclass(frozen=True)
class PlannedCommandInfo:
    """One planned command (:class:`~octavia_upgrade.commands.PlannedCommand`)."""

    #: Its role for the step kind (``stop:api``, ``dump``, ...): the key an
    #: execution report's ``commands`` use for the same command.
    key: str
    #: The exact text sent (or the template of a run-time value, see ``render``).
    text: str
    #: How it is used, for the reader; never sent.
    note: str = ""
    #: ``""``: sent as written (the run id filled in for ``{{ run.id }}``);
    #: ``shell``/``text``: a template rendered when the step runs.
    render: str = ""
    #: Environment variables the command is sent with (``command`` steps' ``env``).
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, c: PlannedCommand) -> PlannedCommandInfo:
        return cls(c.key, c.text, c.note, c.render, dict(c.env))

    @property
    def display(self) -> str:
        return PlannedCommand(self.key, self.text, self.render, self.note, self.env).display


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
class OutagePrediction:
    """The control-plane outage to expect, from earlier successful runs of the
    same hop in the state database (their measured windows: first stop → API
    answering on every API host)."""

    from_release: str
    to_release: str
    #: How many earlier runs gave a measured window (0: no history).
    runs: int
    median: float | None
    low: float | None
    high: float | None
    #: The runs the figures come from, newest first.
    run_ids: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Impact:
    control_plane: OutageWindow | None
    #: ``unaffected`` or ``downtime``: whether any step states a data-plane impact.
    data_plane: str
    data_plane_steps: tuple[ImpactStep, ...]
    probes: tuple[str, ...]
    #: The measured outage of earlier runs of this hop; None when the state
    #: database was not consulted.
    predicted_outage: OutagePrediction | None = None
    #: Whether the predicted control-plane outage fits the allowed change
    #: windows, in a sentence; None when the report was made without them.
    change_window: str | None = None


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
class PreflightItem:
    """One prerequisite of the plan on one host, and its state when the plan was made."""

    host: str
    description: str
    check: str
    steps: tuple[str, ...]
    #: present | missing | not checked (the plan was made without --detect)
    state: str
    #: Why it is missing (exit code, last line of output), "" otherwise.
    why: str = ""
    #: The steps run only under this condition: missing is then a warning.
    when: str | None = None


@dataclass(frozen=True)
class PlanReport:
    title: str
    generated_at: str | None
    summary: ChangeSummary
    procedure: tuple[ProcedureStep, ...]
    impact: Impact
    prerequisites: tuple[str, ...]
    #: Every preflight item per host, with its state (checked read-only by `plan`).
    preflight: tuple[PreflightItem, ...]
    prechecks: tuple[str, ...]
    recovery: RecoveryPlan
    estimate: Estimate
    provenance: ProvenanceInfo
    type: str = "plan"
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = plain(self)
        return {"type": d.pop("type"), "schema_version": d.pop("schema_version"), **d}
