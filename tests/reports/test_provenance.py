"""Provenance: sha256, git commit and dirty flag of a runbook file, tolerant of no git."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from octavia_upgrade.reports.provenance import Provenance, collect

GIT = shutil.which("git")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_git_commit_and_dirty_flag(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q",
         "--allow-empty", "-m", "start")
    rb = tmp_path / "dalmatian-to-epoxy.yaml"
    rb.write_text("metadata: {revision: 1}\n")
    p = collect(rb, revision=1)
    assert p.sha256 == hashlib.sha256(rb.read_bytes()).hexdigest()
    assert p.git_commit == _git(tmp_path, "rev-parse", "HEAD") and p.git_dirty is True  # untracked
    _git(tmp_path, "add", rb.name)
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q",
         "-m", "runbook")
    p = collect(rb, revision=1)
    assert p.git_dirty is False and p.git_commit == _git(tmp_path, "rev-parse", "HEAD")
    rb.write_text("metadata: {revision: 2}\n")
    assert collect(rb).git_dirty is True
    assert Provenance.from_dict(p.to_dict()) == p


def test_outside_git_and_without_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rb = tmp_path / "x.yaml"
    rb.write_text("a: 1\n")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    p = collect(rb)
    assert (p.git_commit, p.git_dirty) == (None, None) and p.sha256 and p.tool_version
    monkeypatch.setenv("PATH", str(tmp_path))  # no git binary at all
    assert collect(rb).git_commit is None
