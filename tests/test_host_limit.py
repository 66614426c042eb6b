"""``--limit`` takes Ansible host patterns, and a limit that would split a cold upgrade's
whole-control-plane steps is refused before anything is recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from octavia_upgrade import hostpattern
from octavia_upgrade.errors import InvalidInput, LimitSplitsStep, UnknownHosts
from octavia_upgrade.inventory_source import InventorySource, open_inventory
from octavia_upgrade.model import Host, Inventory
from octavia_upgrade.session import prepare

ROOT = Path(__file__).resolve().parents[1]
MULTINODE = ROOT / "tests" / "fixtures" / "inventories" / "kolla-multinode"
RUNBOOK = ROOT / "runbooks" / "dalmatian-to-epoxy.yaml"


@pytest.fixture
def inv(tmp_path: Path) -> Inventory:
    """Three controllers and a fourth host that runs only the API, in Ansible groups."""
    path = tmp_path / "hosts"
    path.write_text(
        "[control]\nctl01 ansible_host=127.0.0.11\nctl02 ansible_host=127.0.0.12\n"
        "ctl03 ansible_host=127.0.0.13\n[edge]\napi-edge1 ansible_host=127.0.0.21\n"
        "[octavia:children]\ncontrol\n[octavia-api:children]\noctavia\nedge\n"
        "[octavia-worker:children]\noctavia\n")
    return open_inventory(InventorySource(str(path), use_ssh_config=False))


@pytest.mark.parametrize("limit, expected", [
    ("ctl02", ["ctl02"]),
    ("ctl01,ctl03", ["ctl01", "ctl03"]),
    ("control", ["ctl01", "ctl02", "ctl03"]),
    ("edge:ctl01", ["ctl01", "api-edge1"]),
    ("octavia-api:&control", ["ctl01", "ctl02", "ctl03"]),
    ("octavia-api:!control", ["api-edge1"]),
    ("all:!ctl02", ["ctl01", "ctl03", "api-edge1"]),
    ("!edge", ["ctl01", "ctl02", "ctl03"]),
    ("ctl0*", ["ctl01", "ctl02", "ctl03"]),
    ("*", ["ctl01", "ctl02", "ctl03", "api-edge1"]),
    ("~ctl0[12]", ["ctl01", "ctl02"]),
    ("octavia-w*", ["ctl01", "ctl02", "ctl03"]),
])
def test_ansible_patterns_select_hosts(inv: Inventory, limit: str, expected: list[str]) -> None:
    assert hostpattern.select(inv, limit) == expected


@pytest.mark.parametrize("limit, error", [
    ("ctl09", UnknownHosts),
    ("web*", InvalidInput),
    ("control:&edge", InvalidInput),
    ("~ctl[", InvalidInput),
    (",", InvalidInput),
    ("control:!", InvalidInput),
    ("control[0]", InvalidInput),
    ("control[0:1]", InvalidInput),
])
def test_patterns_that_select_nothing_are_errors(inv: Inventory, limit: str,
                                                 error: type[Exception]) -> None:
    with pytest.raises(error):
        hostpattern.select(inv, limit)


def test_roles_are_the_groups_of_an_octavia_upgrade_inventory() -> None:
    inv = Inventory(path="inv.yaml", deployment="d", flavor="deb", hosts=(
        Host("a", "127.0.0.1", roles=("api", "db-migrate")), Host("b", "127.0.0.2",
                                                                  roles=("worker",))))
    assert hostpattern.select(inv, "worker") == ["b"]
    assert hostpattern.select(inv, "all:!db-migrate") == ["b"]


def test_a_limit_that_splits_the_control_plane_is_refused_with_the_hosts_left_out() -> None:
    with pytest.raises(LimitSplitsStep) as err:
        prepare(str(RUNBOOK), InventorySource(str(MULTINODE), use_ssh_config=False), {},
                limit="control02")
    assert err.value.exit_code == 3
    assert err.value.left_out == ["control01", "control03"]
    assert err.value.step_id.startswith("stop-")
    assert "hosts left out: control01, control03" in str(err.value)


def test_a_limit_that_keeps_the_db_migrate_host_out_is_refused_for_the_migration(
        tmp_path: Path) -> None:
    # db1 runs no service, only the backup and the migration: the service steps are
    # whole without it, the migration is not.
    path = tmp_path / "inv.yaml"
    path.write_text(
        "apiVersion: octavia-upgrade/v1\nkind: Inventory\ndeployment: d\nflavor: deb\n"
        "hosts:\n"
        "  db1: {address: 127.0.0.31, roles: [db-migrate]}\n"
        "  ctl1: {address: 127.0.0.32, roles: [api, worker, health-manager, housekeeping,"
        " driver-agent]}\n")
    with pytest.raises(LimitSplitsStep) as err:
        prepare(str(RUNBOOK), str(path), {}, limit="ctl1")
    assert err.value.left_out == ["db1"]
    assert "db-migrate host" in err.value.reason


def test_a_limit_covering_the_whole_control_plane_plans(tmp_path: Path) -> None:
    prep = prepare(str(RUNBOOK), InventorySource(str(MULTINODE), use_ssh_config=False), {},
                   limit="octavia")
    assert [h.name for h in prep.inventory.hosts] == ["control01", "control02", "control03"]
