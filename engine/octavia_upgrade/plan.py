"""The plan: a runbook resolved against an inventory and a flavor.

``build_plan`` is pure: it decides which hosts each step runs on, in which
batches, and renders the commands each (step, host) will run. The same
:class:`Plan` object is printed by ``plan``, shown by ``run --dry-run``,
stored with each run, executed by the executor and summarised in reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from octavia_upgrade import kolla
from octavia_upgrade import steps as kinds
from octavia_upgrade.catalog import Catalog
from octavia_upgrade.errors import Diagnostic, InvalidInput
from octavia_upgrade.hostaccess import host_entry
from octavia_upgrade.model import Flavor, Host, Inventory, Retry, Runbook, Step
from octavia_upgrade.commands import RUN_ID_TOKEN, PlannedCommand, Prerequisite
from octavia_upgrade.steps.args import Args
from octavia_upgrade.wording import plural

if TYPE_CHECKING:
    from octavia_upgrade.preflight import PreflightCheck

__all__ = ["LOCAL", "PLAN_SCHEMA_VERSION", "RUN_ID_TOKEN", "Batch", "Plan", "PlannedCommand",
           "PlannedStep", "build_plan", "resolve_params"]

#: Pseudo host name for steps that run on the operator's machine.
LOCAL = "local"

#: Version of the plan's stored shape (``Plan.to_dict``); bumped when it changes.
#: A resumed run's stored plan is compared with a fresh one only when the
#: versions agree (2: commands with keys, typed step arguments, retry policy;
#: 3: each host's login user, ``become`` and ``proxy_jump``, see ``hostaccess``;
#: 4: each step's ``prerequisites``, checked by the preflight).
PLAN_SCHEMA_VERSION = 4


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
    #: What each host will be sent, in order (secrets redacted only when displayed).
    commands: Mapping[str, tuple[PlannedCommand, ...]]
    #: The kind's typed arguments (``with:``), parsed once at load.
    args: Args
    #: True when commands depend on earlier outputs and are rendered at run time.
    deferred: bool = False
    when: str | None = None
    data_plane_impact: str | None = None
    timeout: float | None = None
    retry: Retry = field(default_factory=Retry)
    on_failure: str = "abort"
    idempotent: bool = False
    description: str = ""
    estimate: float | None = None
    #: What the step needs on each host, checked by the preflight before the run starts.
    prerequisites: tuple[Prerequisite, ...] = ()

    @property
    def attempts(self) -> int:
        return self.retry.attempts

    @property
    def action(self) -> str | None:
        """For ``service``/``packages``/``db_migrate`` steps: stop, start, upgrade..."""
        return getattr(self.args, "action", None) if self.kind in (
            "service", "packages", "db_migrate") else None

    @property
    def approval(self) -> str | None:
        """An approval step's message as planned (a template when it needs outputs)."""
        if self.kind != "approval":
            return None
        for cmds in self.commands.values():
            for c in cmds:
                return c.text.removeprefix("APPROVAL: ")
        return None

    def lines(self, host: str) -> tuple[str, ...]:
        """What ``plan`` shows for ``host``: each command with its note."""
        return tuple(c.display for c in self.commands.get(host, ()))

    def command(self, host: str, key: str) -> PlannedCommand:
        for c in self.commands.get(host, ()):
            if c.key == key:
                return c
        raise KeyError(f"step {self.id} has no planned command {key!r} for {host}")


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
    #: Every inventory host: name, address, port, roles, and how it is reached
    #: (login ``user``, ``become``, ``proxy_jump``; :func:`~octavia_upgrade.hostaccess.host_entry`).
    hosts: tuple[Mapping[str, Any], ...]
    params: Mapping[str, Any]
    secret_params: tuple[str, ...]
    steps: tuple[PlannedStep, ...]
    catalog_version: str = ""
    #: Failed hosts tolerated before the run aborts (None = the step policy decides).
    max_failures: int | None = None
    schema_version: int = PLAN_SCHEMA_VERSION

    def phase(self, name: str) -> tuple[PlannedStep, ...]:
        return tuple(s for s in self.steps if s.phase == name)

    def preflight(self) -> tuple[PreflightCheck, ...]:
        """Every prerequisite of every step, once per (host, check), in plan order."""
        from octavia_upgrade.preflight import collect

        return collect(self.steps)

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
        d = asdict(self)
        for s, ps in zip(d["steps"], self.steps):
            s["args"] = ps.args.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        """The plan stored with a run. Plans of schema 1 (before commands had keys
        and steps typed arguments) read back with keyless commands and no arguments."""
        steps = tuple(PlannedStep(**_step_fields(s)) for s in d["steps"])
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in d.items() if k in known},
                      "hosts": tuple(d["hosts"]), "secret_params": tuple(d["secret_params"]),
                      "steps": steps, "schema_version": d.get("schema_version", 1)})


