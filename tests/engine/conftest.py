"""Fixtures for engine end-to-end tests (see simlab.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from simlab import Sim, make_sim


@pytest.fixture
def sim(tmp_path: Path, lab_nodes: Any, write_inventory: Callable[..., Path]) -> Sim:
    return make_sim(tmp_path, write_inventory)
