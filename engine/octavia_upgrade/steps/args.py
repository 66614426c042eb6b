"""Typed arguments of each step kind: what ``with:`` may hold, parsed once at load.

Each kind has one frozen dataclass here. Its fields are the keys ``with:``
accepts and its defaults are the only defaults: the JSON Schema
(``schemas/runbook.schema.json``) states the same names, required keys and
``default`` values, and a test keeps the two equal. The loader builds these
objects right after schema validation (which reports bad values with their
``path:line:col``); the planner and the kinds only ever read them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from octavia_upgrade.model import SERVICES, Retry, parse_duration

#: Retry policies the kinds' defaults use.
_NO_RETRY = Retry()


@dataclass(frozen=True)
class Args:
    """Base of every kind's arguments."""

    #: Fields given as durations ("30s", "5m") in YAML, held as seconds.
    DURATIONS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Args:
        """Build from a schema-validated ``with:`` mapping (lists become tuples)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:  # the schema rejects these first; kept for programmatic callers
            raise ValueError(f"unknown argument(s) {', '.join(unknown)} for {cls.__name__}")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key in cls.DURATIONS and value is not None:
                value = parse_duration(value)
            elif isinstance(value, list):
                value = tuple(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            values[key] = value
        return cls(**values)

    def default_timeout(self) -> float | None:
        """The step's ``timeout`` when a v2 runbook does not state one (None: no limit)."""
        return None

    def default_retry(self) -> Retry:
        """The step's ``retry`` when a v2 runbook does not state one."""
        return _NO_RETRY

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples as lists), as stored with the plan."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class CommandArgs(Args):
    command: str
    ok_rc: tuple[int, ...] = (0,)
    capture: str = "text"
    env: Mapping[str, Any] = field(default_factory=dict)
    evidence: str | None = None


@dataclass(frozen=True)
class ServiceArgs(Args):
    DURATIONS: ClassVar[tuple[str, ...]] = ("verify_timeout",)

    action: str
    #: Empty: every service the host's roles run (in the guide's stop order,
    #: reversed for start and restart).
    services: tuple[str, ...] = ()
    verify: bool = True
    verify_timeout: float = 60.0
    #: ``status`` only: fail when a listed service is not running.
    require_running: bool = False

    def default_timeout(self) -> float | None:
        return {"stop": 120.0, "status": 120.0}.get(self.action, 600.0)

    def default_retry(self) -> Retry:
        # A stop that did not take is retried with backoff; a start once more.
        if self.action == "stop":
            return Retry(attempts=3, delay=5.0, backoff=2.0)
        if self.action in ("start", "restart"):
            return Retry(attempts=2, delay=10.0)
        return _NO_RETRY

    def services_on(self, roles: tuple[str, ...] | None) -> tuple[str, ...]:
        """The services this step acts on for a host with ``roles`` (None: any host)."""
        from octavia_upgrade.model import STOP_ORDER

        if self.services:
            wanted = self.services
        else:
            wanted = STOP_ORDER if self.action in ("stop", "status") else tuple(reversed(STOP_ORDER))
        if roles is None:
            return tuple(wanted)
        return tuple(s for s in wanted if s in roles and s in SERVICES)


@dataclass(frozen=True)
class PackagesArgs(Args):
    #: ``upgrade`` (install in place, the guide's order), ``record``, ``stage``,
    #: ``verify``, ``activate``, ``revert`` (see :mod:`octavia_upgrade.steps.packages`).
    action: str = "upgrade"
    #: Release to install (series or version id); None: the runbook's ``to``.
    release: str | None = None
    packages: tuple[str, ...] = ("octavia", "octavia-lib")
    #: ``revert``: the ``record`` step whose output holds what to go back to.
    record_step: str = "record-packages"

    def default_timeout(self) -> float | None:
        return {"record": 120.0, "verify": 600.0, "activate": 600.0}.get(self.action, 1800.0)

    def default_retry(self) -> Retry:
        if self.action in ("record", "verify", "activate"):
            return _NO_RETRY
        return Retry(attempts=2, delay=30.0)


