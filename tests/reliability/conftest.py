"""Fixtures for the reliability tests: the engine tests' simulated control plane.

``sim`` is the same fixture as in ``tests/engine`` (a simulated Dalmatian
control plane on the session's bare sshd nodes, driven through the real CLI).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for _p in (HERE, HERE.parent / "engine"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from simlab import Sim, make_sim  # noqa: E402


@pytest.fixture
def sim(tmp_path: Path, lab_nodes: Any, write_inventory: Callable[..., Path]) -> Sim:
    return make_sim(tmp_path, write_inventory)
