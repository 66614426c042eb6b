"""The plan: hosts, batches and rendered commands, without touching any node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.flavors import load_flavor
from octavia_upgrade.inventory import load_inventory
from octavia_upgrade.inventory_source import InventorySource, open_inventory
from octavia_upgrade.loader import load_runbook
from octavia_upgrade.plan import (PLAN_SCHEMA_VERSION, Plan, batch_sizes, build_plan,
                                  resolve_params)

SIM_FLAVOR = Path(__file__).parent / "engine" / "sim" / "sim.yaml"


@pytest.mark.parametrize(("serial", "total", "expected"), [
    ((), 5, [5]),
    ((1,), 3, [1, 1, 1]),
    ((2,), 5, [2, 2, 1]),
    (("50%",), 5, [3, 2]),
    ((1, "50%", "100%"), 6, [1, 3, 2]),
    ((1, "100%"), 1, [1]),
    (("30%",), 10, [3, 3, 3, 1]),
])
def test_batch_sizes(serial, total, expected) -> None:
    assert batch_sizes(serial, total) == expected
    assert sum(batch_sizes(serial, total)) == total


def _write(tmp: Path, name: str, doc: dict) -> Path:
    p = tmp / f"{name}.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


@pytest.fixture
def world(tmp_path: Path):
    inv = _write(tmp_path, "inv", {
        "apiVersion": "octavia-upgrade/v1", "kind": "Inventory", "deployment": "prod",
        "flavor": str(SIM_FLAVOR), "vars": {"sim": "/opt/sim.sh", "root": "/srv/sim"},
        "hosts": {
            "ctl1": {"address": "192.0.2.11", "roles": ["api", "worker", "db-migrate"]},
            "ctl2": {"address": "192.0.2.12", "roles": ["api", "worker"]},
            "hm1": {"address": "192.0.2.21", "roles": ["health-manager", "housekeeping"]},
        }})
    rb = _write(tmp_path, "epoxy", {
        "apiVersion": "octavia-upgrade/v1", "kind": "Runbook",
        "metadata": {"name": "epoxy", "from": "dalmatian", "to": "epoxy", "revision": 3},
        "parameters": {"backup_dir": {"type": "string", "default": "/var/backups/octavia"},
                       "pw": {"type": "string", "secret": True, "default": "x"}},
        "steps": [
            {"id": "stop-api", "name": "Stop API", "kind": "service", "serial": 1,
             "with": {"action": "stop", "services": ["api"]}},
            {"id": "stop-hm", "name": "Stop HM", "kind": "service",
             "with": {"action": "stop", "services": ["health-manager"]}},
            {"id": "backup", "name": "Backup", "kind": "backup",
             "with": {"dest_dir": "{{ params.backup_dir }}"}},
            {"id": "pkgs", "name": "Packages", "kind": "packages", "serial": [1, "100%"]},
            {"id": "migrate", "name": "Migrate", "kind": "db_migrate"},
            {"id": "ok", "name": "Approve", "kind": "approval",
             "with": {"message": "go on?"}, "data_plane_impact": "none"},
            {"id": "echo", "name": "Echo", "kind": "command",
             "with": {"command": "echo {{ outputs.migrate.after }}"}},
        ]})
    catalog = load_catalog()
    runbook = load_runbook(rb, catalog=catalog)
    inventory = load_inventory(inv)
    flavor = load_flavor(inventory.flavor)
    return runbook, inventory, flavor, catalog


def test_plan_places_steps_on_the_right_hosts(world) -> None:
    runbook, inventory, flavor, catalog = world
    plan = build_plan(runbook, inventory, flavor, catalog, resolve_params(runbook, {}))
    by = {s.id: s for s in plan.steps}
    assert by["stop-api"].hosts == ("ctl1", "ctl2")
    assert [b.hosts for b in by["stop-api"].batches] == [("ctl1",), ("ctl2",)]
    assert by["stop-hm"].hosts == ("hm1",)
    assert by["backup"].hosts == ("ctl1",) and by["backup"].placement == "once"
    assert by["migrate"].hosts == ("ctl1",)
    assert [b.hosts for b in by["pkgs"].batches] == [("ctl1",), ("ctl2", "hm1")]
    assert by["ok"].placement == "local" and by["ok"].approval == "go on?"
    # commands come from the flavor, with the host's unit names and shell quoting
    assert [(c.key, c.text) for c in by["stop-api"].commands["ctl1"]] == [
        ("stop:api", "/opt/sim.sh /srv/sim ctl1 stop sim-api"),
        ("verify:api", "/opt/sim.sh /srv/sim ctl1 is-active sim-api")]
    # the run's id is known only when the run is recorded: the plan holds its token
    assert ("/var/backups/octavia/octavia-{{ run.id }}-backup.sql.gz"
            in by["backup"].command("ctl1", "dump").text)
    # epoxy's Octavia from the catalog: its newest point release
    from octavia_upgrade.catalog import load_catalog

    newest = load_catalog().get("epoxy").octavia_versions[-1]
    assert newest.startswith("16.") and newest in by["pkgs"].command("hm1", "upgrade").text
    # a command using an earlier step's outputs is rendered at run time from its template
    echo = by["echo"].command("ctl1", "command")
    assert by["echo"].deferred and echo.text == "echo {{ outputs.migrate.after }}"
    assert echo.render == "shell"
    assert plan.params["pw"] == "***"
    assert plan.estimated_total is None


def test_plan_round_trips_through_json_data(world) -> None:
    runbook, inventory, flavor, catalog = world
    plan = build_plan(runbook, inventory, flavor, catalog, resolve_params(runbook, {}),
                      history={s.id: 2.0 for s in runbook.steps})
    again = Plan.from_dict(plan.to_dict())
    assert again == plan
    assert plan.estimated_total == 2.0 * len(runbook.steps)


def test_unknown_and_badly_typed_params_are_refused(world) -> None:
    runbook = world[0]
    with pytest.raises(InvalidInput, match="^1 unknown parameter for runbook epoxy: nope "):
        resolve_params(runbook, {"nope": "1"})
    with pytest.raises(InvalidInput, match="^2 unknown parameters for runbook epoxy: nah, nope "):
        resolve_params(runbook, {"nope": "1", "nah": "2"})
    assert resolve_params(runbook, {"backup_dir": "/x"})["backup_dir"] == "/x"


def test_the_plan_says_how_each_host_is_reached_never_the_sudo_password(
        world, tmp_path: Path) -> None:
    """Login user, port, sudo and bastions are part of the plan (schema 3): the audit
    trail of a run, compared on resume, shown by the dry run and the reports."""
    runbook, _, flavor, catalog = world
    password = "Sudo-pw-58d1c0e2"
    inv = _write(tmp_path, "become", {
        "apiVersion": "octavia-upgrade/v1", "kind": "Inventory", "deployment": "prod",
        "flavor": str(SIM_FLAVOR), "vars": {"sim": "/opt/sim.sh", "root": "/srv/sim"},
        "become": True,
        "hosts": {
            "ctl1": {"address": "192.0.2.11", "user": "ops",
                     "roles": ["api", "worker", "db-migrate"]},
            "ctl2": {"address": "192.0.2.12", "user": "ops", "port": 2222,
                     "roles": ["api", "worker"],
                     "become": {"user": "octavia", "password": password}},
            "hm1": {"address": "192.0.2.21", "roles": ["health-manager", "housekeeping"],
                    "become": False},
        }})
    config = tmp_path / "ssh_config"
    config.write_text("Host 192.0.2.11\n  ProxyJump jump@bastion.example.org:2200,inner\n"
                      "Host inner\n  HostName 198.51.100.7\n  User hop\n")
    inventory = open_inventory(InventorySource(str(inv), ssh_config=str(config)))
    plan = build_plan(runbook, inventory, flavor, catalog, resolve_params(runbook, {}))
    assert plan.schema_version == PLAN_SCHEMA_VERSION == 4
    by = {h["name"]: h for h in plan.hosts}
    assert by["ctl1"] == {
        "name": "ctl1", "address": "192.0.2.11", "port": 22,
        "roles": ["api", "worker", "db-migrate"], "user": "ops",
        "become": {"method": "sudo", "user": "root", "password_given": False},
        "proxy_jump": [
            {"name": "bastion.example.org", "address": "bastion.example.org", "port": 2200,
             "user": "jump"},
            {"name": "inner", "address": "198.51.100.7", "port": 22, "user": "hop"}]}
    assert (by["ctl2"]["port"], by["ctl2"]["become"]) == (
        2222, {"method": "sudo", "user": "octavia", "password_given": True})
    assert (by["hm1"]["user"], by["hm1"]["become"], by["hm1"]["proxy_jump"]) == ("root", None, [])
    stored = json.dumps(plan.to_dict())
    assert password not in stored
    assert Plan.from_dict(json.loads(stored)) == plan
