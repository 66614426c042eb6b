"""The wheel ships runbooks, schemas, flavors, examples and release data: used from outside
the checkout."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from fixtures.wheelenv import clean_env

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture
def installed(installed_venv: Path) -> Path:
    """The wheel in a fresh venv with its dependencies (tests/fixtures/wheelenv.py)."""
    return installed_venv


def run(env_dir: Path, *args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(env_dir / "bin" / "octavia-upgrade"), *args], cwd=cwd,
                          env=clean_env(**extra), capture_output=True, text=True, timeout=120)


def test_installed_package_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run([str(installed / "bin" / "python"), "-c",
                          "import octavia_upgrade, sys; print(octavia_upgrade.__file__)"],
                         cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert str(ROOT) not in out.stdout and "site-packages" in out.stdout


def test_shipped_runbooks_lint_from_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    shipped = next(installed.glob("lib/python*/site-packages/octavia_upgrade/_shipped/runbooks"))
    assert sorted(p.name for p in shipped.glob("*.yaml")) == sorted(
        p.name for p in (ROOT / "runbooks").glob("*.yaml"))
    res = run(installed, "lint", str(shipped), cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    # Without a path, lint checks the shipped runbooks.
    res = run(installed, "lint", cwd=tmp_path)
    assert res.returncode == 0 and f"{len(list(shipped.glob('*.yaml')))} files" in res.stderr


def test_schema_command_prints_the_shipped_schema(installed: Path, tmp_path: Path) -> None:
    res = run(installed, "schema", "runbook", cwd=tmp_path)
    assert res.returncode == 0
    schema = json.loads(res.stdout)
    assert schema["$id"] == "https://octavia-upgrade.dev/schemas/v1/runbook.schema.json"


def test_releases_lists_pike_first(installed: Path, tmp_path: Path) -> None:
    res = run(installed, "releases", "-f", "json", cwd=tmp_path)
    assert res.returncode == 0
    releases = json.loads(res.stdout)["releases"]
    assert releases[0]["series"] == "pike" and len(releases) > 10


def test_shipped_flavors_are_found_by_name(installed: Path, tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("apiVersion: octavia-upgrade/v1\nkind: Inventory\ndeployment: d\nflavor: deb\n"
                   "hosts:\n  a: {address: 127.0.0.1, roles: [api, db-migrate]}\n")
    res = run(installed, "lint", str(inv), cwd=tmp_path)
    assert res.returncode == 0, res.stdout


def test_examples_and_runbook_names_work_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    res = run(installed, "example", "config", cwd=tmp_path)
    assert res.returncode == 0
    assert res.stdout == (ROOT / "etc" / "octavia-upgrade.conf.sample").read_text()
    res = run(installed, "example", "inventory", "-o", "inventory.yaml", cwd=tmp_path)
    assert res.returncode == 0 and (tmp_path / "inventory.yaml").is_file()
    res = run(installed, "plan", "dalmatian-to-epoxy", "-i", "inventory.yaml", "--no-detect",
              cwd=tmp_path, OCTAVIA_UPGRADE_STATE_DIR=str(tmp_path / "state"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Plan: dalmatian-to-epoxy")
    res = run(installed, "example", "kolla", "--path", cwd=tmp_path)
    assert "site-packages/octavia_upgrade/_shipped/inventory/kolla/multinode" in res.stdout
    assert run(installed, "lint", res.stdout.strip(), cwd=tmp_path).returncode == 0


def test_the_lab_database_driver_is_installed_with_the_tool(installed: Path) -> None:
    done = subprocess.run([str(installed / "bin" / "python"), "-c", "import pymysql"],
                          capture_output=True, text=True, env=clean_env())
    assert done.returncode == 0, done.stderr
