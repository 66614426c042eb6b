"""The network to one node cut for 30 s while it stops a service, on the real lab.

``lab fault node2 unreachable`` drops every packet to and from node2 (nftables)
the moment the run starts stopping the workers, and ``clear`` ends it 30 s
later. The SSH session to node2 stalls, nothing is lost: TCP delivers the
command and its answer once packets flow again, so the step succeeds on its
first attempt, only later. What the operator must see is exactly that: the run
finishes (exit 0), node2's stop took the cut's time and was not repeated, and
the report's measured outage shows where the time went. The upgrade itself is
checked as the demo checks it.

Runs after the shared session lab is gone (``lab_down_last``) so two full labs
do not compete for the two cores.
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

from octavia_upgrade.lab.core import Lab
from octavia_upgrade.resources import runbooks_dir

pytestmark = [pytest.mark.lab, pytest.mark.lab_down_last]

NET = os.environ.get("OCTAVIA_UPGRADE_TEST_NETCUT_NET", "127.42.78")
CUT_SECONDS = 30
EPOXY_HEAD = "fabf4983846b"


@pytest.fixture(scope="module")
def cut_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    from fixtures.lab import lab_unavailable_reason

    reason = lab_unavailable_reason()
    if reason:
        pytest.skip(f"rehearsal lab unavailable: {reason}")
    lab = Lab(tmp_path_factory.mktemp("netcut") / "lab", log=lambda _m: None)
    try:
        lab.up(nodes=3, release="dalmatian", net=NET, name="netcut")
        yield lab
    finally:
        lab.down(quiet=True)


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})


def _cut_when(lab: Lab, output: Path, marker: str, done: list[float],
              stop: threading.Event) -> None:
    """Cut node2 off when ``marker`` appears in the run's output; restore it 30 s later."""
    while not stop.is_set():
        if output.exists() and marker in output.read_text(errors="replace"):
            lab.fault("node2", "unreachable")
            done.append(time.monotonic())
            stop.wait(CUT_SECONDS)
            lab.fault("node2", "clear")
            done.append(time.monotonic())
            return
        time.sleep(0.05)


def test_a_30s_cut_during_a_service_stop_delays_the_step_and_loses_nothing(
        cut_lab: Lab, tmp_path: Path) -> None:
    state, output = tmp_path / "state", tmp_path / "run.out"
    status_cmd = f"{sys.executable} -m octavia_upgrade lab status --dir {cut_lab.dir} -f json"
    stop, cut = threading.Event(), []
    cutter = threading.Thread(target=_cut_when, args=(
        cut_lab, output, "(stop-worker, service)", cut, stop))
    cutter.start()
    try:
        with output.open("w") as out:
            res = subprocess.run(
                [sys.executable, "-m", "octavia_upgrade", "run",
                 str(runbooks_dir() / "dalmatian-to-epoxy.yaml"), "-i", str(cut_lab.inventory_file),
                 "--yes", "--param", f"loadbalancer_status_command={status_cmd}",
                 "--param", f"backup_dir={tmp_path / 'backups'}"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=1500,
                env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})
    finally:
        stop.set()
        cutter.join()
        if len(cut) == 1:  # the test failed between cut and clear: the node comes back
            cut_lab.fault("node2", "clear")
    text = output.read_text()
    assert len(cut) == 2, "the cut never happened\n" + text[-3000:]
    assert res.returncode == 0, text[-3000:]

    (run,) = json.loads(_cli(state, "runs", "-f", "json").stdout)
    doc = json.loads(_cli(state, "report", run["id"], "-f", "json").stdout)
    step = next(s for s in doc["steps"] if s["id"] == "stop-worker")
    hosts = {h["host"]: h for h in step["hosts"]}
    # node2's stop went through once, when the network came back; nothing ran twice
    assert hosts["node2"]["status"] == "succeeded" and hosts["node2"]["attempts"] == 1
    assert hosts["node2"]["duration"] >= CUT_SECONDS - 5, hosts["node2"]
    assert all(h["attempts"] == 1 for h in hosts.values())
    assert not [d for d in doc["deviations"] if d["kind"] != "skipped"], doc["deviations"]
    # the measured outage says where the time went
    outage = doc["outage"]
    assert outage["status"] == "measured"
    in_outage = {s["id"]: s["seconds"] for s in outage["steps"]}
    assert in_outage["stop-worker"] >= CUT_SECONDS - 5
    assert outage["duration"] >= in_outage["stop-worker"]

    # and the upgrade is whole: every node at Epoxy, every service up, the LB unchanged
    det = json.loads(_cli(state, "detect", "-i", str(cut_lab.inventory_file),
                          "-f", "json").stdout)
    assert det["release"] == "epoxy" and det["db_revision"] == EPOXY_HEAD
    status = cut_lab.status()
    for node in status["nodes"]:
        assert set(node["services"].values()) == {"active"} and not node["faults"], node
    lb = cut_lab.state()["lb"]
    (now,) = [x for x in status["loadbalancers"] if x["id"] == lb["id"]]
    assert (now["provisioning_status"], now["operating_status"]) == ("ACTIVE", "ONLINE")
    assert {a["id"] for a in status["amphorae"] if a["loadbalancer_id"] == lb["id"]} == \
        set(lb["amphora_ids"])
