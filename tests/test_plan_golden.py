"""Golden files: the exact commands every runbook renders for each deployment flavor.

A change to a runbook, a flavor or the planner shows up here as a readable
diff of the commands an operator's nodes would run. Regenerate with
``UPDATE_GOLDEN=1`` after reviewing the change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.flavors import load_flavor
from octavia_upgrade.inventory import load_inventory
from octavia_upgrade.loader import load_runbook
from octavia_upgrade.plan import build_plan, resolve_params
from octavia_upgrade.resources import runbooks_dir

GOLDEN = Path(__file__).parent / "golden" / "plans"
FLAVORS = ("deb", "rdo", "devstack", "kolla", "venv", "osa")
CATALOG = load_catalog()
RUNBOOKS = sorted(p.stem for p in runbooks_dir().glob("*.yaml"))

INVENTORY = """apiVersion: octavia-upgrade/v1
kind: Inventory
deployment: rehearsal
flavor: {flavor}
hosts:
  ctl1: {{address: 192.0.2.11, roles: [api, worker, db-migrate]}}
  ctl2: {{address: 192.0.2.12, roles: [api, worker]}}
  hm1: {{address: 192.0.2.21, roles: [health-manager, housekeeping, driver-agent]}}
"""


def render(runbook: str, flavor: str, tmp: Path) -> str:
    inv_path = tmp / f"{flavor}.yaml"
    inv_path.write_text(INVENTORY.format(flavor=flavor), encoding="utf-8")
    inv = load_inventory(inv_path)
    rb = load_runbook(runbooks_dir() / f"{runbook}.yaml", catalog=CATALOG)
    plan = build_plan(rb, inv, load_flavor(flavor), CATALOG, resolve_params(rb, {}))
    lines = [f"# {runbook} with the {flavor} flavor"]
    for ps in plan.steps:
        batches = " | ".join(",".join(b.hosts) for b in ps.batches)
        lines.append(f"\n[{ps.phase}] {ps.id} ({ps.kind}) on {batches or '-'}"
                     + (f" when {ps.when}" if ps.when else ""))
        for host in ps.commands:
            lines.extend(f"  {host}: {c}" for c in ps.lines(host))
        lines.extend(f"  {p.host}: preflight: {p.description}: {p.check}"
                     for p in ps.prerequisites)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("runbook", RUNBOOKS)
def test_rendered_commands_match_golden(runbook: str, flavor: str, tmp_path: Path) -> None:
    got = render(runbook, flavor, tmp_path)
    path = GOLDEN / flavor / f"{runbook}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}: run with UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")
