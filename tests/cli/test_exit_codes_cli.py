"""Every row of the README's exit-code table, produced by the real CLI as a process.

0, 2 and 70 need no node; 1, 3 and 130 run against the session's bare sshd
nodes (real OpenSSH, no Octavia installed on them), so they are skipped where
those cannot start (not root, no sshd).
"""

from __future__ import annotations

import re
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from clihelp import ROOT, cli, popen

from octavia_upgrade.cli.exitcodes import EXIT_INTERNAL, TABLE, exit_code_for
from octavia_upgrade.errors import InvalidInput, Refused, StateError
from octavia_upgrade.state import open_store


def readme_codes() -> dict[int, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return {int(code): meaning for code, meaning in re.findall(r"(?m)^\| (\d+) \| (.+) \|$", text)}


def test_the_readme_table_is_the_code_table() -> None:
    assert sorted(readme_codes()) == sorted(code for code, _ in TABLE) == [0, 1, 2, 3, 70, 130]


def test_exception_mapping() -> None:
    """The function main() uses; each documented class of failure has its code."""
    assert exit_code_for(StateError("x")) == 1
    assert exit_code_for(InvalidInput("x")) == 2
    assert exit_code_for(Refused("x")) == 3
    assert exit_code_for(KeyboardInterrupt()) == 130
    assert exit_code_for(ValueError("x")) == exit_code_for(KeyError("x")) == EXIT_INTERNAL == 70


def runbook(folder: Path, steps: list[dict[str, Any]]) -> Path:
    """A one-hop runbook named as its file must be (dalmatian-to-epoxy)."""
    path = folder / "dalmatian-to-epoxy.yaml"
    path.write_text(yaml.safe_dump({
        "apiVersion": "octavia-upgrade/v1", "kind": "Runbook",
        "metadata": {"name": "dalmatian-to-epoxy", "from": "dalmatian", "to": "epoxy",
                     "revision": 1, "description": "exit code test"},
        "steps": steps}, sort_keys=False))
    return path


def test_0_success(tmp_path: Path) -> None:
    assert cli("releases", cwd=tmp_path).returncode == 0


def test_2_invalid_input(tmp_path: Path) -> None:
    bad = cli("lint", str(ROOT / "tests" / "corpus" / "bad" / "rb-duplicate-id.yaml"),
              cwd=tmp_path)
    assert bad.returncode == 2 and "duplicate-id" in bad.stdout
    assert cli("plan", "no-such-runbook", "-i", "x", cwd=tmp_path).returncode == 2
    assert cli("-q", "-v", "releases", cwd=tmp_path).returncode == 2


def test_70_internal_error_on_a_corrupted_state_database(tmp_path: Path) -> None:
    """A hand-edited state database (a timestamp that is not one) reaches main unexpectedly."""
    state = tmp_path / "state"
    store = open_store(None, state)
    store.create_run(run_id="20261101-090000-0001", runbook_name="dalmatian-to-epoxy",
                     runbook_path="x.yaml", runbook_sha256="0" * 64, runbook_revision=1,
                     from_release="dalmatian", to_release="epoxy", deployment="d")
    store.close()
    with sqlite3.connect(state / "state.db") as db:
        db.execute("UPDATE runs SET started_at = 'not a date'")
    res = cli("runs", cwd=tmp_path, state_dir=state)
    assert res.returncode == 70, res.stderr
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("octavia-upgrade: internal error: ValueError: ")
    assert line.endswith("(a bug, exit 70); re-run with -v for the traceback, and please "
                         "report it")
    verbose = cli("runs", "-v", cwd=tmp_path, state_dir=state)
    assert verbose.returncode == 70 and "Traceback (most recent call last)" in verbose.stderr


@pytest.fixture
def nodes_inventory(tmp_path: Path, write_inventory: Callable[..., Path]) -> Path:
    return write_inventory(tmp_path, deployment=f"exit-{tmp_path.name}"[:60])


def test_1_a_step_failed(tmp_path: Path, nodes_inventory: Path) -> None:
    rb = runbook(tmp_path, [{"id": "fails", "name": "Fails on the node", "kind": "command",
                             "targets": {"hosts": ["node2"]},
                             "with": {"command": "echo broken >&2; exit 4"}}])
    res = cli("run", str(rb), "-i", str(nodes_inventory), "--no-detect", cwd=tmp_path,
              state_dir=tmp_path / "state")
    assert res.returncode == 1, res.stdout + res.stderr
    assert re.search(r"node2\s+FAILED", res.stdout), res.stdout


def test_3_refused_when_no_octavia_is_deployed(tmp_path: Path, nodes_inventory: Path) -> None:
    """The bare nodes are reachable but have no Octavia: detection says so, the run is refused."""
    res = cli("plan", "dalmatian-to-epoxy", "-i", str(nodes_inventory), cwd=tmp_path,
              state_dir=tmp_path / "state")
    assert res.returncode == 3, res.stdout + res.stderr
    assert re.search(r"(?m)^  node1 \(\S+\): Octavia is not installed$", res.stderr), res.stderr
    assert "no db-migrate host is reachable" not in res.stderr
    det = cli("detect", "-i", str(nodes_inventory), cwd=tmp_path)
    assert det.returncode == 3
    assert ("database: revision not read: Octavia is not installed on node1, the db-migrate "
            "host") in det.stdout
    assert "revision - = head of -" not in det.stdout


def test_130_interrupted(tmp_path: Path, nodes_inventory: Path) -> None:
    rb = runbook(tmp_path, [{"id": "long", "name": "Long command", "kind": "command",
                             "targets": {"hosts": ["node1"]},
                             "with": {"command": "sleep 4"}},
                            {"id": "next", "name": "Next", "kind": "command",
                             "targets": {"hosts": ["node1"]},
                             "with": {"command": "echo next"}}])
    proc = popen("run", str(rb), "-i", str(nodes_inventory), "--no-detect", cwd=tmp_path,
                 state_dir=tmp_path / "state")
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:  # wait until the step has started
        if line.startswith("[1/2] Long command") or time.monotonic() > deadline:
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    # the running command was waited for; the next step never started
    assert "SIGINT received" in out + err and "waiting for long on node1" in out + err
    assert "[2/2]" not in out
