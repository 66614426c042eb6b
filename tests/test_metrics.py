"""Prometheus metrics from a real SQLite state database; the textfile written atomically."""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from octavia_upgrade.metrics import TextfileWriter, render, write_atomically
from octavia_upgrade.state import ProbeSample, open_store, utcnow


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def make_run(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = open_store(None, tmp_path / "state")
    run = store.create_run(runbook_name="dalmatian-to-epoxy", runbook_path="/rb.yaml",
                           runbook_sha256="ab" * 32, runbook_revision=1,
                           from_release="dalmatian", to_release="epoxy", deployment="prod",
                           change_id="CHG1")
    for attempt, status in ((1, "failed"), (2, "succeeded")):
        rid = store.record_start(run.id, "stop-api", "ctl1", attempt, "main")
        store.record_end(rid, status, 0 if status == "succeeded" else 1)
    now = utcnow()
    store.record_probe_samples(run.id, [ProbeSample("web-vip", now, ok) for ok in
                                        (True, True, True, False)])
    store.open_request(run.id, "approve-outage", message="go?", data_plane_impact=None,
                       required=1, four_eyes=False, outage_gate=True, operator="a@b",
                       expires_at=None, on_expiry=None)
    return store, run


def test_a_running_run_as_prometheus_metrics(tmp_path: Path) -> None:
    store, run = make_run(tmp_path)
    try:
        got = samples(render(store))
    finally:
        store.close()
    ids = {("run_id", run.id), ("deployment", "prod")}
    assert got[("octavia_upgrade_run_running", frozenset(ids))] == 1
    assert got[("octavia_upgrade_run_info", frozenset(ids | {
        ("runbook", "dalmatian-to-epoxy"), ("from_release", "dalmatian"),
        ("to_release", "epoxy"), ("status", "running"), ("change", "CHG1")}))] == 1
    assert got[("octavia_upgrade_step_attempts",
                frozenset(ids | {("step_id", "stop-api"), ("host", "ctl1")}))] == 2
    assert got[("octavia_upgrade_vip_availability_ratio",
                frozenset(ids | {("probe", "web-vip")}))] == 0.75
    assert got[("octavia_upgrade_approvals_waiting",
                frozenset(ids | {("step_id", "approve-outage")}))] == 1


def test_the_textfile_is_replaced_atomically_and_kept_current(tmp_path: Path) -> None:
    store, run = make_run(tmp_path)
    prom = tmp_path / "collector" / "octavia_upgrade.prom"
    try:
        writer = TextfileWriter(prom, store, run.id, warn=print, interval=1.0).start()
        old = prom.open()  # holds the first file: a rewrite in place would show through
        first = old.read()
        store.set_run_status(run.id, "succeeded")
        writer("run-finished")
        deadline = time.monotonic() + 5  # the background thread rewrites it within a second
        while 'status="succeeded"' not in prom.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert 'status="succeeded"' in prom.read_text()
        writer.stop()
    finally:
        store.close()
    running = [line for line in prom.read_text().splitlines()
               if line.startswith("octavia_upgrade_run_running{")]
    assert running == [f'octavia_upgrade_run_running{{deployment="prod",run_id="{run.id}"}} 0.0']
    old.seek(0)
    assert old.read() == first and 'status="running"' in first  # replaced by a rename
    old.close()
    assert [p.name for p in prom.parent.iterdir()] == ["octavia_upgrade.prom"]  # no temp left
    assert oct(os.stat(prom).st_mode & 0o777) == "0o644"


def test_write_atomically_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "m.prom"
    write_atomically(target, "a 1\n")
    assert target.read_text() == "a 1\n"
    assert list(tmp_path.iterdir()) == [target]
