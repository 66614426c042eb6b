"""Preflight: what every step needs, declared at planning, checked before anything changes.

Each step kind declares its prerequisites when the plan is built
(:meth:`Kind.prerequisites <octavia_upgrade.steps.base.Kind.prerequisites>`):
for each of its hosts, the flavor's ``preflight`` entries for that kind,
rendered with the kind's extra variables (:data:`EXTRAS`; a ``service``
step once per service it acts on there). They are part of the plan
(``PlannedStep.prerequisites``): ``plan -f json``, ``run --dry-run`` and the
plan report show them, and the preflight (``session.preflight``) sends
exactly these commands, in parallel per host, before the first step. Every
missing item is listed at once; the run is refused (exit 3) and nothing has
changed.

A flavor's entry::

    preflight:
      service:
        - description: "container {{ unit }} exists"
          check: "{{ kolla.engine }} container inspect {{ unit }} >/dev/null"
      packages:
        - description: kolla-ansible on the operator machine
          check: command -v kolla-ansible
          where: local          # host (default): the step's hosts | local: the operator machine

Checks read only what is known at planning (no ``outputs``, no ``run``) and
must not change anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from octavia_upgrade.commands import Prerequisite

if TYPE_CHECKING:
    from octavia_upgrade.model import Flavor
    from octavia_upgrade.plan import PlannedStep

#: Step kind → the extra variables its preflight templates see.
EXTRAS: dict[str, tuple[str, ...]] = {
    "command": (), "local": (), "service": ("unit", "service"),
    "packages": (), "backup": ("dest_dir", "database"),
    "config_check": (), "db_migrate": (), "upgrade_check": (), "wait": (),
    "assert": (), "approval": (), "sleep": (),
}

#: Pseudo host of the operator machine (as ``plan.LOCAL``).
LOCAL = "local"


@dataclass(frozen=True)
class PreflightCheck:
    """One check the preflight sends: a (host, command) pair and the steps that need it."""

    host: str
    description: str
    check: str
    steps: tuple[str, ...]
    #: Set when every step needing it runs only if this condition (over earlier
    #: outputs) holds: then a missing item is a warning, not a refusal.
    when: str | None = None


def render(flavor: Flavor, kind: str, ctx: Mapping[str, Any], host: str,
           extras: Iterable[Mapping[str, Any]]) -> list[Prerequisite]:
    """The flavor's ``preflight`` entries of ``kind``, once per ``extras`` mapping."""
    from octavia_upgrade.templating import render_command, render_value

    entries = flavor.preflight.get(kind, ())
    out: list[Prerequisite] = []
    for extra in extras:
        full = {"vars": dict(flavor.vars), **ctx, **extra}
        for e in entries:
            where = LOCAL if e.get("where") == "local" else host
            out.append(Prerequisite(where, render_value(e["description"], full),
                                    render_command(e["check"], full)))
    return out


def collect(steps: Iterable[PlannedStep]) -> tuple[PreflightCheck, ...]:
    """Every step's prerequisites, one check per (host, command), in plan order.

    A check is conditional (``when``) only if every step that needs it is.
    """
    found: dict[tuple[str, str], tuple[str, list[str], list[str | None]]] = {}
    for s in steps:
        for p in s.prerequisites:
            desc, ids, whens = found.setdefault((p.host, p.check), (p.description, [], []))
            if s.id not in ids:
                ids.append(s.id)
            whens.append(p.when)
    return tuple(PreflightCheck(host, desc, check, tuple(ids),
                                None if None in whens else whens[0])
                 for (host, check), (desc, ids, whens) in found.items())


def failures_message(missing: Iterable[tuple[PreflightCheck, str]]) -> str:
    """The refusal: every missing item with its host, one per line."""
    items = list(missing)
    from octavia_upgrade.wording import plural

    lines = [f"preflight: {plural(len(items), 'prerequisite')} missing; nothing was changed:"]
    for c, why in items:
        lines.append(f"  {c.host}: {c.description} (needed by {', '.join(c.steps)})"
                     + (f": {why}" if why else ""))
    return "\n".join(lines)


def warnings(missing: Iterable[tuple[PreflightCheck, str]]) -> list[str]:
    """Missing items needed only under a condition decided during the run."""
    return [f"preflight: {c.host}: {c.description} is missing (needed by "
            f"{', '.join(c.steps)} only if {c.when})" + (f": {why}" if why else "")
            for c, why in missing]
