"""Small helpers shared by the reliability tests."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simlab import Sim


def runs(sim: Sim) -> list[dict[str, Any]]:
    res = sim.cli("runs", "-f", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def shown(sim: Sim, run_id: str) -> dict[str, Any]:
    res = sim.cli("show", run_id, "-f", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def report(sim: Sim, run_id: str) -> dict[str, Any]:
    res = sim.cli("report", run_id, "-f", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def deviations(sim: Sim, run_id: str) -> set[tuple[str, str | None, str | None]]:
    """(kind, step, host) of every deviation the execution report lists."""
    return {(d["kind"], d.get("step_id"), d.get("host")) for d in report(sim, run_id)["deviations"]}


def latest(sim: Sim, run_id: str) -> dict[tuple[str, str], str]:
    return {(r["step_id"], r["host"]): r["status"] for r in shown(sim, run_id)["results"]}


def wait_for(pred: Callable[[], bool], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@contextmanager
def tmpfs(point: Path, size: str, ro: bool = False) -> Iterator[Path]:
    """A private tmpfs at ``point``, unmounted whatever happens."""
    point.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if ro else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)], check=True)
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def no_traceback(res: subprocess.CompletedProcess[str]) -> None:
    out = res.stdout + res.stderr
    assert "Traceback (most recent" not in out and "internal error:" not in out, out
