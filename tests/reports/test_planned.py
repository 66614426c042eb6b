"""Plan reports: impact, outage window, estimates, recovery, detection."""

from __future__ import annotations

from octavia_upgrade.reports import plan_report, render
from reports import scenarios


def test_outage_window_and_data_plane_impact() -> None:
    r = plan_report(scenarios.plan(), runbook=scenarios.runbook())
    w = r.impact.control_plane
    assert w is not None and (w.first_step, w.last_step) == ("stop-control-plane",
                                                               "start-control-plane")
    assert w.steps == ("stop-control-plane", "backup-db", "upgrade-packages", "db-migrate",
                       "start-control-plane")
    assert r.impact.data_plane == "downtime"
    assert [s.id for s in r.impact.data_plane_steps] == ["failover-udp"]
    md = render(r, "markdown")
    assert "| 11 | **failover-udp: Fail over UDP load balancers** |" in md
    assert r.title == "Octavia upgrade 2024.2 Dalmatian → 2025.1 Epoxy on prod-east"


def test_window_found_without_the_runbook_from_step_names() -> None:
    r = plan_report(scenarios.plan().to_dict())
    assert r.impact.control_plane is not None
    assert r.impact.control_plane.first_step == "stop-control-plane"


def test_estimates_unknown_then_from_history() -> None:
    r = plan_report(scenarios.plan())
    assert r.estimate.total is None
    assert r.estimate.note == "unknown — no earlier run of this runbook"
    hist = {s.id: 10.0 for s in scenarios.plan().steps}
    r = plan_report(scenarios.plan(), history=hist)
    assert r.estimate.total == 110.0 and r.impact.control_plane.estimate == 50.0  # type: ignore[union-attr]
    assert "1m 50s" in render(r, "markdown")


def test_recovery_plan_and_prerequisites() -> None:
    r = plan_report(scenarios.plan(), runbook=scenarios.runbook(),
                    detected={"release": "dalmatian", "db_revision": "db2a73e82626",
                              "db_host": "ctl1",
                              "hosts": [{"host": "ctl1", "octavia": "15.1.0",
                                         "octavia_lib": "3.6.0", "release": "dalmatian"}]})
    assert r.recovery.rollback == ("reinstall-old: Reinstall Dalmatian packages",
                                   "restore-db: Restore the database backup")
    assert r.recovery.backups[0].id == "backup-db"
    assert any("no database downgrade" in n for n in r.recovery.notes)
    assert any("Detected now: release dalmatian" in p for p in r.prerequisites)
    assert r.summary.hosts[0].octavia == "15.1.0"
    assert r.prechecks == ("Run octavia-status upgrade check (upgrade_check on ctl1)",
                           "Check octavia.conf against Epoxy (config_check on ctl1, ctl2)")
    # The approval is shown as rendered for this deployment.
    assert r.procedure[3].approval == "Stop the Octavia control plane on prod-east?"


def test_a_commands_environment_is_part_of_what_the_plan_report_shows() -> None:
    import dataclasses
    import json

    from octavia_upgrade.steps.args import parse

    rb = scenarios.runbook()
    steps = tuple(dataclasses.replace(s, args=parse("local", {
        "command": "openstack loadbalancer list -f json", "capture": "json",
        "env": {"OS_CLOUD": "{{ deployment }}"}})) if s.id == "lb-before" else s
        for s in rb.steps)
    from octavia_upgrade.catalog import load_catalog
    from octavia_upgrade.plan import build_plan

    plan = build_plan(dataclasses.replace(rb, steps=steps), scenarios.inventory(),
                      scenarios.FLAVOR, load_catalog(), {"backup_dir": "/b", "db_password": "x",
                                                         "failover_udp": False})
    r = plan_report(plan, runbook=rb)
    doc = json.loads(render(r, "json"))
    step = next(s for s in doc["procedure"] if s["id"] == "lb-before")
    assert step["commands"]["local"][0]["env"] == {"OS_CLOUD": "prod-east"}
    assert "local: OS_CLOUD=prod-east openstack loadbalancer list -f json" in render(r, "markdown")
