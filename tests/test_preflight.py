"""Preflight: prerequisites planned per step and host, checked exactly as planned, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.errors import PreflightFailed
from octavia_upgrade.flavors import load_flavor
from octavia_upgrade.inventory import load_inventory
from octavia_upgrade.loader import load_runbook
from octavia_upgrade.plan import build_plan, resolve_params
from octavia_upgrade.resources import runbooks_dir
from octavia_upgrade.session.preflight import require, run_checks
from octavia_upgrade.testing import FakePool, FakeTransport, result

CATALOG = load_catalog()
INVENTORY = """apiVersion: octavia-upgrade/v1
kind: Inventory
deployment: t
flavor: {flavor}
hosts:
  ctl1: {{address: 192.0.2.11, roles: [api, worker, db-migrate]}}
  hm1: {{address: 192.0.2.21, roles: [health-manager, housekeeping]}}
"""


def plan_for(tmp_path: Path, flavor: str, **params: object):  # type: ignore[no-untyped-def]
    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY.format(flavor=flavor))
    rb = load_runbook(runbooks_dir() / "dalmatian-to-epoxy.yaml", catalog=CATALOG)
    return build_plan(rb, load_inventory(inv), load_flavor(flavor), CATALOG,
                      resolve_params(rb, params))


def test_each_service_step_needs_its_units_on_its_hosts_only(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "venv")
    stop_hm = plan.step("stop-health-manager").prerequisites
    assert [(p.host, p.description) for p in stop_hm] == [
        ("hm1", "systemd unit octavia-health-manager exists")]
    # no host of this inventory runs a driver agent: nothing to check or stop for it
    assert plan.step("stop-driver-agent").hosts == ()
    assert not any("driver-agent" in c.description for c in plan.preflight())


def test_checks_are_collected_once_per_host_and_command(tmp_path: Path) -> None:
    checks = plan_for(tmp_path, "venv").preflight()
    keys = [(c.host, c.check) for c in checks]
    assert len(keys) == len(set(keys))
    api = next(c for c in checks if c.description == "systemd unit octavia-api exists")
    assert api.host == "ctl1" and "stop-api" in api.steps and "start-services" in api.steps


def test_a_step_off_at_planning_needs_nothing_one_decided_by_outputs_only_warns(
        tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "venv", backup="false")
    assert plan.step("db-backup").prerequisites == ()
    on = plan_for(tmp_path, "venv")
    assert all(p.when is None for p in on.step("db-backup").prerequisites)
    persist = on.step("db-backup-persistence").prerequisites
    assert persist and all(p.when and "read-jobboard" in p.when for p in persist)


def test_the_checks_sent_are_the_planned_ones_and_every_missing_item_is_listed(
        tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "kolla")
    ctl1 = FakeTransport("ctl1").on(r"container inspect octavia_worker", result(1, stderr="no"))
    hm1 = FakeTransport("hm1").on(r"container inspect octavia_housekeeping",
                                  result(1, stderr="Error: No such container"))
    for host in (ctl1, hm1):  # what a shell answers to the planned `test -n ''`
        host.on(r"^test -n ''$", result(1))
    pool = FakePool(ctl1=ctl1, hm1=hm1)
    local = FakeTransport("local")
    with pytest.raises(PreflightFailed) as err:
        require(plan, pool.get, local)
    missing = {(h, d) for h, d, _s, _w in err.value.missing}
    assert ("ctl1", "container octavia_worker exists (docker)") in missing
    assert ("hm1", "container octavia_housekeeping exists (docker)") in missing
    # the recreate prerequisite of the kolla flavor is found too, on every host
    assert ("ctl1", "vars.kolla_recreate_command is set (it has kolla-ansible recreate the "
                    "containers on the new images)") in missing
    assert "Error: No such container" in str(err.value)
    sent = {("ctl1", c) for c in ctl1.commands} | {("hm1", c) for c in hm1.commands}
    assert sent == {(c.host, c.check) for c in plan.preflight()}


def test_an_unreachable_host_makes_each_of_its_items_missing(tmp_path: Path) -> None:
    from octavia_upgrade.errors import HostUnreachable

    plan = plan_for(tmp_path, "venv")

    def get(name: str):  # type: ignore[no-untyped-def]
        if name == "hm1":
            raise HostUnreachable("no route to host", host="hm1", address="192.0.2.21", port=22)
        return FakeTransport(name)

    results = run_checks(plan, get, FakeTransport("local"))
    down = [r for r in results if r.check.host == "hm1"]
    assert down and all(not r.ok and "unreachable" in r.why for r in down)
    assert all(r.ok for r in results if r.check.host == "ctl1")
