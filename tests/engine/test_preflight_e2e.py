"""Preflight end to end: real CLI, real SSH, simulated control plane (see simlab.py)."""

from __future__ import annotations

import json

import yaml

import pytest

from simlab import NODES, Sim
from test_run_e2e import cold_upgrade_steps, run_json

pytestmark = pytest.mark.lab


def test_missing_prerequisites_on_two_hosts_are_all_listed_and_nothing_stops(sim: Sim) -> None:
    (sim.root / "node2" / "units" / "sim-driver-agent").unlink()
    (sim.root / "node3" / "units" / "sim-worker").unlink()
    (sim.root / "disk-full").touch()
    rb = sim.runbook("pre", cold_upgrade_steps(sim.tmp / "backups"))
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--yes")
    assert res.returncode == 3, res.stdout + res.stderr
    err = res.stderr
    assert "3 prerequisites missing; nothing was changed" in err
    assert "node2: unit sim-driver-agent exists (needed by stop-driver-agent, start-services)" in err
    assert "node3: unit sim-worker exists (needed by stop-worker, start-services)" in err
    assert "node1: backup folder" in err and "has room for the dump" in err
    assert "Traceback" not in err
    # nothing ran, every service still runs
    assert sim.ops() == []
    for n in NODES:
        assert sorted(p.name for p in (sim.root / n / "run").iterdir()) == [
            "sim-api", "sim-driver-agent", "sim-health-manager", "sim-housekeeping",
            "sim-worker"]
    # the attempt is kept as evidence: a refused run, no step result, no lock held
    (run,) = run_json(sim)
    assert run["status"] == "refused"
    assert f"recorded as run {run['id']} (refused by the preflight; nothing ran)" in res.stdout
    shown = json.loads(sim.cli("show", run["id"], "-f", "json").stdout)
    assert shown["results"] == [] and shown["lock"] is None
    (refused,) = [e for e in shown["events"] if e["kind"] == "refused"]
    assert refused["data"]["by"] == "preflight"
    assert {(m["host"], m["item"]) for m in refused["data"]["missing"]} >= {
        ("node2", "unit sim-driver-agent exists"), ("node3", "unit sim-worker exists")}
    report = sim.cli("report", run["id"])
    assert report.returncode == 0, report.stderr
    assert "refused by the preflight before the first step: preflight: 3 prerequisites " \
        "missing; nothing was changed" in report.stdout
    assert "did not run" not in report.stdout  # one line says so, not one per step
    # there is nothing to resume: exit 3, the way forward named, still nothing ran
    again = sim.cli("resume", run["id"], "--yes")
    assert again.returncode == 3, again.stdout + again.stderr
    assert f"run {run['id']} was refused before its first step and nothing ran" in again.stderr
    assert sim.ops() == []


def test_a_refused_run_is_announced_to_the_webhooks(sim: Sim) -> None:
    from webhookrecv import Receiver, closed_port_url

    (sim.root / "node3" / "units" / "sim-worker").unlink()
    rb = sim.runbook("pre-hook", cold_upgrade_steps(sim.tmp / "backups"))
    secret = "whsec-refused-0123"
    with Receiver(secret) as rx:
        conf = sim.tmp / "hooks.conf"
        conf.write_text(f"[webhooks]\nurl = {rx.url}\nurl = {closed_port_url()}\n"
                        f"secret = {secret}\nattempts = 1\ntimeout = 1\ndrain = 5\n")
        res = sim.cli("--config-file", str(conf), "run", str(rb), "-i", str(sim.inventory),
                      "--yes", "--change", "CHG0078")
    assert res.returncode == 3, res.stdout + res.stderr
    (run,) = run_json(sim)
    assert run["status"] == "refused" and sim.ops() == []
    assert rx.bad_signatures == 0 and rx.kinds() == ["run-refused"]
    (event,) = rx.events
    assert event["run"]["id"] == run["id"] and event["run"]["change"]["id"] == "CHG0078"
    assert event["data"]["by"] == "preflight" and event["data"]["missing"] == 1
    assert "node3: unit sim-worker exists" in event["data"]["message"]
    # the dead receiver: on the console and recorded with the refused run
    assert "event run-refused not delivered after 1 attempt(s)" in res.stdout + res.stderr
    shown = json.loads(sim.cli("show", run["id"], "-f", "json").stdout)
    assert any(e["kind"] == "webhook-failed" for e in shown["events"])


