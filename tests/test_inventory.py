"""inventory: schema + semantic checks and path resolution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from octavia_upgrade import inventory
from octavia_upgrade.errors import InvalidInput

GOOD = Path(__file__).parent / "corpus" / "good" / "inventories" / "lab.yaml"

BASE = """apiVersion: octavia-upgrade/v1
kind: Inventory
deployment: d1
flavor: {flavor}
hosts:
  a: {{address: 127.0.0.11, roles: [api, db-migrate]}}
  b: {{address: 127.0.0.12, roles: [worker]{extra}}}
"""


def write(tmp_path: Path, *, flavor: str = "f.yaml", extra: str = "") -> Path:
    (tmp_path / "f.yaml").write_text("kind: Flavor\n")
    path = tmp_path / "inv.yaml"
    path.write_text(BASE.format(flavor=flavor, extra=extra))
    return path


def test_good_inventory_builds_with_resolved_paths() -> None:
    inv = inventory.load_inventory(GOOD)
    folder = GOOD.parent.resolve()
    assert inv.deployment == "lab-east"
    assert inv.flavor == str((folder / "../flavors/testflavor.yaml").resolve())
    ctl1, ctl2 = inv.hosts
    assert ctl1.key_file == os.path.expanduser("~/.ssh/id_ed25519")
    assert ctl2.key_file == str(folder / "keys" / "id_ed25519")
    assert inv.ssh.known_hosts == str(folder / "keys" / "known_hosts")
    assert (ctl2.user, ctl2.port) == ("octavia", 2222)
    assert ctl2.vars == {"config_file": "/etc/octavia/other.conf"}
    assert inv.with_role("db-migrate") == (ctl1,)
    assert inv.probes[0].interval == 1.0 and inv.ssh.connect_timeout == 10.0
    assert inv.secrets == {"db_password": "s3cret"}
    assert (ctl1.pos.line, ctl1.pos.col) == (11, 3)


def test_duplicate_address_and_port(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text().replace("127.0.0.12", "127.0.0.11"))
    [diag] = inventory.check_inventory(path)
    assert (diag.rule, diag.line, diag.col) == ("duplicate-address", 7, 16)
    with pytest.raises(InvalidInput):
        inventory.load_inventory(path)


def test_same_address_on_other_port_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path, extra=", port: 2200")
    path.write_text(path.read_text().replace("127.0.0.12", "127.0.0.11"))
    assert inventory.check_inventory(path) == []


def test_no_db_migrate_host_is_only_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text().replace(", db-migrate", ""))
    [diag] = inventory.check_inventory(path)
    assert (diag.rule, diag.severity) == ("no-db-migrate", "warning")
    assert len(inventory.load_inventory(path).hosts) == 2


def test_flavor_names_and_paths(tmp_path: Path) -> None:
    assert [d.rule for d in inventory.check_inventory(write(tmp_path, flavor="nope.yaml"))] == [
        "unknown-flavor"]
    [diag] = inventory.check_inventory(write(tmp_path, flavor="debain"))
    assert diag.rule == "unknown-flavor" and (diag.line, diag.col) == (4, 9)


def test_unknown_role_is_positioned(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text().replace("[worker]", "[wroker]"))
    [diag] = inventory.check_inventory(path)
    assert (diag.rule, diag.line, diag.col) == ("unknown-role", 7, 36)
    assert "did you mean 'worker'" in diag.message


def test_resolve_path(tmp_path: Path) -> None:
    assert inventory.resolve_path("/abs/key", tmp_path) == "/abs/key"
    assert inventory.resolve_path("rel/key", tmp_path) == str(tmp_path.resolve() / "rel" / "key")
    assert inventory.resolve_path("~/k", tmp_path) == os.path.expanduser("~/k")
