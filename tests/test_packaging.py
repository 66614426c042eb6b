"""The wheel ships runbooks, schemas, flavors and release data: used from outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (reusing the system site-packages for dependencies) with the wheel."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    # Build offline when the backend is installed; otherwise `build` fetches it
    # into an isolated environment from the package index.
    try:
        import hatchling  # noqa: F401
        isolation = ["--no-isolation"]
    except ImportError:
        isolation = []
    res = subprocess.run([sys.executable, "-m", "build", "--wheel", *isolation,
                          "--outdir", str(dist), str(ROOT)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    [wheel] = dist.glob("octavia_upgrade-*.whl")
    env_dir = base / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--no-deps", "--no-index", "--quiet", str(wheel)],
                   check=True, capture_output=True, text=True, timeout=300)
    return env_dir


def run(env_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(env_dir / "bin" / "octavia-upgrade"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


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
