"""Fixtures for engine end-to-end tests (see simlab.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from simlab import DALMATIAN, FLAVOR, NODES, SIM, Sim


@pytest.fixture
def sim(tmp_path: Path, lab_nodes: Any, write_inventory: Callable[..., Path]) -> Sim:
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
    (root / "db-revision").write_text(DALMATIAN["head"] + "\n")
    inv = write_inventory(tmp_path, flavor=str(FLAVOR), deployment=f"sim-{tmp_path.name}",
                          vars={"sim": str(SIM), "root": str(root)})
    return Sim(root, tmp_path / "state", inv, tmp_path)
