"""The engine on the real lab: refusals, faults with their outcomes, and a cold upgrade.

These run at the end of the session (``lab_down_last``; this file sorts before
test_down.py, which then takes the shared lab down) because the last two tests
upgrade the shared lab: from Dalmatian to Epoxy (the data plane kept up), then
from Epoxy to Flamingo with that hop's amphora failovers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from octavia_upgrade.resources import runbooks_dir
from plancheck import assert_ran_as_planned

pytestmark = [pytest.mark.lab, pytest.mark.lab_down_last]

EPOXY_HEAD = "fabf4983846b"
DALMATIAN_HEAD = "db2a73e82626"


def _cli(state: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})


def _runs(state: Path) -> list[dict]:
    res = _cli(state, "runs", "-f", "json")
    return json.loads(res.stdout) if res.returncode == 0 and res.stdout.strip() else []


def _report(state: Path, run_id: str) -> dict:
    res = _cli(state, "report", run_id, "-f", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_a_runbook_from_another_release_is_refused(lab, tmp_path: Path) -> None:
    res = _cli(tmp_path / "state", "run", str(runbooks_dir() / "caracal-to-dalmatian.yaml"),
               "-i", str(lab.inventory_file), "--yes")
    assert res.returncode == 3, res.stdout + res.stderr
    assert "upgrades from caracal" in res.stderr and "runs dalmatian" in res.stderr
    # nothing ran; the attempt is kept as a refused run, with the detection's reason
    (run,) = _runs(tmp_path / "state")
    assert run["status"] == "refused" and run["runbook"]["name"] == "caracal-to-dalmatian"
    doc = _report(tmp_path / "state", run["id"])
    assert doc["steps"] == []
    assert doc["outcome"]["summary"].startswith("refused by the detection before the first "
                                                "step: caracal-to-dalmatian upgrades from")


def test_a_service_that_will_not_stop_times_out_and_the_run_stops(lab, tmp_path: Path) -> None:
    runbook = tmp_path / "stuck.yaml"
    runbook.write_text(yaml.safe_dump({
        "apiVersion": "octavia-upgrade/v1", "kind": "Runbook",
        "metadata": {"name": "stuck", "from": "dalmatian", "to": "epoxy", "revision": 1},
        "steps": [{"id": "stop-housekeeping", "name": "Stop housekeeping", "kind": "service",
                   "timeout": "8s", "with": {"action": "stop", "services": ["housekeeping"]}}],
        "finally": [{"id": "start-housekeeping", "name": "Start housekeeping",
                     "kind": "service", "on_failure": "continue",
                     "with": {"action": "start", "services": ["housekeeping"]}}],
    }, sort_keys=False))
    state = tmp_path / "state"
    lab.fault("node2", "stuck-service", "octavia-housekeeping")
    try:
        res = _cli(state, "run", str(runbook), "-i", str(lab.inventory_file), "--yes")
    finally:
        lab.fault("node2", "clear")
    assert res.returncode == 1, res.stdout + res.stderr
    run = _runs(state)[-1]
    assert run["status"] == "failed"
    deviations = {(d["step_id"], d.get("host")) for d in _report(state, run["id"])["deviations"]}
    assert ("stop-housekeeping", "node2") in deviations, deviations
    shown = json.loads(_cli(state, "show", run["id"], "-f", "json").stdout)
    by = {(r["step_id"], r["host"]): r["status"] for r in shown["results"]}
    assert by[("stop-housekeeping", "node2")] == "timed_out"
    assert by[("stop-housekeeping", "node1")] == "succeeded"
    # the finally step brought housekeeping back where it had stopped
    for node in ("node1", "node3"):
        assert lab.shell(node).run("systemctl is-active octavia-housekeeping").rc == 0
    # on node2 the stop that was asked applies once the unit thaws; start it again
    shell = lab.shell("node2")
    shell.run("systemctl stop octavia-housekeeping")
    assert shell.run("systemctl start octavia-housekeeping").rc == 0
    assert shell.run("systemctl is-active octavia-housekeeping").rc == 0


def _tables(lab) -> list[str]:  # type: ignore[no-untyped-def]
    import pymysql

    db = lab.state()["mariadb"]
    conn = pymysql.connect(host="127.0.0.1", port=int(db["port"]), user=db["user"],
                           password=db["password"], database=db["database"])
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def _restart_database_when_held(lab, hold: Path, done: list[str]) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Once the migration waits at ``hold``: restart MariaDB, then let it go on."""
    def act() -> None:
        deadline = time.monotonic() + 1200
        while not hold.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if hold.exists():
            done.append(lab.restart_database())
            done.append(_tables(lab))  # the first migration's DDL, committed
            hold.unlink()

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread


