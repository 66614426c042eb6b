"""Execution reports built from runs written through the real Store (SQLite)."""

from __future__ import annotations

import pytest

from octavia_upgrade.reports import execution_report


def _report(stored, name):  # type: ignore[no-untyped-def]
    return execution_report(**stored(name), generated_at="2026-11-25T17:00:00Z")


def test_successful_run_outcome_downtime_and_evidence(stored) -> None:  # type: ignore[no-untyped-def]
    r = _report(stored, "successful")
    assert r.outcome.status == "succeeded" and r.outcome.ok
    assert r.run.user == "alice" and r.run.hostname == "ops-bastion"
    assert r.run.from_release.label == "2024.2 Dalmatian"
    assert r.run.to_release.label == "2025.1 Epoxy"
    # First stop started 16:00:38 on ctl1; last verified start ended 16:03:04 on ctl2.
    assert r.downtime is not None and not r.downtime.open
    assert r.downtime.start == "2026-11-25T16:00:38Z"
    assert r.downtime.end == "2026-11-25T16:03:04Z"
    assert r.downtime.duration == pytest.approx(146.5)
    assert r.downtime.first_stop == "stop-control-plane on ctl1"
    e = r.evidence
    assert e.backups[0].sha256 == "ab" * 32 and e.backups[0].size == 1843211
    assert (e.db_revisions[0].before, e.db_revisions[0].after) == ("db2a73e82626", "fabf4983846b")
    assert e.db_revisions[0].at_expected is True
    assert {(v.host, v.octavia_before, v.octavia_after) for v in e.versions} == {
        ("ctl1", "15.1.0", "16.0.1"), ("ctl2", "15.1.0", "16.0.1")}
    assert e.upgrade_checks[0].outcome == "warning"
    assert [f.option for c in e.config_checks for f in c.findings] == ["amp_image_id"]
    assert e.loadbalancers is not None and e.loadbalancers.failed_over is False
    assert r.probes[0].availability == 100.0 and r.probes[0].failures == 0
    assert r.approvals[0].user == "alice" and r.approvals[0].how == "prompt"
    # The retry on ctl1 is a deviation; the guarded skip is listed after it.
    assert [d.kind for d in r.deviations] == ["retried", "skipped"]
    pk = next(s for s in r.steps if s.id == "upgrade-packages")
    ctl1 = next(h for h in pk.hosts if h.host == "ctl1")
    assert ctl1.attempts == 2 and ctl1.status == "succeeded"
    assert ctl1.duration == pytest.approx(48.0)
    assert r.comparison.not_run == ()


def test_failed_run_lists_failure_first_and_steps_not_run(stored) -> None:  # type: ignore[no-untyped-def]
    r = _report(stored, "failed")
    assert r.outcome.status == "failed" and not r.outcome.ok
    assert r.deviations[0].kind == "failed" and r.deviations[0].step_id == "db-migrate"
    assert "Can't connect to MySQL" in r.deviations[0].message or "rc 1" in r.deviations[0].message
    assert "db-migrate" in r.outcome.summary
    assert set(r.comparison.not_run) == {"start-control-plane", "wait-api", "failover-udp",
                                         "lb-after"}
    assert r.evidence.db_revisions[0].at_expected is False
    # The finally step started the services again, which closes the window.
    assert r.downtime is not None and r.downtime.last_healthy == "ensure-started on ctl2"


def test_resumed_run_shows_interruption_unknown_and_resume(stored) -> None:  # type: ignore[no-untyped-def]
    r = _report(stored, "resumed")
    kinds = [d.kind for d in r.deviations]
    assert "interrupted" in kinds and "resumed" in kinds
    retried = next(d for d in r.deviations if d.kind == "retried")
    assert retried.host == "ctl2" and "attempt 1 unknown" in retried.message
    assert [e.kind for e in r.events] == ["interrupted", "resumed"]


def test_rolled_back_run_failover_and_probe_gap(stored) -> None:  # type: ignore[no-untyped-def]
    r = _report(stored, "rolled_back")
    assert r.outcome.status == "rolled_back"
    assert [d.kind for d in r.deviations][:2] == ["failed", "rolled_back"]
    phases = {s.id: s.phase for s in r.steps}
    assert phases["restore-db"] == "rollback" and phases["ensure-started"] == "finally"
    lb = r.evidence.loadbalancers
    assert lb is not None and lb.failed_over is True
    assert lb.failovers[0].loadbalancer_id == "lb-3c4d"
    assert lb.failovers[0].replaced == ("amp-0003",) and lb.failovers[0].new == ("amp-0009",)
    p = r.probes[0]
    assert p.failures == 3 and p.longest_gap == pytest.approx(6.0)
    assert p.availability == pytest.approx(100 * (p.samples - 3) / p.samples, abs=0.001)


def test_report_needs_no_plan(stored) -> None:  # type: ignore[no-untyped-def]
    recs = stored("successful")
    from dataclasses import replace

    recs["run"] = replace(recs["run"], plan=None)
    r = execution_report(**recs)
    assert not r.comparison.planned
    assert r.run.to_release.label == "2025.1 Epoxy"  # from the catalog
    assert r.steps[0].id == "upgrade-check"
