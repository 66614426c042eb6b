"""The venv flavor's prepare phase over real SSH: stage → verify → activate → revert.

A bare lab node (real sshd) holds a venv layout like a production one: a
"Dalmatian" venv at ``vars.venv`` made with ``python3 -m venv`` and ``pip``
from a local wheelhouse of stand-in ``octavia``/``octavia-lib`` wheels (real
wheels, console scripts included). The shipped venv flavor's commands run
unchanged against it; only its paths point into the test's folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(not Path(PYTHON).exists(), reason=f"{PYTHON} is missing")


def _wheel(wh: Path, name: str, version: str, module: str, scripts: dict[str, str]) -> None:
    """A minimal, valid pure-Python wheel (what pip installs offline)."""
    dist = f"{name.replace('-', '_')}-{version}"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n\ndef main():\n    print(VERSION)\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                   "Tag: py3-none-any\n",
        f"{dist}.dist-info/entry_points.txt": "[console_scripts]\n" + "".join(
            f"{s} = {module}:{f}\n" for s, f in scripts.items()),
    }
    record = []
    with zipfile.ZipFile(wh / f"{dist}-py3-none-any.whl", "w") as z:
        for path, text in files.items():
            data = text.encode()
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(data)}")
        record.append(f"{dist}.dist-info/RECORD,,")
        z.writestr(f"{dist}.dist-info/RECORD", "\n".join(record) + "\n")


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    wh = tmp_path / "wheels"
    wh.mkdir()
    for version in ("15.1.0", "16.1.0"):
        _wheel(wh, "octavia", version, "octavia", {"octavia-api": "main", "octavia-worker": "main"})
    for version in ("3.6.0", "3.8.0"):
        _wheel(wh, "octavia-lib", version, "octavia_lib", {})
    opt = tmp_path / "opt"
    venv = opt / "venv"
    subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--find-links",
                    str(wh), "octavia==15.1.0", "octavia-lib==3.6.0"], check=True, timeout=300)
    return {"wheels": wh, "opt": opt, "venv": venv, "venvs": opt / "venvs"}


def _installed(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "octavia-api")], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def _runbook(tmp: Path, steps: list[dict[str, Any]], rollback: list[dict[str, Any]]) -> Path:
    path = tmp / "prepare.yaml"
    doc = {"apiVersion": "octavia-upgrade/v2", "kind": "Runbook",
           "metadata": {"name": "prepare", "from": "dalmatian", "to": "epoxy", "revision": 1},
           "steps": steps, "rollback": rollback}
    path.write_text(yaml.safe_dump(json.loads(json.dumps(doc)), sort_keys=False))  # no aliases
    return path


PACKAGES = ["octavia", "octavia-lib"]
RECORD = {"id": "record-packages", "name": "Record", "kind": "packages",
          "with": {"action": "record", "packages": PACKAGES}}
STAGE = {"id": "stage-packages", "name": "Stage", "kind": "packages",
         "with": {"action": "stage", "release": "epoxy", "packages": PACKAGES}}
VERIFY = {"id": "verify-staged-packages", "name": "Verify", "kind": "packages",
          "with": {"action": "verify", "release": "epoxy", "packages": PACKAGES}}
ACTIVATE = {"id": "activate-packages", "name": "Activate", "kind": "packages",
            "on_failure": "rollback",
            "with": {"action": "activate", "release": "epoxy", "packages": PACKAGES}}
REVERT = {"id": "rollback-packages", "name": "Revert", "kind": "packages",
          "with": {"action": "revert", "release": "dalmatian", "packages": PACKAGES}}


def _run(tmp: Path, runbook: Path, inv: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "octavia_upgrade", "run", str(runbook), "-i", str(inv), "--yes",
         "--no-detect", *extra], capture_output=True, text=True, timeout=600,
        stdin=subprocess.DEVNULL, env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(tmp / "st")})


def _results(tmp: Path) -> dict[str, dict[str, Any]]:
    env = {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(tmp / "st")}
    runs = json.loads(subprocess.run([sys.executable, "-m", "octavia_upgrade", "runs", "-f",
                                      "json"], capture_output=True, text=True, env=env,
                                     check=True).stdout)
    shown = json.loads(subprocess.run([sys.executable, "-m", "octavia_upgrade", "show",
                                       runs[-1]["id"], "-f", "json"], capture_output=True,
                                      text=True, env=env, check=True).stdout)
    return {r["step_id"]: r for r in shown["results"]}


def _inventory(write_inventory: Callable[..., Path], tmp: Path, layout: dict[str, Path],
               **more: Any) -> Path:
    return write_inventory(tmp, roles={"node1": ["api", "worker", "db-migrate"]}, flavor="venv",
                           vars={"venv": str(layout["venv"]), "venvs_dir": str(layout["venvs"]),
                                 "python": PYTHON,
                                 "pip_args": f"--no-index --find-links {layout['wheels']}",
                                 **more})


@pytest.mark.lab
def test_stage_verify_activate_then_revert_switches_back(
        tmp_path: Path, layout: dict[str, Path], write_inventory: Callable[..., Path]) -> None:
    inv = _inventory(write_inventory, tmp_path, layout)
    fail = {"id": "fail-after-activation", "name": "Fail", "kind": "command",
            "on_failure": "rollback", "with": {"command": "false"}}
    res = _run(tmp_path, _runbook(tmp_path, [RECORD, STAGE, VERIFY, ACTIVATE, fail], [REVERT]),
               inv)
    out = res.stdout + res.stderr
    assert res.returncode == 1 and "Traceback" not in out, out
    staged = layout["venvs"] / "octavia-2025.1"
    old = layout["opt"] / "venv-2024.2"
    r = _results(tmp_path)
    summary = {k: (v["status"], v.get("message")) for k, v in r.items()}
    assert "fail-after-activation" in r, (summary, out[-3000:])  # what triggered the rollback
    assert r["record-packages"]["outputs"]["recorded"] == [str(old)]
    assert r["verify-staged-packages"]["outputs"]["staged"]["octavia"] == "16.1.0"
    assert r["activate-packages"]["outputs"]["after"]["octavia"] == "16.1.0"
    # The rollback switched the link back: the old venv runs again, through vars.venv,
    # and the staged one is still there (kept until someone removes it).
    assert r["rollback-packages"]["status"] == "succeeded", r["rollback-packages"]
    assert r["rollback-packages"]["outputs"]["after"]["octavia"] == "15.1.0"
    assert os.readlink(layout["venv"]) == str(old)
    assert _installed(layout["venv"]) == "15.1.0"
    assert _installed(staged) == "16.1.0"
    sent = [c["sent"] for c in r["rollback-packages"]["commands"] if c["key"] == "revert"]
    assert sent and f"set -- {old};" in sent[0]  # the recorded path, filled in at run time


@pytest.mark.lab
def test_a_tampered_staged_venv_is_refused_before_anything_changes(
        tmp_path: Path, layout: dict[str, Path], write_inventory: Callable[..., Path]) -> None:
    inv = _inventory(write_inventory, tmp_path, layout)
    res = _run(tmp_path, _runbook(tmp_path, [RECORD, STAGE], []), inv)
    assert res.returncode == 0, res.stdout + res.stderr
    staged = layout["venvs"] / "octavia-2025.1"
    init = next(staged.glob("lib/python3*/site-packages/octavia/__init__.py"))
    init.write_text(init.read_text() + "# changed after staging\n")
    res = _run(tmp_path, _runbook(tmp_path, [RECORD, VERIFY, ACTIVATE], [REVERT]), inv)
    assert res.returncode == 1, res.stdout + res.stderr
    r = _results(tmp_path)
    assert r["verify-staged-packages"]["status"] == "failed"
    assert "does not match its checksum" in r["verify-staged-packages"]["message"]
    assert "activate-packages" not in r
    assert layout["venv"].is_dir() and not layout["venv"].is_symlink()  # untouched
    assert _installed(layout["venv"]) == "15.1.0"
    # staging again rebuilds what no longer verifies
    res = _run(tmp_path, _runbook(tmp_path, [RECORD, STAGE, VERIFY], []), inv)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.lab
def test_not_enough_disk_for_the_staged_venv_is_refused(
        tmp_path: Path, layout: dict[str, Path], write_inventory: Callable[..., Path]) -> None:
    inv = _inventory(write_inventory, tmp_path, layout, stage_free_mb=1 << 40)
    rb = _runbook(tmp_path, [RECORD, STAGE, VERIFY], [])
    # refused by the preflight, before the first step: exit 3, no step ran
    res = _run(tmp_path, rb, inv)
    out = res.stdout + res.stderr
    assert res.returncode == 3, out
    assert "preflight: 1 prerequisite missing; nothing was changed" in out
    assert f"{1 << 40} MiB free where the epoxy code is staged (vars.stage_free_mb)" in out
    assert "Traceback" not in out
    assert not (layout["venvs"] / "octavia-2025.1").exists()
    # and by the step itself, should the disk fill up after the preflight
    res = _run(tmp_path, rb, inv, "--skip-preflight")
    out = res.stdout + res.stderr
    assert res.returncode == 3, out
    assert "MiB needed (vars.stage_free_mb)" in out and "Traceback" not in out
    assert not (layout["venvs"] / "octavia-2025.1").exists()
    assert _results(tmp_path)["stage-packages"]["outputs"]["refused"] is True
