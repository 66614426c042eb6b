"""Wall time of ``octavia-upgrade lint runbooks/`` against ``python -c pass``.

Usage: ``python benchmarks/lint_speed.py [-n RUNS] [PATH ...]``

Prints the median over N runs of each, including interpreter start, and the
budget (0.4 s for every shipped runbook). Exits 1 when lint is over budget.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 0.4


def median_wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=11)
    parser.add_argument("paths", nargs="*", default=["runbooks/"])
    args = parser.parse_args()
    venv_exe = ROOT / ".venv" / "bin" / "octavia-upgrade"
    exe = str(venv_exe) if venv_exe.exists() else shutil.which("octavia-upgrade")
    lint_cmd = [exe] if exe else [sys.executable, "-m", "octavia_upgrade"]
    python = str(ROOT / ".venv" / "bin" / "python") if venv_exe.exists() else sys.executable
    files = sum(len(list(Path(ROOT, p).glob("**/*.y*ml"))) for p in args.paths)
    base = median_wall([python, "-c", "pass"], args.runs)
    lint = median_wall([*lint_cmd, "lint", *args.paths], args.runs)
    print(f"python -c pass:                {base * 1000:7.1f} ms (median of {args.runs})")
    print(f"octavia-upgrade lint ({files:2d} files): {lint * 1000:7.1f} ms (median of {args.runs})")
    print(f"budget: {BUDGET * 1000:.0f} ms -> {'ok' if lint < BUDGET else 'OVER BUDGET'}")
    return 0 if lint < BUDGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
