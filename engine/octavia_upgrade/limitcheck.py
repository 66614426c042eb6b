"""Whether a ``--limit`` would split a step that must cover the whole control plane.

A cold upgrade stops every Octavia service, migrates the database once and
starts the services on the new code: run on part of the control plane, the
hosts left out keep old services running against a migrated schema (or never
stop while the schema changes). So, for a runbook with such steps, a limit
must keep:

- for each ``service`` step that stops, starts or restarts services: every
  host running one of its services;
- for each ``db_migrate`` step that changes the schema, and each ``backup``:
  the ``db-migrate`` host(s) (a limit that drops them would move the
  migration to another host, or skip it).

Otherwise the plan is refused (:class:`~octavia_upgrade.errors.LimitSplitsStep`,
exit 3) before anything is recorded or run, naming the step, the reason and
the hosts left out. Pure: a runbook and two host lists in, an error out.
"""

from __future__ import annotations

from collections.abc import Iterable

from octavia_upgrade.errors import LimitSplitsStep
from octavia_upgrade.model import Inventory, Runbook, Step


def check(runbook: Runbook, inventory: Inventory, kept: Iterable[str], limit: str) -> None:
    """Refuse ``limit`` (selecting ``kept`` of ``inventory``) if it splits a step.

    Raises:
        LimitSplitsStep: the first step (in run order) it would split.
    """
    keep = set(kept)
    for step in runbook.all_steps():
        needed, reason = _needs(step, inventory)
        left_out = [n for n in needed if n not in keep]
        if left_out:
            raise LimitSplitsStep(limit, step.id, reason, left_out)


def _needs(step: Step, inventory: Inventory) -> tuple[list[str], str]:
    args = step.args
    if step.kind == "service" and getattr(args, "action", "") in ("stop", "start", "restart"):
        hosts = [h.name for h in inventory.hosts if args.services_on(h.roles)]
        return hosts, (f"it {args.action}s Octavia services on every host that runs them, "
                       "and a cold upgrade must not leave old services running beside new ones")
    if step.kind == "db_migrate" and getattr(args, "action", "") != "current":
        hosts = [h.name for h in inventory.with_role("db-migrate")]
        return hosts, "the database migration runs once, on the db-migrate host"
    if step.kind == "backup":
        hosts = [h.name for h in inventory.with_role("db-migrate")]
        return hosts, "the database backup runs once, on the db-migrate host"
    return [], ""
