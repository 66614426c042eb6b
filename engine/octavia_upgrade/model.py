"""Typed core objects: runbooks, inventories and flavors as loaded and validated.

These are plain frozen dataclasses with no I/O. Loaders (``loader.py``,
``inventory.py``, ``flavors.py``) build them from YAML after schema and
semantic validation; the planner and executor only ever see these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: apiVersion of inventories, flavors and role maps.
API_VERSION = "octavia-upgrade/v1"

#: Runbook formats: v1 (rollback written bottom-up, braced ``when``, no kind
#: defaults) is still read; v2 is written (see docs/runbook-format-v2.md).
RUNBOOK_V1 = "octavia-upgrade/v1"
RUNBOOK_V2 = "octavia-upgrade/v2"
RUNBOOK_API_VERSIONS = (RUNBOOK_V1, RUNBOOK_V2)

#: Control-plane roles a host can have. ``db-migrate`` marks the hosts on
#: which database commands may run (one of them is chosen for ``once`` steps).
ROLES = ("api", "worker", "health-manager", "housekeeping", "driver-agent", "db-migrate")

#: Octavia services, by abstract name (flavors map them to units/containers).
SERVICES = ("api", "worker", "health-manager", "housekeeping", "driver-agent")

#: The order in which the upgrade guide recommends stopping services.
STOP_ORDER = ("housekeeping", "health-manager", "api", "worker", "driver-agent")

STEP_KINDS = (
    "command", "service", "packages", "backup", "restore", "config_check", "db_migrate",
    "upgrade_check", "wait", "assert", "approval", "sleep", "local", "amphora_failover",
    "lb_snapshot", "canary",
)

FAILURE_POLICIES = ("abort", "continue", "rollback")


@dataclass(frozen=True)
class Pos:
    """Where something was written: 1-based line and column in ``path``."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(value: str | float | int) -> float:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"250ms"`` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 1h)")
    n, unit = float(m.group(1)), m.group(2) or "s"
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


@dataclass(frozen=True)
class Retry:
    attempts: int = 1
    delay: float = 0.0
    backoff: float = 1.0

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (2, 3, ...)."""
        return self.delay * (self.backoff ** max(0, attempt - 2))


@dataclass(frozen=True)
class Targets:
    """Which hosts a step runs on. Empty roles and hosts means every host."""

    roles: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    once: bool = False


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    name: str
    pos: Pos
    #: The kind's typed arguments (``with:``): a dataclass of
    #: :mod:`octavia_upgrade.steps.args`, parsed once by the loader.
    args: Any = None
    targets: Targets = field(default_factory=Targets)
    #: Rolling batches: ``()`` = all targets at once; else sizes like ``(1, "50%", "100%")``;
    #: the last entry repeats until every host is covered.
    serial: tuple[int | str, ...] = ()
    timeout: float | None = None
    retry: Retry = field(default_factory=Retry)
    when: str | None = None
    on_failure: str = "abort"
    #: Safe to run again if a crash left its outcome unknown.
    idempotent: bool = False
    description: str = ""
    #: Data-plane impact stated by the runbook author (e.g. amphora failover).
    data_plane_impact: str | None = None


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "string"  # string | integer | number | boolean | list
    default: Any = None
    required: bool = False
    secret: bool = False
    description: str = ""
    pos: Pos | None = None


@dataclass(frozen=True)
class Metadata:
    name: str
    from_: str
    to: str
    revision: int
    description: str = ""
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class Runbook:
    path: str
    sha256: str
    metadata: Metadata
    parameters: Mapping[str, Parameter]
    steps: tuple[Step, ...]
    #: In the order they run (a v1 file lists them bottom-up; the builder turns them).
    rollback: tuple[Step, ...] = ()
    finally_: tuple[Step, ...] = ()
    #: Failed hosts tolerated before the run aborts (None = the step policy decides).
    max_failures: int | None = None
    api_version: str = RUNBOOK_V2

    def all_steps(self) -> tuple[Step, ...]:
        return self.steps + self.rollback + self.finally_

    def step(self, step_id: str) -> Step:
        for s in self.all_steps():
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    @property
    def secret_params(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters.values() if p.secret)


@dataclass(frozen=True)
class Become:
    """Run commands as ``user`` through sudo after logging in unprivileged.

    ``password`` is a secret (never logged): it is fed to ``sudo -S`` on
    stdin; None means sudo must not ask for one (``sudo -n``).
    """

    user: str = "root"
    password: str | None = field(default=None, repr=False)
    method: str = "sudo"


@dataclass(frozen=True)
class Hop:
    """A bastion (SSH ``ProxyJump``) on the way to a host."""

    address: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    #: The name it was written as (``ProxyJump`` entry or ssh_config ``Host``).
    name: str = ""


@dataclass(frozen=True)
class Container:
    """An LXC container a host's commands run in, entered from the host reached over
    SSH with ``lxc-attach`` (OpenStack-Ansible's containers)."""

    name: str
    #: The user commands run as inside the container (OSA's ``container_user``).
    user: str = "root"
    #: The physical host's inventory name (OSA's ``physical_host``), for messages.
    physical_host: str = ""


#: How a host's commands are run: over SSH, or on the operator machine itself
#: (Ansible's ``ansible_connection=local``, kolla-ansible's all-in-one).
CONNECTIONS = ("ssh", "local")


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    roles: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict)
    pos: Pos | None = None
    become: Become | None = None
    #: Bastions to go through, first hop first (from ssh_config ``ProxyJump``).
    proxy_jump: tuple[Hop, ...] = ()
    #: Per-host overrides of the inventory's SSH settings (from ssh_config).
    known_hosts: str | None = None
    connect_timeout: float | None = None
    #: Fields the inventory left at their default (``user``, ``port``,
    #: ``key_file``): an ssh_config may set them, as it may for ``ssh`` itself.
    defaulted: frozenset[str] = frozenset()
    #: ``ssh`` or ``local`` (:data:`CONNECTIONS`).
    connection: str = "ssh"
    #: Set when commands run in an LXC container on the host reached (OSA).
    container: Container | None = None

    def as_context(self) -> dict[str, Any]:
        """What templates see as ``host``."""
        return {"name": self.name, "address": self.address, "port": self.port,
                "user": self.user, "roles": list(self.roles), "vars": dict(self.vars)}