@dataclass(frozen=True)
class BackupArgs(Args):
    dest_dir: str
    database: str = "octavia"

    def default_timeout(self) -> float | None:
        return 3600.0


@dataclass(frozen=True)
class RestoreArgs(Args):
    #: Id of the ``backup`` step whose dump is restored (its path, sha256 and host).
    backup: str
    #: Id of the ``approval`` step that must have been given at a terminal first.
    approval: str
    #: Check afterwards that ``octavia-db-manage current`` is the from-release head.
    verify_revision: bool = True

    def default_timeout(self) -> float | None:
        return 3600.0


@dataclass(frozen=True)
class ConfigCheckArgs(Args):
    #: Release whose option data is used; None: the runbook's ``to``.
    release: str | None = None
    fail_on: str = "error"

    def default_timeout(self) -> float | None:
        return 120.0


@dataclass(frozen=True)
class DbMigrateArgs(Args):
    action: str = "upgrade"
    revision: str = "head"

    def default_timeout(self) -> float | None:
        return {"current": 120.0, "upgrade": 3600.0}.get(self.action, 1800.0)

    @property
    def manage_args(self) -> str:
        """The ``octavia-db-manage`` arguments."""
        return f"upgrade {self.revision}" if self.action == "upgrade" else self.action


@dataclass(frozen=True)
class UpgradeCheckArgs(Args):
    on_warning: str = "continue"
    on_failure: str = "fail"
    on_error: str = "fail"
    known_error: str = ""
    #: ``installed``: the code the services run; ``staged``: the target release's code
    #: staged by a ``packages`` step (``action: stage``), before anything stops.
    code: str = "installed"

    def default_timeout(self) -> float | None:
        return 300.0

    def policy(self, outcome: str) -> str:
        return {"warning": self.on_warning, "failure": self.on_failure,
                "error": self.on_error}[outcome]


@dataclass(frozen=True)
class WaitArgs(Args):
    DURATIONS: ClassVar[tuple[str, ...]] = ("timeout", "interval")

    http: str | None = None
    tcp: str | None = None
    command: str | None = None
    timeout: float = 120.0
    interval: float = 2.0
    expect_status: tuple[int, ...] = (200,)

    @property
    def probe(self) -> tuple[str, str]:
        """(``http`` | ``tcp`` | ``command``, its template)."""
        for name in ("http", "tcp", "command"):
            value = getattr(self, name)
            if value is not None:
                return name, str(value)
        raise ValueError("a wait step needs one of http, tcp or command")


@dataclass(frozen=True)
class AssertArgs(Args):
    that: str | bool
    message: str = "assertion failed"


@dataclass(frozen=True)
class ApprovalArgs(Args):
    DURATIONS: ClassVar[tuple[str, ...]] = ("expires",)

    message: str
    data_plane_impact: str | None = None
    #: Only an operator at a terminal may give it: ``--yes`` never does (as for
    #: every rollback approval).
    requires_human: bool = False
    #: Distinct identities whose approval the step needs.
    approvers: int = 1
    #: The approvers must differ from the identity that started the run.
    four_eyes: bool = False
    #: Seconds the step waits for its decisions (None: as long as it takes).
    expires: float | None = None
    #: What the step comes to when ``expires`` passes: ``reject`` or ``approve``.
    on_expiry: str = "reject"
    #: The approval that lets the outage begin: the change window is checked here.
    outage_gate: bool = False

    #: The fields added for approvals by identity: left out of :meth:`to_dict`
    #: while they hold their defaults, so that plans recorded before them (and
    #: the runs that stored those plans) compare equal to plans made now.
    TEAM_FIELDS: ClassVar[tuple[str, ...]] = ("approvers", "four_eyes", "expires", "on_expiry",
                                              "outage_gate")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        for f in dataclasses.fields(self):
            if f.name in self.TEAM_FIELDS and d.get(f.name) == f.default:
                d.pop(f.name)
        return d


