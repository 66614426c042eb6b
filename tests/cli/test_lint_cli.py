"""``octavia-upgrade lint`` as a process: exit codes, output formats, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus"
EXPECTED: dict[str, dict[str, object]] = yaml.safe_load(
    (CORPUS / "bad" / "EXPECTED.yaml").read_text(encoding="utf-8"))


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = ROOT / ".venv" / "bin" / "octavia-upgrade"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "octavia_upgrade"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "engine")}
    return subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def test_every_bad_file_exits_2_with_its_positioned_rule() -> None:
    """One process for the whole corpus; each file's line must be exact."""
    files = [str(CORPUS / "bad" / name) for name in sorted(EXPECTED)]
    res = cli("lint", *files)
    assert res.returncode == 2
    assert "Traceback" not in res.stdout + res.stderr
    lines = res.stdout.splitlines()
    for name, want in EXPECTED.items():
        prefix = f"{CORPUS / 'bad' / name}:{want['line']}:{want['col']}: {want['rule']}: "
        assert sum(line.startswith(prefix) for line in lines) == 1, name
    assert len(lines) == len(EXPECTED)


@pytest.mark.parametrize("name", ["pike-to-rocky.yaml", "rb-not-utf8.yaml", "rb-empty.yaml",
                                  "rb-tabs.yaml", "rb-deep-nesting.yaml", "rb-alias.yaml"])
def test_single_bad_files_exit_2_without_traceback(name: str) -> None:
    res = cli("lint", str(CORPUS / "bad" / name))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    want = EXPECTED[name]
    assert res.stdout.startswith(f"{CORPUS / 'bad' / name}:{want['line']}:{want['col']}: "
                                 f"{want['rule']}: ")


def test_pike_to_rocky_names_the_chain() -> None:
    res = cli("lint", str(CORPUS / "bad" / "pike-to-rocky.yaml"))
    assert res.returncode == 2
    assert "use pike-to-queens, then queens-to-rocky" in res.stdout


def test_good_corpus_exits_0_and_prints_nothing_on_stdout() -> None:
    res = cli("lint", str(CORPUS / "good"))
    assert (res.returncode, res.stdout) == (0, "")
    assert "0 errors" in res.stderr


def test_shipped_runbooks_lint_clean() -> None:
    res = cli("lint", "runbooks/")
    assert res.returncode == 0, res.stdout


def test_json_format() -> None:
    res = cli("lint", "-f", "json", str(CORPUS / "bad" / "rb-duplicate-id.yaml"),
              str(CORPUS / "good" / "queens-to-rocky.yaml"))
    assert res.returncode == 2
    out = json.loads(res.stdout)
    assert out["errors"] == 1 and out["warnings"] == 0 and len(out["files"]) == 2
    [diag] = out["diagnostics"]
    assert diag == {"path": str(CORPUS / "bad" / "rb-duplicate-id.yaml"), "line": 14, "col": 9,
                    "rule": "duplicate-id", "severity": "error",
                    "message": "step id 'stop-api' is already used at line 11 (ids must be "
                               "unique across steps, rollback and finally)"}


def test_missing_path_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    res = cli("lint", str(tmp_path / "nope.yaml"))
    assert res.returncode == 2
    assert res.stdout.strip() == (
        f"{tmp_path / 'nope.yaml'}:0:0: missing-path: no such file or directory")


def test_random_bytes_never_give_a_traceback(tmp_path: Path) -> None:
    import random

    rng = random.Random(1234)
    for i in range(40):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        (tmp_path / f"f{i}.yaml").write_bytes(blob)
    (tmp_path / "deep.yaml").write_bytes(b"a: " + b"[" * 300_000)
    res = cli("lint", str(tmp_path))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    assert len(res.stdout.splitlines()) == 41
