"""Preparing a run: load and validate the files, limit the hosts, build the plan.

No I/O beyond reading files: the plan that comes out is what ``plan``
prints, what a change board approves and what ``run`` executes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia_upgrade.catalog import Catalog, load_catalog
from octavia_upgrade.errors import ParamSyntaxError
from octavia_upgrade.model import Flavor, Inventory, Runbook
from octavia_upgrade.plan import Plan, build_plan, resolve_params

if TYPE_CHECKING:
    from octavia_upgrade.detect import Detection
    from octavia_upgrade.inventory_source import InventorySource

#: How a secret value is shown wherever it is recorded or printed.
MASK = "***"


@dataclass
class Prepared:
    runbook: Runbook
    inventory: Inventory
    flavor: Flavor
    catalog: Catalog
    params: dict[str, Any]
    plan: Plan
    source: InventorySource | None = None  # how the inventory was read (None: a test's Inventory)
    #: The deployed release, when it was detected (``plan``, ``run``).
    detected: Detection | None = None
    #: What the caller should know but that did not stop the planning.
    warnings: tuple[str, ...] = ()
    #: The outage to expect from earlier runs of the hop (an
    #: :class:`~octavia_upgrade.reports.model.OutagePrediction`; None: not looked up).
    predicted_outage: Any = None
    #: The preflight checks' results when ``plan`` ran them (read-only); None: not run.
    preflight: tuple[Any, ...] | None = None


def parse_param_args(items: list[str] | None) -> dict[str, str]:
    """``["name=value", ...]`` → ``{"name": "value"}``.

    Raises:
        ParamSyntaxError: an item has no ``=`` or no name (``.item`` says which).
    """
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParamSyntaxError(item)
        out[key.strip()] = value
    return out


def limit_hosts(inventory: Inventory, limit: str | None,
                runbook: Runbook | None = None) -> Inventory:
    """The inventory restricted to the hosts the Ansible host pattern ``limit`` selects
    (:mod:`~octavia_upgrade.hostpattern`: groups, hosts, ``a:b``, ``a:&b``, ``a:!b``,
    wildcards, commas).

    Raises:
        UnknownHosts: a name is neither a host nor a group (``.names``, ``.known``).
        InvalidInput: a pattern that is malformed or selects no host.
        LimitSplitsStep: (``runbook`` given) the limit would split a step that must
            cover the whole control plane (:mod:`~octavia_upgrade.limitcheck`).
    """
    from octavia_upgrade import hostpattern, limitcheck

    if not limit:
        return inventory
    names = hostpattern.select(inventory, limit)
    if runbook is not None:
        limitcheck.check(runbook, inventory, names, limit)
    return replace(inventory, hosts=tuple(h for h in inventory.hosts if h.name in names))


def prepare(runbook_path: str, inventory_path: Any, overrides: Mapping[str, Any],
            history: Mapping[str, float] | None = None, limit: str | None = None) -> Prepared:
    """Load and validate everything, and build the plan. No I/O beyond reading files.

    ``inventory_path`` is a path or an :class:`~octavia_upgrade.inventory_source.InventorySource`.
    """
    from octavia_upgrade.flavors import load_flavor
    from octavia_upgrade.inventory_source import InventorySource, open_inventory
    from octavia_upgrade.loader import load_runbook

    catalog = load_catalog()
    runbook = load_runbook(runbook_path, catalog=catalog)
    source = (inventory_path if isinstance(inventory_path, InventorySource)
              else InventorySource(str(inventory_path)))
    inventory = limit_hosts(open_inventory(source), limit, runbook)
    flavor = load_flavor(inventory.flavor)
    params = resolve_params(runbook, overrides)
    plan = build_plan(runbook, inventory, flavor, catalog, params, history)
    return Prepared(runbook, inventory, flavor, catalog, params, plan, source,
                    warnings=inventory.warnings)


def with_absolute_paths(prep: Prepared) -> Prepared:
    """``prep`` with the runbook's and the inventory's paths absolute, and its plan rebuilt.

    A run records both; ``resume`` reads them again, from whatever directory
    it is started in, and must rebuild the same plan. Files are not read
    again, and messages about the files keep the paths as the operator gave them.
    """
    def resolved(path: str) -> str:
        return str(Path(path).expanduser().resolve())

    runbook = replace(prep.runbook, path=resolved(prep.runbook.path))
    inventory = replace(prep.inventory, path=resolved(prep.inventory.path))
    source = replace(prep.source, path=resolved(prep.source.path)) if prep.source else None
    plan = build_plan(runbook, inventory, prep.flavor, prep.catalog, prep.params)
    return replace(prep, runbook=runbook, inventory=inventory, source=source, plan=plan)


def replan(prep: Prepared, history: Mapping[str, float]) -> Prepared:
    """``prep`` with its plan rebuilt from step-duration history (files are not read again)."""
    return replace(prep, plan=build_plan(prep.runbook, prep.inventory, prep.flavor,
                                         prep.catalog, prep.params, history))


def secret_values(prepared: Prepared) -> list[str]:
    """Every secret the plan's inputs hold: secret parameters, inventory secrets, sudo
    passwords, and variables whose names look secret."""
    vals = [str(prepared.params[n]) for n in prepared.runbook.secret_params
            if prepared.params.get(n) not in (None, "")]
    vals += [str(v) for v in _leaves(prepared.inventory.secrets) if v not in (None, "")]
    vals += [h.become.password for h in prepared.inventory.hosts
             if h.become is not None and h.become.password]
    from octavia_upgrade.inventory import secret_var_values  # variables named like secrets

    vals += secret_var_values(prepared.inventory, prepared.flavor)
    return vals


def masked_params(runbook: Runbook, given: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as given, with the values of secret ones masked."""
    secret = set(runbook.secret_params)
    return {k: (MASK if k in secret else v) for k, v in given.items()}


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _leaves(v)]
    return [value]