def test_mariadb_restarted_during_the_migration_rolls_back_to_the_old_release(
        lab, tmp_path: Path) -> None:
    """Scenario: Dalmatian → Epoxy; MariaDB restarts while ``octavia-db-manage upgrade
    head`` is between two migrations (``lab fault node1 fail-migration hold`` makes
    it wait there on its open connection; ``lab database restart`` cuts it). The
    migration fails, the rollback restores the verified dump after the operator's
    approval at a terminal, and the Dalmatian control plane and every load
    balancer are back."""
    from terminal import run_at_terminal

    state = tmp_path / "state"
    status_cmd = f"{sys.executable} -m octavia_upgrade lab status --dir {lab.dir} -f json"
    lab.fault("node1", "fail-migration", "hold")
    hold = Path(lab.state()["faults"]["node1"]["fail-migration"]["hold"])
    restarted: list[str] = []
    watcher = _restart_database_when_held(lab, hold, restarted)
    try:
        # The guide's order: the fault hooks the venv the services run, which an in-place
        # install keeps (a prepared upgrade migrates with the staged venv instead).
        res = run_at_terminal(
            ["run", str(runbooks_dir() / "dalmatian-to-epoxy.yaml"),
             "-i", str(lab.inventory_file), "--yes",
             "--param", f"backup_dir={tmp_path / 'backups'}",
             "--param", "stage_before_outage=false",
             "--param", f"loadbalancer_status_command={status_cmd}"],
            {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)}, timeout=1500)
    finally:
        lab.fault("node1", "clear")
        watcher.join(timeout=5)
    out = res.stdout + res.stderr
    assert restarted, "MariaDB was never restarted\n" + out[-3000:]
    assert res.returncode == 1, out[-3000:]
    assert "APPROVAL NEEDED (rollback-approve-restore)" in out
    run = _runs(state)[-1]
    assert run["status"] == "rolled_back"
    shown = json.loads(_cli(state, "show", run["id"], "-f", "json").stdout)
    by = {(r["step_id"], r["host"]): r for r in shown["results"]}
    upgrade = by[("db-upgrade", "node1")]
    assert upgrade["status"] == "failed"
    # what the operator reads: the migration lost its database server, and the revision
    # cannot be trusted. Octavia commits each migration on its own; the first one's DDL
    # ran (MariaDB commits DDL at once) but the restart cut its revision's commit, so the
    # database reads Dalmatian on a changed schema: only the dump puts it right.
    assert upgrade["message"].startswith(
        "octavia-db-manage upgrade head failed (rc 1): sqlalchemy.exc.OperationalError: "
        "(pymysql.err.OperationalError) (2013, 'Lost connection to MySQL server during "
        "query')"), upgrade["message"]
    assert upgrade["outputs"]["after"] == upgrade["outputs"]["before"] == DALMATIAN_HEAD
    # Epoxy's first migration (3097e55493ae, add sg_id to vip) had created its table
    assert "vip_security_group" in restarted[1]
    assert "its revision did not move, but the schema may have changed" in upgrade["message"]
    approvals = {a["step_id"]: a["how"] for a in shown["approvals"]}
    assert approvals["rollback-approve-restore"] == "prompt"  # never --yes
    restore = by[("rollback-restore-db", "node1")]
    backup = by[("db-backup", "node1")]["outputs"]
    assert restore["status"] == "succeeded", restore
    assert restore["outputs"]["sha256"] == restore["outputs"]["recorded_sha256"] == backup["sha256"]
    assert restore["outputs"]["revision"] == DALMATIAN_HEAD
    assert "vip_security_group" not in _tables(lab)  # the dump put Dalmatian's schema back
    assert by[("rollback-db-revision", "node1")]["outputs"]["revision"] == DALMATIAN_HEAD
    for node in ("node1", "node2", "node3"):
        assert by[("rollback-start-services", node)]["status"] == "succeeded"
    det = json.loads(_cli(state, "detect", "-i", str(lab.inventory_file), "-f", "json").stdout)
    assert det["release"] == "dalmatian" and det["db_revision"] == DALMATIAN_HEAD
    # the Dalmatian control plane is healthy and every load balancer is ACTIVE/ONLINE
    status = lab.status()
    for node in status["nodes"]:
        assert set(node["services"].values()) == {"active"}, node
    from octavia_upgrade.lab.api import OctaviaApi

    api = OctaviaApi(lab.state()["apis"][0])
    assert api.loadbalancers()
    for lb in api.loadbalancers():
        api.wait_lb(lb["id"], "ACTIVE", "ONLINE", timeout=120)
    # the report shows each step, the restore's evidence and the load balancers
    doc = _report(state, run["id"])
    assert doc["outcome"]["status"] == "rolled_back"
    (rest,) = doc["evidence"]["restores"]
    assert rest["verified"] and rest["restored"] and rest["revision"] == DALMATIAN_HEAD
    assert rest["sha256"] == backup["sha256"]
    reported = {s["id"] for s in doc["steps"]}
    assert {"db-backup", "db-upgrade", "rollback-approve-restore", "rollback-restore-db",
            "rollback-start-services"} <= reported
    lbs = doc["evidence"]["loadbalancers"]["loadbalancers"]  # recorded before the outage
    assert lbs and all(lb["before_provisioning"] == "ACTIVE" for lb in lbs)
    # Grenade's check on the way back: every object as it was before the outage
    objects = doc["evidence"]["objects"]
    assert (objects["before_step"], objects["after_step"]) == (
        "lb-snapshot-before", "rollback-lb-snapshot-after")
    assert objects["before_counts"]["loadbalancer"] == len(api.loadbalancers())
    assert objects["after_counts"] == objects["before_counts"]
    assert objects["changes"] == [], objects["changes"]
    md = _cli(state, "report", run["id"]).stdout
    assert "Database restore" in md and backup["sha256"] in md
    assert "### Load-balancer objects before and after" in md