def _step_fields(s: Mapping[str, Any]) -> dict[str, Any]:
    from octavia_upgrade.steps.args import ARGS

    known = {f.name for f in fields(PlannedStep)}
    out = {k: v for k, v in s.items() if k in known}
    out["hosts"] = tuple(s["hosts"])
    out["batches"] = tuple(Batch(b["index"], tuple(b["hosts"])) for b in s["batches"])
    out["commands"] = {h: tuple(PlannedCommand(**c) if isinstance(c, Mapping)
                                else PlannedCommand("", str(c)) for c in cs)
                       for h, cs in s["commands"].items()}
    out["args"] = ARGS[s["kind"]].parse(s["args"]) if "args" in s else Args()
    retry = s.get("retry") or {"attempts": s.get("attempts", 1)}
    out["retry"] = Retry(**retry)
    out["prerequisites"] = tuple(Prerequisite(**p) for p in s.get("prerequisites") or ())
    return out


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
        raise InvalidInput(f"{plural(len(unknown), 'unknown parameter')} for runbook "
                           f"{runbook.metadata.name}: {', '.join(unknown)} (declared: {known})")
    values: dict[str, Any] = {}
    for name, p in runbook.parameters.items():
        if isinstance(overrides.get(name), str) and "\0" in overrides[name]:
            raise InvalidInput(f"--param {name}: the value holds a NUL character (\\0), "
                               "which no command can carry")
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
            raise InvalidInput(f"step {step.id!r} ({step.pos}) targets "
                               f"{plural(len(missing), 'unknown host')} not in "
                               f"{inventory.path}: {', '.join(missing)}")
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
                 params: Mapping[str, Any], run_id: str = RUN_ID_TOKEN) -> dict[str, Any]:
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
    extra: dict[str, Any] = {}
    if kolla.is_kolla(vars_):
        extra["kolla"] = kolla.context(
            vars_, base["release"], host.roles if host else (),
            where=f"{inventory.path}: kolla settings (flavor {flavor.name} vars < inventory vars"
                  + (f" < host {host.name} vars)" if host else ")"))
    return {**base, **extra, "vars": vars_,
            "host": host.as_context() if host else {"name": LOCAL, "address": "localhost",
                                                     "roles": [], "vars": {}}}


def run_contexts(runbook: Runbook, inventory: Inventory, flavor: Flavor, catalog: Catalog,
                 params: Mapping[str, Any], run_id: str) -> dict[str, dict[str, Any]]:
    """Each host's template context for a run (and the operator machine's, as ``local``):
    what the executor renders run-time values with."""
    base = base_context(runbook, inventory, flavor, catalog, params, run_id)
    # The inventory's data-plane probes: an amphora_failover step probes a VIP through them.
    base["probe_urls"] = [p.url for p in inventory.probes]
    out = {h.name: host_context(base, flavor, inventory, h) for h in inventory.hosts}
    out[LOCAL] = host_context(base, flavor, inventory, None)
    return out


def _prerequisites_needed(step: Step, local_ctx: dict[str, Any]) -> bool | str:
    """Whether the step's prerequisites are checked: True (always), False (its ``when``
    is already false at planning: it will be skipped) or its ``when`` (decided only
    during the run, from earlier outputs)."""
    from octavia_upgrade import templating

    if not step.when:
        return True
    if any(r[0] == "outputs" for r in templating.references(step.when)):
        return step.when
    return bool(templating.evaluate(step.when, local_ctx))


def build_plan(runbook: Runbook, inventory: Inventory, flavor: Flavor, catalog: Catalog,
               params: Mapping[str, Any], history: Mapping[str, float] | None = None) -> Plan:
    """Place every step and expand its commands for each of its hosts, once.

    What this returns is what ``plan`` shows, what ``run --dry-run`` prints,
    what is stored with the run and what the executor sends.
    """
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
            deferred = kind.uses_outputs(step.args)
            commands: dict[str, tuple[PlannedCommand, ...]] = {}
            prereqs: list[Prerequisite] = []
            needed = _prerequisites_needed(step, host_context(base, flavor, inventory, None))
            extra = {"earlier": {p.id: p for p in planned}} if kind.needs_earlier else {}
            for name, h in zip(hosts, host_objs):
                ctx = host_context(base, flavor, inventory, h)
                try:
                    commands[name] = tuple(kind.expand(step, flavor, ctx, h, deferred=deferred,
                                                       **extra))
                    if needed is not False:
                        prereqs += [replace(p, when=needed) if isinstance(needed, str)
                                    else p for p in kind.prerequisites(step, flavor, ctx, h)]
                except InvalidInput as exc:
                    if exc.diagnostics:
                        raise
                    raise InvalidInput(str(exc), [Diagnostic(
                        step.pos.path, step.pos.line, step.pos.col, "template",
                        f"step {step.id!r} on {name}: {exc}")]) from None
            placement = "local" if kind.placement == "local" else (
                "once" if (kind.placement == "once" or step.targets.once) else "hosts")
            planned.append(PlannedStep(
                id=step.id, name=step.name, kind=step.kind, phase=phase, placement=placement,
                hosts=hosts, batches=_batches(hosts, step.serial if placement == "hosts" else ()),
                commands=commands, args=step.args, deferred=deferred, when=step.when,
                data_plane_impact=step.data_plane_impact or getattr(
                    step.args, "data_plane_impact", None),
                timeout=step.timeout, retry=step.retry, on_failure=step.on_failure,
                idempotent=step.idempotent, description=step.description,
                estimate=history.get(step.id), prerequisites=tuple(prereqs),
            ))
    secret = tuple(runbook.secret_params)
    return Plan(
        runbook=runbook.metadata.name, runbook_path=runbook.path,
        runbook_sha256=runbook.sha256, revision=runbook.metadata.revision,
        from_release=base["release"]["from"], to_release=base["release"]["to"],
        deployment=inventory.deployment, inventory_path=inventory.path, flavor=flavor.name,
        hosts=tuple(host_entry(h) for h in inventory.hosts),
        params={k: ("***" if k in secret else v) for k, v in params.items()},
        secret_params=secret, steps=tuple(planned), catalog_version=catalog.version,
        max_failures=runbook.max_failures,
    )
