"""The plan: a runbook resolved against an inventory and a flavor.

``build_plan`` is pure: it decides which hosts each step runs on, in which
batches, and renders the commands each (step, host) will run. The same
:class:`Plan` object is printed by ``plan``, shown by ``run --dry-run``,
stored with each run, executed by the executor and summarised in reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from octavia_upgrade import steps as kinds
from octavia_upgrade.catalog import Catalog
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.model import Flavor, Host, Inventory, Runbook, Step

#: Pseudo host name for steps that run on the operator's machine.
LOCAL = "local"

#: The shape of :class:`Plan` as stored with a run; bumped when it changes.
PLAN_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Batch:
    index: int
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class PlannedStep:
    id: str
    name: str
    kind: str
    phase: str  # main | rollback | finally
    placement: str  # hosts | once | local
    hosts: tuple[str, ...]
    batches: tuple[Batch, ...]
    #: Rendered commands per host (secrets redacted only when displayed).
    commands: Mapping[str, tuple[str, ...]]
    #: True when commands depend on earlier outputs and are rendered at run time.
    deferred: bool = False
    when: str | None = None
    approval: str | None = None
    data_plane_impact: str | None = None
    timeout: float | None = None
    attempts: int = 1
    on_failure: str = "abort"
    idempotent: bool = False
    description: str = ""
    estimate: float | None = None
    #: For ``service``/``packages``/``db_migrate`` steps: the action (stop, start, upgrade...).
    action: str | None = None


@dataclass(frozen=True)
class Plan:
    runbook: str
    runbook_path: str
    runbook_sha256: str
    revision: int
    from_release: Mapping[str, Any]
    to_release: Mapping[str, Any]
    deployment: str
    inventory_path: str
    flavor: str
    hosts: tuple[Mapping[str, Any], ...]
    params: Mapping[str, Any]
    secret_params: tuple[str, ...]
    steps: tuple[PlannedStep, ...]
    catalog_version: str = ""
    schema_version: int = PLAN_SCHEMA_VERSION

    def phase(self, name: str) -> tuple[PlannedStep, ...]:
        return tuple(s for s in self.steps if s.phase == name)

    def step(self, step_id: str) -> PlannedStep:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    @property
    def estimated_total(self) -> float | None:
        est = [s.estimate for s in self.phase("main")]
        return None if not est or any(e is None for e in est) else float(sum(est))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        steps = tuple(
            PlannedStep(**{**s, "hosts": tuple(s["hosts"]),
                           "batches": tuple(Batch(b["index"], tuple(b["hosts"])) for b in s["batches"]),
                           "commands": {h: tuple(c) for h, c in s["commands"].items()}})
            for s in d["steps"]
        )
        return cls(**{**d, "hosts": tuple(d["hosts"]), "secret_params": tuple(d["secret_params"]),
                      "steps": steps})


# --------------------------------------------------------------------------- params

_CASTS = {
    "string": str,
    "integer": int,
    "number": float,
}


def _cast(name: str, ptype: str, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    if ptype == "boolean":
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise InvalidInput(f"--param {name}={raw!r}: expected a boolean (true/false)")
    if ptype == "list":
        return [v.strip() for v in raw.split(",") if v.strip()]
    try:
        return _CASTS.get(ptype, str)(raw)
    except ValueError:
        raise InvalidInput(f"--param {name}={raw!r}: expected {ptype}") from None


def resolve_params(runbook: Runbook, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults from the runbook, overridden by ``--param k=v``; unknown names are errors."""
    unknown = sorted(set(overrides) - set(runbook.parameters))
    if unknown:
        known = ", ".join(sorted(runbook.parameters)) or "none"
        raise InvalidInput(f"unknown parameter(s) {', '.join(unknown)} for runbook "
                           f"{runbook.metadata.name} (declared: {known})")
    values: dict[str, Any] = {}
    for name, p in runbook.parameters.items():
        if name in overrides:
            values[name] = _cast(name, p.type, overrides[name])
        elif p.default is not None:
            values[name] = p.default
        elif p.required:
            raise InvalidInput(f"parameter {name!r} is required: pass --param {name}=VALUE")
        else:
            values[name] = None
    return values


# --------------------------------------------------------------------------- hosts


def batch_sizes(serial: tuple[int | str, ...], total: int) -> list[int]:
    """Split ``total`` hosts into batch sizes from a ``serial`` spec.

    ``()`` → one batch; ``(1, "50%", "100%")`` → 1, then half, then the rest.
    The last entry repeats until every host is covered.
    """
    if total <= 0:
        return []
    if not serial:
        return [total]
    sizes: list[int] = []
    covered = 0
    i = 0
    while covered < total:
        spec = serial[min(i, len(serial) - 1)]
        if isinstance(spec, str) and spec.endswith("%"):
            n = math.ceil(total * float(spec[:-1]) / 100)
        else:
            n = int(spec)
        n = max(1, min(n, total - covered))
        sizes.append(n)
        covered += n
        i += 1
    return sizes


