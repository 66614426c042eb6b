"""Real faults during a real upgrade on the lab, and what ``resume`` then does.

One lab, one Dalmatian → Epoxy run, three faults:

1. node2's disk is full when its venv is staged (``lab fault node2 disk-full
   /opt/octavia/venvs`` once the run has passed its preflight): the stage step
   refuses on node2, the run stops before the outage, nothing is stopped, and
   the operator sees which host and why.
2. After ``lab fault node2 clear``, ``resume`` goes on, and the network to
   node2 is cut for 30 s (nftables drops every packet) while it stops the
   workers. The SSH session stalls, nothing is lost: TCP delivers the command
   and its answer once packets flow again, so the step succeeds on its first
   attempt, only later. Then RabbitMQ is stopped (``lab broker stop``) while
   the database migrates: ``wait-message-bus`` finds no broker answering from
   any API host for 60 s, and the run stops with every service still stopped,
   each broker's answer in the message, never the transport URL.
3. After ``lab broker start``, ``resume`` starts the services and finishes;
   nothing done before runs again, the report's measured outage shows where
   the time went, and the upgrade is checked as the demo checks it.

Runs after the shared session lab is gone (``lab_down_last``) so two full labs
do not compete for the two cores. The tests run in file order: each
resumes the run the one before left.
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

NET = os.environ.get("OCTAVIA_UPGRADE_TEST_FAULTS_NET", "127.42.78")
CUT_SECONDS = 30
EPOXY_HEAD = "fabf4983846b"
STAGE_DIR = "/opt/octavia/venvs"


@pytest.fixture(scope="module")
def fault_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    from fixtures.lab import own_lab

    with own_lab(tmp_path_factory, "faults", NET) as lab:
        yield lab


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What the second test needs from the first: the state folder and the run."""
    return {"state": tmp_path_factory.mktemp("faults-state") / "state"}


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})


def _watch(output: Path, marker: str, act, stop: threading.Event) -> None:  # type: ignore[no-untyped-def]
    """Run ``act()`` once ``marker`` appears in the run's output."""
    while not stop.is_set():
        if output.exists() and marker in output.read_text(errors="replace"):
            act()
            return
        time.sleep(0.05)


def _engine(state: Path, output: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    with output.open("w") as out:
        return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], stdout=out,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=1500,
                              env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})


def _with_faults(output: Path, faults, run) -> subprocess.CompletedProcess[bytes]:  # type: ignore[no-untyped-def]
    """``run()`` while each (marker, act) of ``faults`` acts once its marker is output."""
    stop = threading.Event()
    watchers = [threading.Thread(target=_watch, args=(output, marker, act, stop))
                for marker, act in faults]
    for w in watchers:
        w.start()
    try:
        return run()
    finally:
        stop.set()
        for w in watchers:
            w.join()


def test_a_full_disk_when_the_venv_is_staged_stops_the_run_before_the_outage(
        fault_lab: Lab, shared: dict, tmp_path: Path) -> None:
    state, output = shared["state"], tmp_path / "run.out"
    fault_lab.shell("node2").check(f"mkdir -p {STAGE_DIR}")  # where staged venvs go
    status_cmd = f"{sys.executable} -m octavia_upgrade lab status --dir {fault_lab.dir} -f json"
    filled: list[str] = []
    res = _with_faults(
        output, [("[1/", lambda: filled.append(fault_lab.fault("node2", "disk-full", STAGE_DIR)))],
        lambda: _engine(state, output, "run", str(runbooks_dir() / "dalmatian-to-epoxy.yaml"),
                        "-i", str(fault_lab.inventory_file), "--yes",
                        "--param", f"loadbalancer_status_command={status_cmd}",
                        "--param", f"backup_dir={tmp_path / 'backups'}"))
    text = output.read_text()
    assert filled, "the disk was never filled\n" + text[-3000:]
    assert res.returncode == 3, text[-3000:]  # a step refused before changing anything
    (run,) = json.loads(_cli(state, "runs", "-f", "json").stdout)
    shared["run"] = run["id"]
    assert run["status"] == "failed"
    shown = json.loads(_cli(state, "show", run["id"], "-f", "json").stdout)
    by = {(r["step_id"], r["host"]): r for r in shown["results"]}
    stage = by[("stage-packages", "node2")]
    assert stage["status"] == "failed", stage
    assert stage["message"].startswith(f"refused: 0 MiB free on node2 in {STAGE_DIR}, where "
                                       "the staged code goes;"), stage["message"]
    assert "nothing was changed or stopped" in stage["message"]
    assert "refused: 0 MiB free on node2" in output.read_text()  # what the operator saw
    assert by[("stage-packages", "node1")]["status"] == "succeeded"
    assert not any(k[0].startswith("stop-") for k in by)  # the outage never began
    assert shown["lock"] is None
    for node in fault_lab.status()["nodes"]:
        assert set(node["services"].values()) == {"active"}, node


