"""Dalmatian → Epoxy on a lab laid out as OpenStack-Ansible lays out a metal host.

``lab up --flavor osa``: every node runs Octavia from the versioned venv
``/openstack/venvs/octavia-2024.2`` through unit files that name it (and the
API's uWSGI ini), and the lab's inventory names the shipped ``osa`` flavor.
First a migration that breaks half way in the *staged* Epoxy venv: the run
rolls back, the units are switched back to the old venv and the Dalmatian
control plane serves again. Then the upgrade itself, checked with the demo's
operator checks, and the OSA layout afterwards: both venvs side by side, every
unit and the ini naming the new one, every service running from it.

Runs after the shared session lab is gone (``lab_down_last``; this file sorts
after test_down.py) so two full labs do not compete for the two cores.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from octavia_upgrade.lab import faults
from octavia_upgrade.lab.core import Lab
from octavia_upgrade.lab.units import UNITS
from octavia_upgrade.resources import runbooks_dir

pytestmark = [pytest.mark.lab, pytest.mark.lab_down_last]

NET = os.environ.get("OCTAVIA_UPGRADE_TEST_OSA_NET", "127.42.71")
OLD_VENV = "/openstack/venvs/octavia-2024.2"
NEW_VENV = "/openstack/venvs/octavia-2025.1"
DALMATIAN_HEAD = "db2a73e82626"
RUNBOOK = runbooks_dir() / "dalmatian-to-epoxy.yaml"


@pytest.fixture(scope="module")
def osa_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    from fixtures.lab import own_lab

    with own_lab(tmp_path_factory, "osa", NET, nodes=2, flavor="osa") as lab:
        yield lab


def _cli(state: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})


def _layout(lab: Lab, node: str) -> dict:
    """What an operator would look at on an OSA node: venvs, unit files, ini, processes."""
    fs = lab.node_fs(node)
    units = {}
    for unit in UNITS:
        text = (fs / f"etc/systemd/system/{unit}.service").read_text()
        (line,) = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
        units[unit] = line.removeprefix("ExecStart=").split()[0]
    ini = (fs / "etc/uwsgi/octavia-api.ini").read_text()
    running = {}
    for unit in UNITS:
        pid = int((fs / f"run/octavia/{unit}.pid").read_text().split()[0])
        # cotyledon retitles the worker ("octavia-worker: master process [...]"):
        # the venv is read from the command line, whatever its shape.
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        found = re.search(r"/openstack/venvs/octavia-[^/ ]+", cmdline)
        running[unit] = found.group(0) if found else cmdline
    return {"venvs": sorted(p.name for p in (fs / "openstack/venvs").iterdir()),
            "units": units, "ini": ini, "running": running}


def test_the_lab_is_laid_out_as_openstack_ansible_does(osa_lab: Lab) -> None:
    doc = yaml.safe_load(osa_lab.inventory_file.read_text())
    assert doc["flavor"] == "osa"
    for node in osa_lab.state()["nodes"]:
        got = _layout(osa_lab, node)
        assert got["venvs"] == ["octavia-2024.2"]
        assert set(got["units"].values()) == {f"{OLD_VENV}/bin/{u}" for u in UNITS}
        assert f"virtualenv = {OLD_VENV}\n" in got["ini"]
        assert got["running"] == dict.fromkeys(UNITS, OLD_VENV)


def _hook_when_staged(lab: Lab, stop: threading.Event, hooked: list[Path]) -> None:
    """Break the staged venv's migrations as soon as the stage step has built it."""
    venv = lab.node_fs("node1") / NEW_VENV.lstrip("/")
    while not stop.is_set():
        if (venv / "octavia-upgrade.sha256").exists():
            (site,) = (venv / "lib").glob("python3*/site-packages")
            faults.hook_migrations(site, half_way=True)
            hooked.append(site)
            return
        time.sleep(0.05)


def test_a_failed_migration_switches_the_units_back_to_the_old_venv(
        osa_lab: Lab, tmp_path: Path) -> None:
    from terminal import run_at_terminal

    state = tmp_path / "state"
    status_cmd = f"{sys.executable} -m octavia_upgrade lab status --dir {osa_lab.dir} -f json"
    stop, hooked = threading.Event(), []
    hooker = threading.Thread(target=_hook_when_staged, args=(osa_lab, stop, hooked))
    hooker.start()
    try:
        res = run_at_terminal(
            ["run", str(RUNBOOK), "-i", str(osa_lab.inventory_file), "--yes",
             "--param", f"backup_dir={tmp_path / 'backups'}",
             "--param", f"loadbalancer_status_command={status_cmd}"],
            {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)}, timeout=1500)
    finally:
        stop.set()
        hooker.join()
        for site in hooked:
            faults.unhook_migrations(site)
    out = res.stdout + res.stderr
    assert hooked, "the stage step never built " + NEW_VENV + "\n" + out[-3000:]
    assert res.returncode == 1, out[-3000:]
    run = json.loads(_cli(state, "runs", "-f", "json").stdout)[-1]
    assert run["status"] == "rolled_back"
    shown = json.loads(_cli(state, "show", run["id"], "-f", "json").stdout)
    by = {(r["step_id"], r["host"]): r for r in shown["results"]}
    assert by[("activate-packages", "node1")]["status"] == "succeeded"
    assert by[("db-upgrade", "node1")]["status"] == "failed"
    for node in osa_lab.state()["nodes"]:
        assert by[("rollback-packages", node)]["status"] == "succeeded"
        # Switched back, not rebuilt: the old venv is what every unit starts again,
        # and the staged one is kept for the next attempt.
        got = _layout(osa_lab, node)
        assert got["venvs"] == ["octavia-2024.2", "octavia-2025.1"]
        assert set(got["units"].values()) == {f"{OLD_VENV}/bin/{u}" for u in UNITS}
        assert f"virtualenv = {OLD_VENV}\n" in got["ini"]
        assert got["running"] == dict.fromkeys(UNITS, OLD_VENV)
    det = json.loads(_cli(state, "detect", "-i", str(osa_lab.inventory_file),
                          "-f", "json").stdout)
    assert det["release"] == "dalmatian" and det["db_revision"] == DALMATIAN_HEAD
    status = osa_lab.status()
    for node in status["nodes"]:
        assert set(node["services"].values()) == {"active"}, node
    assert all((lb["provisioning_status"], lb["operating_status"]) == ("ACTIVE", "ONLINE")
               for lb in status["loadbalancers"])


def test_dalmatian_to_epoxy_passes_the_operator_checks(
        osa_lab: Lab, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from fixtures.lab import assert_demo_checks_pass

    assert_demo_checks_pass(osa_lab, tmp_path, capfd)
    for node in osa_lab.state()["nodes"]:
        got = _layout(osa_lab, node)
        assert got["venvs"] == ["octavia-2024.2", "octavia-2025.1"]
        assert set(got["units"].values()) == {f"{NEW_VENV}/bin/{u}" for u in UNITS}
        assert f"virtualenv = {NEW_VENV}\n" in got["ini"]
        assert got["running"] == dict.fromkeys(UNITS, NEW_VENV)
