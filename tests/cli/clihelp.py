"""Run the real CLI as a subprocess, from any folder, with this checkout's package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env(state_dir: Path | None = None, **extra: str) -> dict[str, str]:
    out = {**os.environ, "PYTHONPATH": str(ROOT / "engine"), **extra}
    if state_dir is not None:
        out["OCTAVIA_UPGRADE_STATE_DIR"] = str(state_dir)
    return out


def cli(*args: str, cwd: Path, state_dir: Path | None = None, timeout: float = 120,
        **extra: str) -> subprocess.CompletedProcess[str]:
    """``octavia-upgrade ARGS`` in ``cwd``; stdin is empty (no terminal)."""
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], cwd=cwd,
                          env=env(state_dir, **extra), capture_output=True, text=True,
                          input="", timeout=timeout)


def popen(*args: str, cwd: Path, state_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "octavia_upgrade", *args], cwd=cwd,
                            env=env(state_dir), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
