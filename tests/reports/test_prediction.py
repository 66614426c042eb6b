"""The plan report predicts the outage from earlier runs of the hop in a real
SQLite state database: none, one and three earlier runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from octavia_upgrade import api
from octavia_upgrade.probeseries import ProbeTarget, Tally
from octavia_upgrade.reports import render_plan_report
from octavia_upgrade.state import open_store

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = str(ROOT / "runbooks" / "dalmatian-to-epoxy.yaml")
INVENTORY = str(ROOT / "inventory" / "native" / "inventory.yaml")


def _earlier(store: Any, n: int, window: float, *, status: str = "succeeded",
             hop: tuple[str, str] = ("dalmatian", "epoxy")) -> str:
    """A finished run whose API was down ``window`` seconds after its first stop."""
    t0 = datetime(2026, 12, 1, tzinfo=timezone.utc) + timedelta(hours=n)
    run = store.create_run(run_id=f"20261201-{n:06d}-abcd", runbook_name="dalmatian-to-epoxy",
                           runbook_path=RUNBOOK, runbook_sha256="0" * 64, runbook_revision=1,
                           from_release=hop[0], to_release=hop[1], deployment="prod",
                           inventory_path=None, user="u", hostname="h", pid=1, params={},
                           plan=None, provenance={}, started_at=t0)
    rid = store.record_start(run.id, "stop-housekeeping", "ctl1", 1)
    store.record_end(rid, "succeeded", 0, commands=[{
        "key": "stop:housekeeping", "planned": "x", "sent": "x",
        "at": (t0 + timedelta(seconds=5)).isoformat()}])
    tally = Tally(ProbeTarget("api@ctl1", "api", "http://ctl1:9876/", 0.2, 1.0, host="ctl1"))
    for i in range(int((window + 20) * 5)):
        t = i * 0.2
        tally.add(t0 + timedelta(seconds=t), not 5.5 <= t < 5 + window, 2.0)
    store.record_probe_series(run.id, [tally.series()])
    store.set_run_status(run.id, status)
    return run.id


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = open_store(None, tmp_path / "state")
    yield s
    s.close()


def _report(store: Any) -> tuple[Any, str]:
    prep = api.plan(RUNBOOK, INVENTORY, detect=False, store=store)
    return prep.predicted_outage, render_plan_report(prep.plan, "markdown",
                                                     inventory=prep.inventory,
                                                     runbook=prep.runbook,
                                                     predicted_outage=prep.predicted_outage)


def test_no_earlier_run_means_no_prediction_and_the_report_says_so(store: Any) -> None:
    # Runs that do not count: another hop, and a failed run of this one.
    _earlier(store, 1, 30.0, hop=("caracal", "dalmatian"))
    _earlier(store, 2, 30.0, status="failed")
    p, text = _report(store)
    assert p.runs == 0 and p.median is None
    assert ("| Predicted API outage (measured in earlier runs) | no history: no earlier "
            "successful run of dalmatian → epoxy with a measured window in the state "
            "database: no prediction |") in text


def test_one_earlier_run_is_a_rough_figure(store: Any) -> None:
    rid = _earlier(store, 1, 41.0)
    p, text = _report(store)
    assert (p.runs, p.median, p.low, p.high, p.run_ids) == (1, 41.0, 41.0, 41.0, (rid,))
    assert "**41.0s** (median of 1 run(s); spread 41.0s–41.0s)" in text
    assert "fewer than 3 runs, a rough figure" in text


def test_three_earlier_runs_give_median_and_spread(store: Any) -> None:
    ids = [_earlier(store, n, w) for n, w in ((1, 18.0), (2, 22.0), (3, 19.0))]
    p, text = _report(store)
    assert (p.runs, p.median, p.low, p.high) == (3, 19.0, 18.0, 22.0)
    assert p.run_ids == tuple(reversed(ids))  # newest first
    assert "**19.0s** (median of 3 run(s); spread 18.0s–22.0s)" in text
    assert "a rough figure" not in text
    html = render_plan_report(api.plan(RUNBOOK, INVENTORY, detect=False, store=store).plan,
                              "html", predicted_outage=p)
    assert "<strong>19.0s</strong>, median of 3 earlier successful run(s)" in html
