"""``octavia-upgrade plan --from X --to Y`` as a process: bad release names are invalid input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = ROOT / ".venv" / "bin" / "octavia-upgrade"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "octavia_upgrade"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "engine")}
    return subprocess.run([*cmd, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("src", "dst", "wrong", "hint"), [
    ("foo", "epoxy", "foo", ""),
    ("quens", "rocky", "quens", " (did you mean 'queens'?)"),
    ("dalmatian", "epoxi", "epoxi", " (did you mean 'epoxy'?)"),
])
def test_an_unknown_release_exits_2_with_one_line(src: str, dst: str, wrong: str,
                                                  hint: str) -> None:
    res = cli("plan", "--from", src, "--to", dst)
    assert res.returncode == 2, res.stderr
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"octavia-upgrade: unknown release '{wrong}'{hint}; known: pike, ")
    assert "hibiscus" in lines[0]


def test_a_downgrade_between_known_releases_is_still_refused() -> None:
    res = cli("plan", "--from", "epoxy", "--to", "caracal")
    assert res.returncode == 3
    assert "downgrade" in res.stderr and "Traceback" not in res.stderr
