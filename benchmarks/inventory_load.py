"""Import and load time of an Ansible inventory: octavia-upgrade's reader vs ansible-core's.

Usage: ``python benchmarks/inventory_load.py [-n RUNS] [--ansible-python PY] [INVENTORY]``

Each figure is the median over N fresh interpreters (import, then reading
INVENTORY, default the shipped ``inventory/kolla/multinode``). ansible-core is
measured with ``--ansible-python``, an interpreter that has it installed (e.g.
``benchmarks/.venv-ansible/bin/python``); it is never a dependency of the tool.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

OURS = """
import json, sys, time
t0 = time.perf_counter()
from octavia_upgrade.inventory_source import InventorySource, open_inventory
t1 = time.perf_counter()
inv = open_inventory(InventorySource(sys.argv[1], use_ssh_config=False))
t2 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, len(inv.hosts)]))
"""

ANSIBLE = """
import json, sys, time
t0 = time.perf_counter()
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
t1 = time.perf_counter()
im = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]])
hosts = im.groups["octavia-api"].get_hosts() if "octavia-api" in im.groups else im.get_hosts()
t2 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, len(hosts)]))
"""


def measure(python: str, code: str, path: str, runs: int) -> tuple[float, float, int]:
    samples = []
    for _ in range(runs):
        out = subprocess.run([python, "-c", code, path], capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        samples.append(json.loads(out))
    return (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples),
            samples[0][2])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inventory", nargs="?", default=str(ROOT / "inventory/kolla/multinode"))
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--ansible-python", help="interpreter with ansible-core installed")
    args = ap.parse_args()
    rows = [("octavia-upgrade", *measure(sys.executable, OURS, args.inventory, args.runs))]
    if args.ansible_python:
        rows.append(("ansible-core", *measure(args.ansible_python, ANSIBLE, args.inventory,
                                              args.runs)))
    print(f"{'reader':<16} {'import s':>9} {'load s':>8} hosts   ({args.runs} runs, median)")
    for name, imp, load, hosts in rows:
        print(f"{name:<16} {imp:>9.3f} {load:>8.3f} {hosts:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
