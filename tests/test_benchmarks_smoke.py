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
