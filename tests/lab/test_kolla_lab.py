"""Dalmatian → Epoxy on a lab laid out as kolla-ansible lays out its hosts.

``lab up --flavor kolla``: every node runs ``octavia_api``, ``octavia_worker``,
``octavia_health_manager`` and ``octavia_housekeeping`` in its own podman,
created from ``2024.2-debian-bookworm`` images that the lab built and serves
from a registry on loopback; the inventory names the shipped ``kolla`` flavor.
First the migration container is killed half way (as the OOM killer would):
the run restores the dump and recreates the containers on the images it
recorded, and the Dalmatian control plane serves again. Then the upgrade
itself, checked with the demo's operator checks, and the kolla layout after it:
every container recreated on its ``2025.1`` image, the old images kept.

Runs after the shared session lab is gone (``lab_down_last``; this file sorts
after test_down.py) so two full labs do not compete for the two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from octavia_upgrade.lab import kolla
from octavia_upgrade.lab.core import Lab
from octavia_upgrade.resources import runbooks_dir

pytestmark = [pytest.mark.lab, pytest.mark.lab_down_last]

NET = os.environ.get("OCTAVIA_UPGRADE_TEST_KOLLA_NET", "127.42.72")
OLD_TAG, NEW_TAG = "2024.2-debian-bookworm", "2025.1-debian-bookworm"
DALMATIAN_HEAD = "db2a73e82626"
RUNBOOK = runbooks_dir() / "dalmatian-to-epoxy.yaml"


@pytest.fixture(scope="module")
def kolla_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    from fixtures.lab import own_lab

    with own_lab(tmp_path_factory, "kolla", NET, nodes=2, flavor="kolla") as lab:
        yield lab


def _cli(state: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})


def _podman(lab: Lab, node: str, *args: str) -> str:
    """``podman ARGS`` inside the node, as an operator logged in there would run it."""
    pid = next(n.pid for n in lab.nodes_api().running() if n.name == node)
    res = subprocess.run(["nsenter", f"--mount=/proc/{pid}/ns/mnt", "--", "podman", *args],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def _layout(lab: Lab, node: str) -> dict:
    """What an operator checks on a kolla host: containers, their images and states."""
    names = _podman(lab, node, "ps", "-a", "--format", "{{.Names}}").split()
    images = {}
    for c in names:
        image, running = _podman(lab, node, "inspect", "-f",
                                 "{{.Config.Image}} {{.State.Running}}", c).split()
        images[c] = (image.rsplit("/", 1)[-1], running == "true")
    tags = _podman(lab, node, "images", "--format", "{{.Repository}}:{{.Tag}}").split()
    return {"containers": images, "images": sorted(t.rsplit("/", 1)[-1] for t in tags)}


def _octavia(tag: str, running: bool = True) -> dict:
    return {c: (f"{c.replace('_', '-')}:{tag}", running) for c in kolla.CONTAINERS.values()}


def test_the_lab_is_laid_out_as_kolla_ansible_does(kolla_lab: Lab) -> None:
    doc = yaml.safe_load(kolla_lab.inventory_file.read_text())
    assert doc["flavor"] == "kolla"
    assert doc["vars"]["kolla_container_engine"] == "podman"
    assert doc["vars"]["docker_registry"].startswith("127.0.0.1:")
    for host in doc["hosts"].values():
        assert "driver-agent" not in host["roles"]  # kolla enables it with OVN only
    for node in kolla_lab.state()["nodes"]:
        got = _layout(kolla_lab, node)
        containers = dict(got["containers"])
        assert containers.pop("mariadb")[1] is True
        assert containers == _octavia(OLD_TAG)
        fs = kolla_lab.node_fs(node)
        conf = json.loads((fs / "etc/kolla/octavia-api/config.json").read_text())
        assert conf["command"] == "octavia-api --config-file /etc/octavia/octavia.conf"
        assert not (fs / "opt/octavia/venv").exists()
    # The machine's own podman storage is not the nodes': no lab image there.
    assert not any(Path("/var/lib/containers").glob("storage/overlay-images/*"))


def _kill_the_migration(lab: Lab, stop: threading.Event, killed: list[str]) -> None:
    """Kill the container that runs ``octavia-db-manage upgrade head`` as soon as it runs."""
    while not stop.is_set():
        try:
            out = _podman(lab, "node1", "ps", "--no-trunc", "--format",
                          "{{.ID}} {{.Command}}")
        except AssertionError:
            out = ""
        for line in out.splitlines():
            if "upgrade head" in line:
                time.sleep(0.5)  # half way: some of Epoxy's migrations have run
                _podman(lab, "node1", "kill", line.split()[0])
                killed.append(line)
                return
        time.sleep(0.1)


def test_a_killed_migration_recreates_the_containers_on_the_recorded_images(
        kolla_lab: Lab, tmp_path: Path) -> None:
    from terminal import run_at_terminal

    state = tmp_path / "state"
    status_cmd = f"{sys.executable} -m octavia_upgrade lab status --dir {kolla_lab.dir} -f json"
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_the_migration, args=(kolla_lab, stop, killed))
    killer.start()
    try:
        res = run_at_terminal(
            ["run", str(RUNBOOK), "-i", str(kolla_lab.inventory_file), "--yes",
             "--param", f"backup_dir={tmp_path / 'backups'}",
             "--param", f"loadbalancer_status_command={status_cmd}"],
            {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)}, timeout=1500)
    finally:
        stop.set()
        killer.join()
    out = res.stdout + res.stderr
    assert killed, "the migration container was never seen\n" + out[-3000:]
    assert res.returncode == 1, out[-3000:]
    run = json.loads(_cli(state, "runs", "-f", "json").stdout)[-1]
    assert run["status"] == "rolled_back"
    shown = json.loads(_cli(state, "show", run["id"], "-f", "json").stdout)
    by = {(r["step_id"], r["host"]): r for r in shown["results"]}
    assert by[("activate-packages", "node1")]["status"] == "succeeded"
    assert by[("db-upgrade", "node1")]["status"] == "failed"
    for node in kolla_lab.state()["nodes"]:
        assert by[("rollback-packages", node)]["status"] == "succeeded"
        got = _layout(kolla_lab, node)
        got["containers"].pop("mariadb")
        # Recreated on the images recorded before the upgrade; the Epoxy ones stay
        # pulled for the next attempt.
        assert got["containers"] == _octavia(OLD_TAG)
        assert {f"octavia-api:{OLD_TAG}", f"octavia-api:{NEW_TAG}"} <= set(got["images"])
    det = json.loads(_cli(state, "detect", "-i", str(kolla_lab.inventory_file),
                          "-f", "json").stdout)
    assert det["release"] == "dalmatian" and det["db_revision"] == DALMATIAN_HEAD
    status = kolla_lab.status()
    for node in status["nodes"]:
        assert set(node["services"].values()) == {"active"}, node
    assert all((lb["provisioning_status"], lb["operating_status"]) == ("ACTIVE", "ONLINE")
               for lb in status["loadbalancers"])


def test_dalmatian_to_epoxy_passes_the_operator_checks(
        kolla_lab: Lab, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from fixtures.lab import assert_demo_checks_pass

    assert_demo_checks_pass(kolla_lab, tmp_path, capfd)
    for node in kolla_lab.state()["nodes"]:
        got = _layout(kolla_lab, node)
        got["containers"].pop("mariadb")
        assert got["containers"] == _octavia(NEW_TAG)
        assert {f"octavia-api:{OLD_TAG}", f"octavia-api:{NEW_TAG}"} <= set(got["images"])