@dataclass(frozen=True)
class Probe:
    name: str
    url: str
    #: 5 Hz: a gap of a fraction of a second is seen.
    interval: float = 0.2
    timeout: float = 1.0


@dataclass(frozen=True)
class ApiProbe:
    """How the Octavia API of every api host is probed during a run."""

    interval: float = 0.2
    timeout: float = 1.0


@dataclass(frozen=True)
class SshSettings:
    known_hosts: str | None = None
    connect_timeout: float = 10.0
    strict_host_key_checking: bool = True


@dataclass(frozen=True)
class Inventory:
    path: str
    deployment: str
    flavor: str
    hosts: tuple[Host, ...]
    vars: Mapping[str, Any] = field(default_factory=dict)
    ssh: SshSettings = field(default_factory=SshSettings)
    probes: tuple[Probe, ...] = ()
    #: The API probe (None: ``api_probe: false``, not probed).
    api_probe: ApiProbe | None = field(default_factory=ApiProbe)
    #: Where the lab or an operator keeps database credentials for backups etc.
    #: Values here are treated as secrets.
    secrets: Mapping[str, Any] = field(default_factory=dict)
    #: Group → host names, for ``--limit`` patterns (Ansible groups; roles for
    #: an octavia-upgrade inventory).
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: What the reader should know but that did not stop the loading (an Ansible
    #: variable that is not honoured, …).
    warnings: tuple[str, ...] = ()
    #: Allowed change windows as declared (``cron``/``length``/``timezone`` or
    #: ``calendar``, resolved), each with ``where``: ``path:line:col``.
    change_windows: tuple[Mapping[str, Any], ...] = ()

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def with_role(self, role: str) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if role in h.roles)


@dataclass(frozen=True)
class Flavor:
    """How one deployment style names services and performs actions.

    ``services`` maps abstract service names (:data:`SERVICES`) to unit or
    container names. ``actions`` maps action names to Jinja command templates
    (see ``docs/flavors.md`` for the list and the variables they see).
    """

    name: str
    path: str
    description: str
    services: Mapping[str, str]
    actions: Mapping[str, str]
    vars: Mapping[str, Any] = field(default_factory=dict)
    #: Step kind → the checks its steps need before the run starts
    #: (``{"check", "description", "where"}`` templates; see ``preflight``).
    preflight: Mapping[str, tuple[Mapping[str, str], ...]] = field(default_factory=dict)