def test_cold_upgrade_keeps_the_data_plane_up(lab, tmp_path: Path) -> None:
    state = tmp_path / "state"
    status_cmd = f"{sys.executable} -m octavia_upgrade lab status --dir {lab.dir} -f json"
    params = ["--param", f"backup_dir={tmp_path / 'backups'}",
              "--param", f"loadbalancer_status_command={status_cmd}"]
    planned = _cli(state, "plan", "dalmatian-to-epoxy", "-i", str(lab.inventory_file),
                   "-f", "json", *params)
    assert planned.returncode == 0, planned.stderr
    res = _cli(state, "run", "dalmatian-to-epoxy", "-i", str(lab.inventory_file), "--yes",
               *params)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    run = _runs(state)[-1]
    doc = _report(state, run["id"])
    assert_ran_as_planned(json.loads(planned.stdout), doc, run["id"])
    vips = [p for p in doc["probes"] if p["kind"] == "vip"]
    assert vips  # lab-vip, and each TCP load balancer's VIP
    for vip in vips:
        assert vip["samples"] > 10 and vip["failures"] == 0 and vip["availability"] == 100.0, vip
    # the API, by contrast, is down during the outage: its probes see it, and the
    # measured window runs from the first stop to the API answering on every host
    apis = [p for p in doc["probes"] if p["kind"] == "api"]
    assert {p["probe"] for p in apis} == {f"api@{h}" for h in ("node1", "node2", "node3")}
    assert all(p["failures"] > 0 and p["availability"] < 100.0 for p in apis), apis
    window = doc["outage"]
    assert window["status"] == "measured" and 0 < window["duration"] < 600, window
    assert window["api_hosts"] == ["node1", "node2", "node3"], window
    assert doc["evidence"]["loadbalancers"]["failed_over"] is False
    objects = doc["evidence"]["objects"]
    assert (objects["before_step"], objects["after_step"]) == (
        "lb-snapshot-before", "lb-snapshot-after")
    assert objects["after_counts"] == objects["before_counts"] and objects["changes"] == []
    revs = doc["evidence"]["db_revisions"]
    assert any(r.get("after") == EPOXY_HEAD for r in revs), revs
    det = json.loads(_cli(state, "detect", "-i", str(lab.inventory_file), "-f", "json").stdout)
    assert det["release"] == "epoxy" and det["db_revision"] == EPOXY_HEAD



