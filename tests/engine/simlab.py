"""A simulated control plane on real sshd nodes, for engine end-to-end tests.

Each test gets its own state directory, its own simulated node state under
``sim_root`` and an inventory for the session's three bare lab nodes with
the ``sim`` flavor. The CLI runs as a real subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
SIM = HERE / "sim" / "sim.sh"
FLAVOR = HERE / "sim" / "sim.yaml"
NODES = ("node1", "node2", "node3")

#: Release facts the simulated nodes start from (2024.2 Dalmatian).
DALMATIAN = {"octavia": "15.1.0", "lib": "3.6.0", "head": "db2a73e82626"}


@dataclass
class Sim:
    root: Path
    state_dir: Path
    inventory: Path
    tmp: Path

    def ops(self) -> list[tuple[str, str, list[str]]]:
        """(host, action, args) lines of ops.log in order."""
        path = self.root / "ops.log"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            _ts, host, action, *args = line.split()
            out.append((host, action, args))
        return out

    def cli(self, *args: str, input: str | None = None, timeout: float = 180,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "octavia_upgrade", *args], capture_output=True, text=True,
            input=input if input is not None else "", timeout=timeout,
            env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(self.state_dir), **(env or {})})

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "octavia_upgrade", *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(self.state_dir)})

    def runbook(self, name: str, steps: list[dict[str, Any]], **extra: Any) -> Path:
        doc: dict[str, Any] = {
            "apiVersion": "octavia-upgrade/v1", "kind": "Runbook",
            "metadata": {"name": name, "from": "dalmatian", "to": "epoxy", "revision": 1,
                         "description": "engine test"},
            **extra,
            "steps": steps,
        }
        path = self.tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path


def make_sim(tmp_path: Path, write_inventory: Callable[..., Path]) -> Sim:
    """A fresh simulated Dalmatian control plane under ``tmp_path`` (the ``sim`` fixture)."""
    root = tmp_path / "sim"
    for n in NODES:
        d = root / n
        (d / "run").mkdir(parents=True)
        (d / "version").write_text(DALMATIAN["octavia"] + "\n")
        (d / "lib-version").write_text(DALMATIAN["lib"] + "\n")
        (d / "octavia.conf").write_text("[DEFAULT]\ndebug = False\n")
        for unit in ("sim-api", "sim-worker", "sim-health-manager", "sim-housekeeping",
                     "sim-driver-agent"):
            (d / "run" / unit).touch()
            (d / "units").mkdir(exist_ok=True)
            (d / "units" / unit).touch()
    (root / "db-revision").write_text(DALMATIAN["head"] + "\n")
    inv = write_inventory(tmp_path, flavor=str(FLAVOR), deployment=f"sim-{tmp_path.name}",
                          vars={"sim": str(SIM), "root": str(root)})
    return Sim(root, tmp_path / "state", inv, tmp_path)