def test_prerequisites_are_in_the_plan_and_a_complete_deployment_passes(sim: Sim) -> None:
    rb = sim.runbook("pre-ok", cold_upgrade_steps(sim.tmp / "backups"))
    plan = sim.cli("plan", str(rb), "-i", str(sim.inventory), "--no-detect", "-f", "yaml")
    assert plan.returncode == 0, plan.stderr
    steps = {s["id"]: s for s in yaml.safe_load(plan.stdout)["steps"]}
    checks = steps["stop-worker"]["prerequisites"]
    assert [(c["host"], c["description"]) for c in checks] == [
        (n, "unit sim-worker exists") for n in NODES]
    report = sim.cli("plan", str(rb), "-i", str(sim.inventory), "--no-detect", "-f", "markdown")
    assert ("| node3 | unit sim-worker exists | stop-worker, start-services | not checked |"
            in report.stdout)
    as_json = sim.cli("plan", str(rb), "-i", str(sim.inventory), "--no-detect", "-f", "json")
    assert {"host": "node3", "description": "unit sim-worker exists",
            "steps": ["stop-worker", "start-services"], "state": "not checked"}.items() <= next(
        p for p in yaml.safe_load(as_json.stdout)["preflight"]
        if (p["host"], p["description"]) == ("node3", "unit sim-worker exists")).items()
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    logged = sorted((sim.root / "checks.log").read_text().splitlines())
    assert logged == sorted({f"{c['host']} {c['check'].split(' ', 3)[3]}"
                             for s in steps.values() for c in s["prerequisites"]})


def test_skip_preflight_runs_without_the_checks(sim: Sim) -> None:
    (sim.root / "disk-full").touch()
    rb = sim.runbook("pre-skip", cold_upgrade_steps(sim.tmp / "backups"))
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--yes", "--skip-preflight")
    assert res.returncode == 0, res.stdout + res.stderr
    assert not (sim.root / "checks.log").exists()
    assert [h for h, act, _a in sim.ops() if act == "backup"] == ["node1"]
    run_id = run_json(sim)[0]["id"]
    report = sim.cli("report", run_id, "-f", "markdown")
    assert "preflight skipped (--skip-preflight)" in report.stdout, report.stderr


def test_the_plan_report_gives_each_prerequisites_state_checked_read_only(sim: Sim) -> None:
    import json

    (sim.root / "node3" / "units" / "sim-worker").unlink()
    rb = sim.runbook("pre-state", cold_upgrade_steps(sim.tmp / "backups"))
    res = sim.cli("plan", str(rb), "-i", str(sim.inventory), "-f", "json")
    assert res.returncode == 0, res.stderr  # the plan is made; the run would be refused
    assert ("warning: preflight: node3: unit sim-worker exists is missing (rc 1: no unit "
            "sim-worker); `run` refuses to start until it is there") in res.stderr
    items = {(p["host"], p["description"]): p for p in json.loads(res.stdout)["preflight"]}
    missing = items[("node3", "unit sim-worker exists")]
    assert missing["state"] == "missing" and missing["why"].startswith("rc ")
    assert missing["steps"] == ["stop-worker", "start-services"]
    assert items[("node1", "unit sim-worker exists")]["state"] == "present"
    assert {p["state"] for k, p in items.items() if k != ("node3", "unit sim-worker exists")} \
        == {"present"}
    md = sim.cli("plan", str(rb), "-i", str(sim.inventory), "-f", "markdown").stdout
    assert "| node3 | unit sim-worker exists | stop-worker, start-services | **missing**: rc" in md
    assert sim.ops() == [] and run_json(sim) == []  # checked, nothing changed or recorded
    offline = sim.cli("plan", str(rb), "-i", str(sim.inventory), "--no-detect", "-f", "json")
    assert {p["state"] for p in json.loads(offline.stdout)["preflight"]} == {"not checked"}