def test_epoxy_to_flamingo_fails_over_only_the_udp_load_balancers(lab, tmp_path: Path) -> None:
    """Scenario (a), end to end: the whole epoxy-to-flamingo runbook on the lab the cold
    upgrade above left at Epoxy. Its failover step selects the UDP load balancers only;
    each has its evidence, and the snapshots before and after are compared."""
    from octavia_upgrade.catalog import load_catalog
    from octavia_upgrade.lab import wheelhouse
    from octavia_upgrade.lab.api import OctaviaApi

    state = tmp_path / "state"
    det = json.loads(_cli(state, "detect", "-i", str(lab.inventory_file), "-f", "json").stdout)
    assert det["release"] == "epoxy", (
        "this test continues from the cold upgrade above, which leaves the lab at Epoxy; "
        f"the lab is at {det['release']}")
    # What an operator does for the hop: install from Flamingo's packages and pins.
    inventory = tmp_path / "inventory.yaml"
    doc = yaml.safe_load(lab.inventory_file.read_text())
    doc["vars"]["pip_args"] = wheelhouse.ensure("flamingo", log=lambda _m: None).pip_args()
    inventory.write_text(yaml.safe_dump(doc, sort_keys=False))
    api = OctaviaApi(lab.state()["apis"][0])

    def amphorae() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for a in api.amphorae():
            if a.get("status") == "ALLOCATED" and a.get("loadbalancer_id"):
                out.setdefault(a["loadbalancer_id"], set()).add(a["id"])
        return out

    lbs = {lb["id"]: lb for lb in lab.state()["loadbalancers"]}
    udp = {i for i, lb in lbs.items() if lb["protocol"] == "UDP"}
    assert udp and set(lbs) - udp, lbs  # some to fail over, some to leave alone
    before = amphorae()
    status_cmd = f"{sys.executable} -m octavia_upgrade lab status --dir {lab.dir} -f json"
    res = _cli(state, "run", "epoxy-to-flamingo", "-i", str(inventory), "--yes",
               "--param", f"backup_dir={tmp_path / 'backups'}",
               "--param", f"loadbalancer_status_command={status_cmd}")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    det = json.loads(_cli(state, "detect", "-i", str(inventory), "-f", "json").stdout)
    assert det["release"] == "flamingo"
    assert det["db_revision"] == load_catalog().get("flamingo").alembic_head

    after = amphorae()
    for lb_id, lb in lbs.items():
        if lb_id in udp:
            assert after[lb_id] and not after[lb_id] & before[lb_id], f"{lb['name']} kept it"
        else:
            assert after[lb_id] == before[lb_id], f"{lb['name']} is not UDP but failed over"
        api.wait_lb(lb_id, "ACTIVE", "ONLINE", timeout=120)

    run_id = _runs(state)[-1]["id"]
    report = _report(state, run_id)
    (fo,) = report["evidence"]["failovers"]
    by_id = {r["id"]: r for r in fo["results"]}
    assert set(by_id) == udp
    for lb_id, r in by_id.items():
        assert r["status"] == "succeeded" and r["duration"] > 0
        assert (set(r["old_amphorae"]), set(r["new_amphorae"])) == (before[lb_id], after[lb_id])
    assert fo["totals"]["succeeded"] == len(udp) and fo["totals"]["failed"] == 0
    # The VIPs the lab serves (HTTP and TCP) never stopped answering.
    vips = [p for p in report["probes"] if p["kind"] == "vip"]
    assert vips and all(p["failures"] == 0 for p in vips), vips
    # Before the outage and once the API is back: the same objects, the same statuses.
    objects = report["evidence"]["objects"]
    assert (objects["before_step"], objects["after_step"]) == (
        "lb-snapshot-before", "lb-snapshot-after")
    assert objects["after_counts"] == objects["before_counts"]
    assert objects["changes"] == [], objects["changes"]
    md = _cli(state, "report", run_id).stdout
    section = md.split("### Amphora failovers", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{lb_id}`" in section for lb_id in udp)
    assert not any(f"`{lb_id}`" in section for lb_id in set(lbs) - udp)
    assert "### Load-balancer objects before and after" in md