def test_resume_goes_through_a_30s_network_cut_and_stops_where_the_broker_is_down(
        fault_lab: Lab, shared: dict, tmp_path: Path) -> None:
    if "run" not in shared:
        pytest.fail("the first test of this module did not leave a run to resume")
    state, output = shared["state"], tmp_path / "resume.out"
    fault_lab.fault("node2", "clear")
    cut: list[float] = []
    stopped: list[str] = []

    def cut_30s() -> None:
        fault_lab.fault("node2", "unreachable")
        cut.append(time.monotonic())
        time.sleep(CUT_SECONDS)
        fault_lab.fault("node2", "clear")
        cut.append(time.monotonic())

    try:
        res = _with_faults(output, [("(stop-worker, service)", cut_30s),
                                    ("(db-upgrade, db_migrate)",
                                     lambda: stopped.append(fault_lab.broker("stop")))],
                           lambda: _engine(state, output, "resume", shared["run"], "--yes"))
    finally:
        if "unreachable" in (fault_lab.state()["faults"].get("node2") or {}):
            fault_lab.fault("node2", "clear")
    text = output.read_text()
    assert len(cut) == 2, "the cut never happened\n" + text[-3000:]
    assert stopped, "the broker was never stopped\n" + text[-3000:]
    # the run stops before starting anything into a dead message queue
    assert res.returncode == 1, text[-3000:]
    port = fault_lab.state()["rabbitmq"]["port"]
    assert f"rabbit 127.0.0.1:{port}: Connection refused" in text
    assert "guest:guest" not in text and "rabbit://" not in text  # never the URL
    shown = json.loads(_cli(state, "show", shared["run"], "-f", "json").stdout)
    assert shown["run"]["status"] == "failed" and shown["lock"] is None
    by = {(r["step_id"], r["host"]): r for r in shown["results"]}
    for node in ("node1", "node2", "node3"):
        wait = by[("wait-message-bus", node)]
        assert wait["status"] == "timed_out", wait
        assert wait["message"].startswith("the command not healthy after 60s ("), wait
        assert f"rabbit 127.0.0.1:{port}: Connection refused" in wait["message"]
        assert ("start-services", node) not in by
        assert by[("db-upgrade", "node1")]["status"] == "succeeded"
    for node in fault_lab.status()["nodes"]:  # still in the outage: nothing was started
        assert set(node["services"].values()) == {"inactive"}, node

    doc = json.loads(_cli(state, "report", shared["run"], "-f", "json").stdout)
    steps = {s["id"]: s for s in doc["steps"]}
    stage = {h["host"]: h for h in steps["stage-packages"]["hosts"]}
    # the refused stage ran again on node2 only: node1 and node3 kept what they staged
    assert (stage["node1"]["attempts"], stage["node3"]["attempts"]) == (1, 1)
    assert stage["node2"]["status"] == "succeeded"
    stop = {h["host"]: h for h in steps["stop-worker"]["hosts"]}
    # node2's stop went through once, when the network came back; nothing ran twice
    assert stop["node2"]["status"] == "succeeded"
    assert all(h["attempts"] == 1 for h in stop.values())
    assert stop["node2"]["duration"] >= CUT_SECONDS - 5, stop["node2"]
    assert any(d["kind"] == "timed_out" and d["step_id"] == "wait-message-bus"
               for d in doc["deviations"]), doc["deviations"]


def test_with_the_broker_back_resume_starts_the_services_and_finishes(
        fault_lab: Lab, shared: dict, tmp_path: Path) -> None:
    if "run" not in shared:
        pytest.fail("the first test of this module did not leave a run to resume")
    state, output = shared["state"], tmp_path / "resume2.out"
    assert "answers again" in fault_lab.broker("start")
    res = _engine(state, output, "resume", shared["run"], "--yes")
    text = output.read_text()
    assert res.returncode == 0, text[-3000:]

    doc = json.loads(_cli(state, "report", shared["run"], "-f", "json").stdout)
    steps = {s["id"]: s for s in doc["steps"]}
    # nothing done before ran again; the wait for the broker did, and passed
    assert all(h["attempts"] == 1 for h in steps["db-upgrade"]["hosts"])
    assert all(h["attempts"] == 1 for h in steps["stop-worker"]["hosts"])
    wait = {h["host"]: h for h in steps["wait-message-bus"]["hosts"]}
    assert {h["status"] for h in wait.values()} == {"succeeded"}
    assert {h["attempts"] for h in wait.values()} == {2}
    # the measured outage says where the time went: the network cut and the broker
    outage = doc["outage"]
    assert outage["status"] == "measured"
    in_outage = {s["id"]: s["seconds"] for s in outage["steps"]}
    assert in_outage["stop-worker"] >= CUT_SECONDS - 5
    assert outage["duration"] >= in_outage["stop-worker"] + 60

    # and the upgrade is whole: every node at Epoxy, every service up, the LB unchanged
    det = json.loads(_cli(state, "detect", "-i", str(fault_lab.inventory_file),
                          "-f", "json").stdout)
    assert det["release"] == "epoxy" and det["db_revision"] == EPOXY_HEAD
    status = fault_lab.status()
    assert (status["release"], status["release_at_up"]) == ("epoxy", "dalmatian")
    assert status["infrastructure"]["rabbitmq"] == "running"
    for node in status["nodes"]:
        assert set(node["services"].values()) == {"active"} and not node["faults"], node
    lb = fault_lab.state()["lb"]
    (now,) = [x for x in status["loadbalancers"] if x["id"] == lb["id"]]
    assert (now["provisioning_status"], now["operating_status"]) == ("ACTIVE", "ONLINE")
    assert {a["id"] for a in status["amphorae"] if a["loadbalancer_id"] == lb["id"]} == \
        set(lb["amphora_ids"])
