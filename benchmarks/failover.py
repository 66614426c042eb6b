"""Failover of many load balancers on the lab at a controlled rate: the figure.

    benchmarks/failover [--lbs 20] [--max-concurrency 5] [--net A.B.C] [--json FILE]
    benchmarks/failover --lab DIR      # an existing full lab (left up)

Brings up a full lab (one node, the given release) unless ``--lab`` names one,
creates load balancers through the real API until there are ``--lbs``, runs
one ``amphora_failover`` step over all of them (a canary, then
``--max-concurrency`` at once) with the engine's CLI, and prints from the
execution report: the step's wall time, each load balancer's failover
duration, VIP availability and longest gap (where the operator machine
reaches the VIP: the lab serves lab-lb1's VIP through haproxy), the machine
and its load. Needs root, like the lab.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def cli(state: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state),
           "PYTHONPATH": str(ROOT / "engine")}
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env)


def loadavg() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def fleet(api: Any, lbs: int) -> float:
    """Create load balancers (TCP listener each) until there are ``lbs``; seconds taken."""
    from octavia_upgrade.lab.api import LAB_SUBNET

    t0 = time.monotonic()
    have = len(api.loadbalancers())
    ids = []
    for i in range(have, lbs):
        lb = api.post("/v2/lbaas/loadbalancers", {"loadbalancer": {
            "name": f"bench-{i:02d}", "vip_subnet_id": LAB_SUBNET, "provider": "amphora"}})
        ids.append(lb["loadbalancer"]["id"])
    for i, lb_id in enumerate(ids):
        api.wait_lb(lb_id, timeout=300)
        api.post("/v2/lbaas/listeners", {"listener": {
            "name": f"bench-{i:02d}-tcp", "protocol": "TCP", "protocol_port": 8000 + i,
            "loadbalancer_id": lb_id}})
    for lb_id in ids:
        api.wait_lb(lb_id, "ACTIVE", "ONLINE", timeout=300)
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks/failover", description=__doc__.split("\n")[0])
    p.add_argument("--lbs", type=int, default=20, help="load balancers in all (default 20)")
    p.add_argument("--max-concurrency", default="5", help="count or percent (default 5)")
    p.add_argument("--canary", type=int, default=1, help="canaries first (default 1)")
    p.add_argument("--net", default="127.42.0", help="the lab's loopback /24 (default 127.42.0)")
    p.add_argument("--release", default="epoxy", help="the lab's release (default epoxy)")
    p.add_argument("--lab", help="use this running full lab instead of bringing one up")
    p.add_argument("--json", help="write the figures to this file")
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "engine"))
    from octavia_upgrade.lab.api import OctaviaApi
    from octavia_upgrade.lab.core import Lab

    work = Path(tempfile.mkdtemp(prefix="octavia-failover-bench-"))
    lab = Lab(a.lab or work / "lab", log=lambda line: print(f"  lab: {line}", file=sys.stderr))
    own = a.lab is None
    load_start = loadavg()
    try:
        if own:
            lab.up(nodes=1, release=a.release, net=a.net, name="bench")
        api = OctaviaApi(lab.state()["apis"][0])
        created = fleet(api, a.lbs)
        rb = work / "failover-bench.yaml"
        release = lab.state()["release"]
        from octavia_upgrade.catalog import load_catalog

        names = load_catalog().names()
        rb.write_text(json.dumps({
            "apiVersion": "octavia-upgrade/v2", "kind": "Runbook",
            "metadata": {"name": "failover-bench", "from": release,
                         "to": names[names.index(release) + 1], "revision": 1},
            "steps": [{"id": "failover-all", "name": "Fail over every load balancer",
                       "kind": "amphora_failover", "data_plane_impact": "benchmark",
                       "with": {"canary": a.canary, "max_concurrency": a.max_concurrency,
                                "max_errors": 0}}]}))
        state = work / "state"
        t0 = time.monotonic()
        res = cli(state, "run", str(rb), "-i", str(lab.inventory_file), "--yes")
        wall = time.monotonic() - t0
        if res.returncode != 0:
            print(res.stdout[-3000:], res.stderr[-3000:], file=sys.stderr)
            return 1
        run_id = json.loads(cli(state, "runs", "-f", "json").stdout)[0]["id"]
        report = json.loads(cli(state, "report", run_id, "-f", "json").stdout)
    finally:
        load_end = loadavg()
        if own:
            lab.down(quiet=True)
    (fo,) = report["evidence"]["failovers"]
    step = next(s for s in report["steps"] if s["id"] == "failover-all")
    results = fo["results"]
    durations = [r["duration"] for r in results if r["duration"] is not None]
    probed = [r for r in results if r["vip_probed"]]
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, Python "
          f"{platform.python_version()}; load (1/5/15 min) {load_start} at the start, "
          f"{load_end} at the end")
    print(f"{len(results)} load balancers (fleet created in {created:.0f} s), canary "
          f"{a.canary}, max_concurrency {a.max_concurrency}")
    print(f"step wall time: {step['duration']:.1f} s (run command {wall:.1f} s)")
    print(f"per load balancer: median {statistics.median(durations):.2f} s, "
          f"max {max(durations):.2f} s; {fo['totals']['succeeded']} succeeded, "
          f"{fo['totals']['failed']} failed")
    print("| load balancer | canary | duration | VIP availability | longest VIP gap |")
    print("|---|---|---:|---:|---:|")
    for r in results:
        vip = (f"{r['vip_availability']} % of {r['vip_samples']}" if r["vip_probed"]
               else "not reachable")
        gap = f"{r['vip_longest_gap']} s" if r["vip_probed"] else "–"
        print(f"| {r['name']} | {'yes' if r['canary'] else ''} | {r['duration']:.2f} s | "
              f"{vip} | {gap} |")
    figures = {"lbs": len(results), "max_concurrency": a.max_concurrency,
               "step_seconds": step["duration"], "median_failover": statistics.median(durations),
               "max_failover": max(durations), "vip_probed": len(probed),
               "vip": [{"name": r["name"], "availability": r["vip_availability"],
                        "longest_gap": r["vip_longest_gap"]} for r in probed],
               "load_start": load_start, "load_end": load_end, "cpus": os.cpu_count()}
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