def _batches(hosts: tuple[str, ...], serial: tuple[int | str, ...]) -> tuple[Batch, ...]:
    out, start = [], 0
    for i, n in enumerate(batch_sizes(serial, len(hosts))):
        out.append(Batch(i, hosts[start:start + n]))
        start += n
    return tuple(out)


def target_hosts(step: Step, inventory: Inventory) -> tuple[Host, ...]:
    kind = kinds.get(step.kind)
    if step.targets.hosts:
        missing = [h for h in step.targets.hosts if h not in {x.name for x in inventory.hosts}]
        if missing:
            raise InvalidInput(f"step {step.id!r} ({step.pos}) targets unknown host(s) "
                               f"{', '.join(missing)} not in {inventory.path}")
        hosts = tuple(inventory.host(h) for h in step.targets.hosts)
    elif step.targets.roles:
        hosts = tuple(h for h in inventory.hosts if set(step.targets.roles) & set(h.roles))
    else:
        hosts = kind.default_hosts(step, inventory)
    if kind.placement == "once" or step.targets.once:
        preferred = [h for h in hosts if kind.once_role in h.roles] if kind.once_role else []
        hosts = tuple((preferred or list(hosts))[:1])
    return hosts


# --------------------------------------------------------------------------- build


def base_context(runbook: Runbook, inventory: Inventory, flavor: Flavor, catalog: Catalog,
                 params: Mapping[str, Any], run_id: str = "PLANNED") -> dict[str, Any]:
    return {
        "params": dict(params),
        "release": {"from": catalog.get(runbook.metadata.from_).as_dict(),
                    "to": catalog.get(runbook.metadata.to).as_dict()},
        "deployment": inventory.deployment,
        "run": {"id": run_id},
        "outputs": {},
    }


def host_context(base: Mapping[str, Any], flavor: Flavor, inventory: Inventory,
                 host: Host | None) -> dict[str, Any]:
    vars_: dict[str, Any] = {**flavor.vars, **inventory.vars}
    if host is not None:
        vars_.update(host.vars)
    return {**base, "vars": vars_,
            "host": host.as_context() if host else {"name": LOCAL, "address": "localhost",
                                                     "roles": [], "vars": {}}}


def build_plan(runbook: Runbook, inventory: Inventory, flavor: Flavor, catalog: Catalog,
               params: Mapping[str, Any], history: Mapping[str, float] | None = None) -> Plan:
    history = history or {}
    base = base_context(runbook, inventory, flavor, catalog, params)
    planned: list[PlannedStep] = []
    for phase, seq in (("main", runbook.steps), ("rollback", runbook.rollback),
                       ("finally", runbook.finally_)):
        for step in seq:
            kind = kinds.get(step.kind)
            if kind.placement == "local":
                hosts: tuple[str, ...] = (LOCAL,)
                host_objs: tuple[Host | None, ...] = (None,)
            else:
                hs = target_hosts(step, inventory)
                hosts, host_objs = tuple(h.name for h in hs), hs
            commands: dict[str, tuple[str, ...]] = {}
            deferred = kind.uses_outputs(step)
            for name, h in zip(hosts, host_objs):
                ctx = host_context(base, flavor, inventory, h)
                commands[name] = tuple(kind.describe(step, flavor, ctx, h, deferred=deferred))
            placement = "local" if kind.placement == "local" else (
                "once" if (kind.placement == "once" or step.targets.once) else "hosts")
            planned.append(PlannedStep(
                id=step.id, name=step.name, kind=step.kind, phase=phase, placement=placement,
                hosts=hosts, batches=_batches(hosts, step.serial if placement == "hosts" else ()),
                commands=commands, deferred=deferred, when=step.when,
                approval=(step.with_.get("message") if step.kind == "approval" else None),
                data_plane_impact=step.data_plane_impact or step.with_.get("data_plane_impact"),
                timeout=step.timeout, attempts=step.retry.attempts, on_failure=step.on_failure,
                idempotent=step.idempotent, description=step.description,
                estimate=history.get(step.id),
                action=step.with_.get("action") if step.kind in (
                    "service", "packages", "db_migrate") else None,
            ))
    secret = tuple(runbook.secret_params)
    return Plan(
        runbook=runbook.metadata.name, runbook_path=runbook.path,
        runbook_sha256=runbook.sha256, revision=runbook.metadata.revision,
        from_release=base["release"]["from"], to_release=base["release"]["to"],
        deployment=inventory.deployment, inventory_path=inventory.path, flavor=flavor.name,
        hosts=tuple({"name": h.name, "address": h.address, "port": h.port,
                     "roles": list(h.roles)} for h in inventory.hosts),
        params={k: ("***" if k in secret else v) for k, v in params.items()},
        secret_params=secret, steps=tuple(planned), catalog_version=catalog.version,
    )
