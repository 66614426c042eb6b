"""Smoke test of ``benchmarks/run``: one node, a few steps, every section once.

Keeps the benchmark scripts from rotting; the figures themselves are not
judged here (they are measured by ``benchmarks/run`` on a quiet machine and
published in docs/performance.md). What is checked is what a reader of the
output relies on: every section printed, the three ways did the same work,
and the JSON holds a figure for each.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from octavia_upgrade.lab.nodes import unavailable_reason

ROOT = Path(__file__).resolve().parent.parent
#: Outside the checkout, so fresh clones on this machine reuse one install.
VENV = Path(os.environ.get("OCTAVIA_BENCH_VENV")
            or Path.home() / ".cache" / "octavia-upgrade" / "bench-venv")


@pytest.mark.slow
def test_runner_prints_every_figure_at_one_node(tmp_path: Path) -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"lab sshd nodes unavailable: {reason}")
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [str(ROOT / "benchmarks" / "run"), "--nodes", "1", "--steps", "4", "--repeat", "1",
         "--history", "5", "--extra-steps", "5", "--runs", "2", "--samples", "20",
         "--no-warmup", "--net", "127.42.201",
         "--json", str(out)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "OCTAVIA_BENCH_VENV": str(VENV)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    for heading in ("== 1. the workload", "== 2. cost per (step, host)",
                    "== 3. start-up and lint", "== 4. resume", "== 5. memory", "== summary"):
        assert heading in text
    assert "identical across the three" in text
    figures = json.loads(out.read_text())
    cell = figures["workload"]["1-rolling"]
    assert cell["ops_per_host"] > 4  # service steps run an action and its check
    for method in ("octavia-upgrade", "ansible-playbook", "ssh loop"):
        assert cell[method]["wall"] > 0
    assert figures["per_step"]["ssh_controlmaster_per_command"] > 0
    # A step of `sleep 1` costs its second of work. The figure is a slope
    # between two timed runs, so noise moves it by some milliseconds either
    # way; a step that did not run the command would cost about 0.01 s.
    assert 0.9 <= figures["per_step"]["work_step_1"] < 2.0
    assert figures["startup"]["lint_files"] == len(list((ROOT / "runbooks").glob("*.yaml")))
    assert figures["resume"]["busy"]["runs_in_db"] >= 6
    assert figures["memory"]["maxrss_kib"] > 10_000


def _recorded_run(store: Any, run_id: str, stop_at: float, back_at: float,
                  params: dict[str, Any]) -> None:
    """A finished dalmatian → epoxy run: stop on node1 at ``stop_at`` s, the API back
    on both nodes at ``back_at`` s, a VIP that missed 0.6 s."""
    from datetime import datetime, timedelta, timezone

    from octavia_upgrade.probeseries import ProbeTarget, Tally

    t0 = datetime(2026, 12, 5, 21, 0, tzinfo=timezone.utc)
    store.create_run(run_id=run_id, runbook_name="dalmatian-to-epoxy", runbook_path="/rb.yaml",
                     runbook_sha256="0" * 64, runbook_revision=1, from_release="dalmatian",
                     to_release="epoxy", deployment="lab", inventory_path=None, user="u",
                     hostname="h", pid=1, params=params, plan=None, provenance={},
                     started_at=t0)
    for host in ("node1", "node2"):
        store.clock = lambda: t0 + timedelta(seconds=stop_at - 0.2)
        rid = store.record_start(run_id, "stop-housekeeping", host, 1)
        store.clock = lambda: t0 + timedelta(seconds=stop_at + 1.5)
        store.record_end(rid, "succeeded", 0, commands=[{
            "key": "stop:housekeeping", "planned": "x", "sent": "x",
            "at": (t0 + timedelta(seconds=stop_at)).isoformat()}])
    series = []
    for name, kind, down in (("api@node1", "api", (stop_at + 1, back_at - 1)),
                             ("api@node2", "api", (stop_at + 1, back_at)),
                             ("lab-vip", "vip", (3.0, 3.6))):
        tally = Tally(ProbeTarget(name, kind, "http://x/", 0.2, 1.0,
                                  host=name[4:] if kind == "api" else None))
        for i in range(int((back_at + 10) * 5)):
            t = round(i * 0.2, 1)
            tally.add(t0 + timedelta(seconds=t), not down[0] <= t < down[1], 2.0)
        series.append(tally.series())
    store.record_probe_series(run_id, series)
    store.set_run_status(run_id, "succeeded")


def test_outage_benchmark_prints_both_windows_ratio_and_goals(tmp_path: Path) -> None:
    """``benchmarks/outage`` from recorded runs (``--from-state``): the lab part is
    the same code with a lab in front; here no lab is started."""
    import sys

    from octavia_upgrade.state import open_store

    state = tmp_path / "state"
    with open_store(None, state) as store:
        _recorded_run(store, "guide", 10.0, 50.0, {"stage_before_outage": False})
        _recorded_run(store, "prepared", 10.0, 28.0, {})
    out = tmp_path / "outage.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "outage"), "--from-state", str(state),
         "--guide", "guide", "--prepared", "prepared", "--json", str(out)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert "window: 40.0 s (first stop" in text and "window: 18.0 s (first stop" in text
    assert "VIP lab-vip:" in text and "longest gap 600 ms" in text
    assert "stop-housekeeping" in text and "(between steps / readiness)" in text
    assert "ratio prepared / guide: 0.45" in text
    assert "PASS  prepared ≤ 0.5 × guide-order window" in text
    assert "PASS  prepared window ≤ 20 s" in text
    figures = json.loads(out.read_text())
    assert figures["guide_window"] == 40.0 and figures["prepared_window"] == 18.0
    assert figures["goals"] == {"ratio": True, "prepared": True}

    # The guide order alone: the prepared goals are printed as not measured.
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "outage"), "--from-state", str(state),
         "--guide", "guide"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "MISS  prepared window ≤ 20 s (not measured)" in proc.stdout