@dataclass(frozen=True)
class SleepArgs(Args):
    DURATIONS: ClassVar[tuple[str, ...]] = ("duration",)

    duration: float


@dataclass(frozen=True)
class AmphoraFailoverArgs(Args):
    """Which load balancers to fail over through the Octavia API, and how fast.

    The filters combine with AND; each list filter matches when any of its
    values does. ``max_concurrency`` and ``max_errors`` take a count or a
    percentage of the selected load balancers (``"25%"``), as AWS Systems
    Manager's rate control does.
    """

    DURATIONS: ClassVar[tuple[str, ...]] = ("wait_timeout",)

    #: Explicit load balancer ids (empty: every load balancer the filters match).
    loadbalancers: tuple[str, ...] = ()
    provider: str | None = "amphora"
    #: ``SINGLE`` or ``ACTIVE_STANDBY`` (from the amphorae's roles).
    topology: str | None = None
    #: Any listener with one of these protocols (``UDP``, ``TERMINATED_HTTPS``, ...).
    listener_protocols: tuple[str, ...] = ()
    #: Any pool with a health monitor of one of these types (``PING``, ...).
    health_monitor_types: tuple[str, ...] = ()
    #: Any amphora whose image id is not this one (template; empty: no filter).
    image_not: str | None = None
    #: Any amphora created before this time (ISO 8601, UTC; template; empty: no filter).
    created_before: str | None = None
    #: A filter that matches nothing fails the step instead of being reported.
    fail_if_none: bool = False
    #: Load balancers failed over first, one at a time, before any concurrency.
    canary: int = 1
    max_concurrency: int | str = 1
    max_errors: int | str = 0
    #: Per load balancer: failover requested → ACTIVE with every amphora ALLOCATED.
    wait_timeout: float = 600.0
    #: Probe each load balancer's VIP (TCP connect, 5 Hz) during its failover.
    probe_vip: bool = True

    def default_timeout(self) -> float | None:
        return None  # bounded per load balancer by wait_timeout


@dataclass(frozen=True)
class LbSnapshotArgs(Args):
    #: What this snapshot is (``before``, ``after``): the report compares the first and last.
    label: str = "snapshot"


@dataclass(frozen=True)
class CanaryArgs(Args):
    """A throw-away load balancer created after an upgrade, waited for, deleted."""

    DURATIONS: ClassVar[tuple[str, ...]] = ("wait_timeout",)

    #: The VIP subnet (template, e.g. ``"{{ vars.canary_subnet_id }}"``).
    vip_subnet_id: str
    provider: str = "amphora"
    protocol: str = "HTTP"
    port: int = 80
    member_address: str = "192.0.2.10"
    member_port: int = 80
    #: Per stage (load balancer, listener, pool, member, ONLINE, deletion).
    wait_timeout: float = 300.0

    def default_timeout(self) -> float | None:
        return None


#: The arguments of every kind (``local`` takes what ``command`` takes).
ARGS: dict[str, type[Args]] = {
    "command": CommandArgs, "local": CommandArgs, "service": ServiceArgs,
    "packages": PackagesArgs, "backup": BackupArgs, "restore": RestoreArgs,
    "config_check": ConfigCheckArgs,
    "db_migrate": DbMigrateArgs, "upgrade_check": UpgradeCheckArgs, "wait": WaitArgs,
    "assert": AssertArgs, "approval": ApprovalArgs, "sleep": SleepArgs,
    "amphora_failover": AmphoraFailoverArgs, "lb_snapshot": LbSnapshotArgs,
    "canary": CanaryArgs,
}


def parse(kind: str, raw: Mapping[str, Any] | None) -> Args:
    return ARGS[kind].parse(raw or {})
