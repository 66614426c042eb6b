"""amphora_failover on the real lab: the runbook's step, rate control and evidence.

Scenario (a) of the failover work: several load balancers, some with UDP
listeners, and the epoxy-to-flamingo runbook's failover step run as is
(as a one-step runbook from the lab's release to the next:
``OCTAVIA_UPGRADE_TEST_LAB_RELEASE=epoxy`` makes it exactly epoxy→flamingo).
Only the UDP load balancers change amphorae, each with its evidence, and the
execution report shows them. Then rate control where its behaviour matters:
a canary first and ``max_concurrency`` as a percentage, and ``max_errors``
stopping new failovers (failovers given less time than they take).

The lab's amphora emulation heartbeats every ALLOCATED amphora the API
lists, so a failover through the real API ends with a new amphora ONLINE.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.lab.api import LAB_SUBNET, OctaviaApi
from octavia_upgrade.resources import runbooks_dir

pytestmark = [pytest.mark.lab]

FLEET = (("fo-udp-a", "UDP", 53), ("fo-udp-b", "UDP", 5353), ("fo-tcp-c", "TCP", 8080))


def _cli(state: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})


@pytest.fixture(scope="module")
def fleet(lab) -> Any:
    """Three more load balancers (two UDP, one TCP) beside lab-lb1, ACTIVE/ONLINE."""
    api = OctaviaApi(lab.state()["apis"][0])
    ids: dict[str, str] = {}
    try:
        for name, protocol, port in FLEET:
            lb = api.post("/v2/lbaas/loadbalancers", {"loadbalancer": {
                "name": name, "vip_subnet_id": LAB_SUBNET, "provider": "amphora"}})
            ids[name] = lb["loadbalancer"]["id"]
        for name, protocol, port in FLEET:
            api.wait_lb(ids[name], timeout=180)
            api.post("/v2/lbaas/listeners", {"listener": {
                "name": f"{name}-listener", "protocol": protocol, "protocol_port": port,
                "loadbalancer_id": ids[name]}})
        for lb_id in ids.values():
            api.wait_lb(lb_id, "ACTIVE", "ONLINE", timeout=180)
        # The lab's own load balancers (lab up --loadbalancers) are failed over too.
        for lb in lab.state().get("loadbalancers") or [{"id": lab.state()["lb"]["id"],
                                                         "name": "lab-lb1"}]:
            ids[lb["name"]] = lb["id"]
        yield api, ids
    finally:
        for name, lb_id in ids.items():
            if name in {n for n, _p, _port in FLEET}:
                try:
                    api.wait_lb(lb_id, timeout=120)
                    api.request("DELETE", f"/v2/lbaas/loadbalancers/{lb_id}?cascade=true")
                except Exception:  # noqa: BLE001 - best effort; lab down removes the rest
                    pass


def _amphorae(api: OctaviaApi) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a in api.amphorae():
        if a.get("status") == "ALLOCATED" and a.get("loadbalancer_id"):
            out.setdefault(a["loadbalancer_id"], set()).add(a["id"])
    return out


def _runbook(lab, tmp_path: Path, step: dict[str, Any]) -> Path:
    release = lab.state()["release"]
    names = load_catalog().names()
    path = tmp_path / "failover.yaml"
    path.write_text(yaml.safe_dump({
        "apiVersion": "octavia-upgrade/v2", "kind": "Runbook",
        "metadata": {"name": "failover", "from": release,
                     "to": names[names.index(release) + 1], "revision": 1},
        "steps": [step]}, sort_keys=False))
    return path


def _run(lab, tmp_path: Path, step: dict[str, Any]) -> tuple[subprocess.CompletedProcess[str],
                                                             dict[str, Any], Path]:
    state = tmp_path / "state"
    res = _cli(state, "run", str(_runbook(lab, tmp_path, step)), "-i", str(lab.inventory_file),
               "--yes")
    runs = json.loads(_cli(state, "runs", "-f", "json").stdout)
    report = json.loads(_cli(state, "report", runs[0]["id"], "-f", "json").stdout)
    return res, report, state


def _udp(lab, ids: dict[str, str]) -> set[str]:
    """The load balancers with a UDP listener: the fleet's and the lab's own."""
    fleet = {ids[name] for name, protocol, _port in FLEET if protocol == "UDP"}
    return fleet | {lb["id"] for lb in lab.state().get("loadbalancers") or ()
                    if lb.get("protocol") == "UDP"}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _utc(text: str) -> datetime:
    """An API time (Octavia's carry no zone: UTC)."""
    at = _at(text)
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def test_the_flamingo_step_fails_over_only_the_udp_load_balancers_with_evidence(
        lab, fleet, tmp_path: Path) -> None:
    api, ids = fleet
    rb = yaml.safe_load((runbooks_dir() / "epoxy-to-flamingo.yaml").read_text())
    step = next(s for s in rb["steps"] if s["id"] == "failover-udp-and-default-cipher-lbs")
    before = _amphorae(api)

    res, report, state = _run(lab, tmp_path, step)

    assert res.returncode == 0, res.stdout + res.stderr
    after = _amphorae(api)
    udp = _udp(lab, ids)
    for name, lb_id in ids.items():
        if lb_id in udp:
            assert after[lb_id] and not after[lb_id] & before[lb_id], f"{name} kept its amphora"
        else:
            assert after[lb_id] == before[lb_id], f"{name} was failed over but is not UDP"
        assert api.loadbalancer(lb_id)["provisioning_status"] == "ACTIVE"
    # The approval listed exactly the selected load balancers.
    assert f"Fail over {len(udp)} load balancer(s)" in res.stdout
    (fo,) = report["evidence"]["failovers"]
    assert fo["filter"] == ["provider amphora", "a listener of protocol UDP or TERMINATED_HTTPS"]
    by_id = {r["id"]: r for r in fo["results"]}
    assert set(by_id) == udp
    for lb_id, r in by_id.items():
        assert r["status"] == "succeeded"
        assert set(r["old_amphorae"]) == before[lb_id]
        assert set(r["new_amphorae"]) == after[lb_id]
        assert r["duration"] > 0
        # The lab's VIPs of these load balancers do not answer: said, not counted as downtime.
        assert not r["vip_probed"] and r["vip_note"]
    assert [r["canary"] for r in fo["results"]] == [True] + [False] * (len(udp) - 1)
    assert fo["totals"]["succeeded"] == len(udp) and fo["totals"]["failed"] == 0
    md = _cli(state, "report", report["run"]["id"], "-f", "markdown").stdout
    section = md.split("### Amphora failovers", 1)[1].split("\n## ", 1)[0]
    for lb_id in udp:
        assert f"`{lb_id}`" in section
    assert ids["fo-tcp-c"] not in section
    assert f"{len(udp)} succeeded, 0 failed" in section


def test_a_canary_first_then_max_concurrency_as_a_percentage(lab, fleet, tmp_path) -> None:
    api, ids = fleet
    res, report, _ = _run(lab, tmp_path, {
        "id": "recycle", "name": "Recycle every amphora", "kind": "amphora_failover",
        "data_plane_impact": "seconds per VIP",
        "with": {"canary": 1, "max_concurrency": "50%", "max_errors": 0}})
    assert res.returncode == 0, res.stdout + res.stderr
    (fo,) = report["evidence"]["failovers"]
    results = fo["results"]
    assert {r["id"] for r in results} == set(ids.values())  # every amphora load balancer
    assert all(r["status"] == "succeeded" for r in results)
    canary, rest = results[0], results[1:]
    assert canary["canary"] and not any(r["canary"] for r in rest)
    canary_end = _at(canary["started_at"]) + timedelta(seconds=canary["duration"])
    assert all(_at(r["started_at"]) >= canary_end for r in rest)
    # 50% of the load balancers at once after the canary (rounded up): never more, and
    # the pool was used.
    spans = [(_at(r["started_at"]), _at(r["started_at"]) + timedelta(seconds=r["duration"]))
             for r in rest]
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlap == min(math.ceil(len(results) / 2), len(rest))
    # The lab's own VIP (haproxy, the inventory's probe) was probed at 5 Hz throughout.
    lab_lb = next(r for r in results if r["id"] == ids["lab-lb1"])
    assert lab_lb["vip_probed"] and lab_lb["vip_samples"] >= 3
    assert lab_lb["vip_availability"] == 100.0


def test_max_errors_exceeded_stops_new_failovers_and_fails_the_step(lab, fleet,
                                                                     tmp_path) -> None:
    api, ids = fleet
    before = _amphorae(api)
    # Failovers given 300 ms while they take more than a second: each is a failure.
    res, report, _ = _run(lab, tmp_path, {
        "id": "too-fast", "name": "Fail over with too short a wait", "kind": "amphora_failover",
        "data_plane_impact": "seconds per VIP",
        "with": {"canary": 0, "max_concurrency": 1, "max_errors": 1, "wait_timeout": "300ms",
                 "probe_vip": False}})
    assert res.returncode == 1, res.stdout + res.stderr
    (fo,) = report["evidence"]["failovers"]
    statuses = [r["status"] for r in fo["results"]]
    assert statuses == ["failed", "failed"] + ["not_started"] * (len(ids) - 2)
    assert all("after 0.3s" in r["error"] for r in fo["results"][:2])
    assert all("max_errors exceeded" in r["error"] for r in fo["results"][2:])
    step = next(s for s in report["steps"] if s["id"] == "too-fast")
    assert step["status"] == "failed"
    # Those not started kept their amphorae; the API finishes the two it was asked for.
    for r in fo["results"][2:]:
        assert _amphorae(api)[r["id"]] == before[r["id"]]
    for r in fo["results"][:2]:
        api.wait_lb(r["id"], "ACTIVE", timeout=120)


def test_snapshots_before_and_after_and_a_canary_through_the_api(lab, fleet, tmp_path) -> None:
    """Grenade's check: the canary comes and goes unseen; a new object is a deviation."""
    api, ids = fleet
    script = tmp_path / "add_listener.py"
    script.write_text(
        "import sys, time\n"
        "from octavia_upgrade.lab.api import OctaviaApi\n"
        "api = OctaviaApi(sys.argv[1])\n"
        "api.post('/v2/lbaas/listeners', {'listener': {'name': 'fo-extra', 'protocol': 'TCP',"
        " 'protocol_port': 9999, 'loadbalancer_id': sys.argv[2]}})\n"
        "api.wait_lb(sys.argv[2], 'ACTIVE', 'ONLINE', timeout=120)\n")
    create_listener = (f"PYTHONPATH={os.pathsep.join(sys.path)} {sys.executable} {script} "
                       f"{lab.state()['apis'][0]} {ids['fo-tcp-c']}")
    rb = _runbook(lab, tmp_path, {"id": "snapshot-before", "name": "Snapshot before",
                                  "kind": "lb_snapshot", "with": {"label": "before"}})
    doc = yaml.safe_load(rb.read_text())
    doc["steps"] += [
        {"id": "canary", "name": "Canary load balancer", "kind": "canary",
         "with": {"vip_subnet_id": LAB_SUBNET, "wait_timeout": "3m"}},
        {"id": "add-listener", "name": "A listener appears", "kind": "local",
         "with": {"command": create_listener}},
        {"id": "snapshot-after", "name": "Snapshot after", "kind": "lb_snapshot",
         "with": {"label": "after"}}]
    rb.write_text(yaml.safe_dump(doc, sort_keys=False))
    state = tmp_path / "state"
    res = _cli(state, "run", str(rb), "-i", str(lab.inventory_file), "--yes")
    try:
        assert res.returncode == 0, res.stdout + res.stderr
        run_id = json.loads(_cli(state, "runs", "-f", "json").stdout)[0]["id"]
        report = json.loads(_cli(state, "report", run_id, "-f", "json").stdout)
        objects = report["evidence"]["objects"]
        assert objects["before_counts"]["loadbalancer"] == len(ids)
        # The canary was created, ONLINE, and deleted: not in either snapshot's comparison.
        canary = next(s for s in report["steps"] if s["id"] == "canary")
        assert canary["status"] == "succeeded"
        assert not any(lb["name"].startswith("octavia-upgrade-canary-")
                       for lb in api.loadbalancers())
        appeared = [c for c in objects["changes"] if c["change"] == "appeared"]
        assert [(c["type"], c["name"]) for c in appeared] == [("listener", "fo-extra")]
        assert not [c for c in objects["changes"] if c["change"] == "disappeared"]
        assert any(d["kind"] == "object_appeared" and "fo-extra" in d["message"]
                   for d in report["deviations"])
        md = _cli(state, "report", run_id, "-f", "markdown").stdout
        assert "### Load-balancer objects before and after" in md and "fo-extra" in md
    finally:
        for ls in api.get("/v2/lbaas/listeners")["listeners"]:
            if ls["name"] == "fo-extra":
                api.wait_lb(ids["fo-tcp-c"], timeout=120)
                api.delete(f"/v2/lbaas/listeners/{ls['id']}")
                api.wait_lb(ids["fo-tcp-c"], timeout=120)


def test_a_run_killed_mid_failover_resumes_without_failing_over_twice(lab, fleet,
                                                                        tmp_path) -> None:
    """SIGKILL while a failover is in flight (the workers frozen, so it stays
    PENDING_UPDATE); `resume` reports the attempt unknown, finds the failover through
    the API and waits for it instead of asking for another."""
    import signal
    import time

    api, ids = fleet
    lb_id = ids["fo-tcp-c"]
    before = _amphorae(api)[lb_id]
    nodes = [n["name"] for n in lab.status()["nodes"]]
    state = tmp_path / "state"
    rb = _runbook(lab, tmp_path, {
        "id": "failover", "name": "Fail over one load balancer", "kind": "amphora_failover",
        "data_plane_impact": "seconds per VIP",
        "with": {"loadbalancers": [lb_id], "canary": 0, "max_concurrency": 1,
                 "wait_timeout": "300s", "probe_vip": False}})
    env = {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)}
    for node in nodes:  # every worker: the failover is cast to any of them
        lab.fault(node, "stuck-failover")
    run = resumed = None
    try:
        run = subprocess.Popen([sys.executable, "-m", "octavia_upgrade", "run", str(rb),
                                "-i", str(lab.inventory_file), "--yes"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + 120
        while api.loadbalancer(lb_id)["provisioning_status"] != "PENDING_UPDATE":
            assert run.poll() is None, run.stdout.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the failover was never requested"
            time.sleep(0.2)
        run.send_signal(signal.SIGKILL)  # the engine dies with the failover in flight
        run.communicate(timeout=30)
        run_id = json.loads(_cli(state, "runs", "-f", "json").stdout)[0]["id"]
        resumed = subprocess.Popen([sys.executable, "-m", "octavia_upgrade", "resume", run_id,
                                    "--yes"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, env=env)
        # the resumed step sees the load balancer still PENDING_UPDATE, and waits
        time.sleep(5)
        assert resumed.poll() is None, resumed.stdout.read()  # type: ignore[union-attr]
        assert api.loadbalancer(lb_id)["provisioning_status"] == "PENDING_UPDATE"
    except BaseException:
        for proc in (run, resumed):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
        raise
    finally:
        for node in nodes:  # thawed, the worker carries out the failover it was given
            lab.fault(node, "clear")
    try:
        out, _ = resumed.communicate(timeout=300)
    finally:
        if resumed.poll() is None:  # stopped by its PID whatever happened
            resumed.kill()
            resumed.communicate()
    assert resumed.returncode == 0, out
    assert "outcome unknown; runs again and checks each load balancer through the API" in out
    api.wait_lb(lb_id, "ACTIVE", "ONLINE", timeout=120)
    after = _amphorae(api)[lb_id]
    assert after and not after & before
    # failed over exactly once: the amphorae made for it since the run began are
    # one replacement of the ones it had
    from octavia_upgrade.steps.amphora_failover import run_started

    started = run_started(run_id) - timedelta(seconds=1)
    made = [a for a in api.get(f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")["amphorae"]
            if a.get("created_at") and _utc(a["created_at"]) >= started]
    assert len(made) == len(before), made
    report = json.loads(_cli(state, "report", run_id, "-f", "json").stdout)
    statuses = [r["status"] for r in report["steps"] if r["id"] == "failover"]
    assert statuses == ["succeeded"], report["steps"]
    fo = report["evidence"]["failovers"][-1]
    (res,) = fo["results"]
    assert (res["id"], res["status"], res["resumed"]) == (lb_id, "succeeded", True)
    assert set(res["new_amphorae"]) == after
    md = _cli(state, "report", run_id, "-f", "markdown").stdout
    assert f"| `{lb_id}` (resumed: waited for the failover requested before the run stopped) |" \
        in md
