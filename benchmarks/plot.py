"""Plot wall time vs node count from a ``benchmarks/run --json`` file.

Usage (in the benchmark venv, which has matplotlib)::

    benchmarks/.venv-ansible/bin/python benchmarks/plot.py FIGURES.json OUT.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

METHODS = (("octavia-upgrade", "tab:blue"), ("ansible-playbook", "tab:red"),
           ("ssh loop", "tab:gray"))


def main() -> int:
    data = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    cells = data["workload"].values()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, variant, title in ((axes[0], "rolling", "one host at a time (serial: 1)"),
                               (axes[1], "parallel", "all hosts in parallel")):
        rows = sorted((c for c in cells if c["variant"] == variant), key=lambda c: c["nodes"])
        nodes = [c["nodes"] for c in rows]
        for method, colour in METHODS:
            walls = [c[method]["wall"] for c in rows]
            ax.plot(nodes, walls, marker="o", color=colour, label=method)
            for n, w in zip(nodes, walls):
                ax.annotate(f"{w:.1f}s", (n, w), textcoords="offset points", xytext=(4, 4),
                            fontsize=7, color=colour)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(nodes, [str(n) for n in nodes])
        ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.set_xlabel("nodes")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("wall time of the workload (s, log)")
    axes[0].legend()
    fig.suptitle(f"{data['steps']}-step upgrade-shaped workload on bare sshd nodes "
                 f"({data['cpus']} CPUs, load {data['load_start'][0]:.1f} at start)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
