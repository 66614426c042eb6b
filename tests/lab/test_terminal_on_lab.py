"""An operator's terminal on the real lab: a run waits at an approval prompt in tmux and
gets SIGTERM (a closing session, a `kill` from another shell); what the operator
then sees, what is recorded, and what ``resume`` in the same terminal does.

The run is the real ``dalmatian-to-epoxy`` against the shared lab, without
``--yes``: it stops at its first approval (``octavia-status upgrade check`` of
the Dalmatian code, step 5), before anything is stopped or changed, and the
resume is rejected at the same prompt, so the lab stays at Dalmatian for the
tests after this one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from octavia_upgrade.resources import runbooks_dir
from tmuxterm import Tmux

pytestmark = pytest.mark.lab

PROMPT = "Type 'yes' to approve"


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: scripts/bootstrap installs it")
    term = Tmux(tmp_path)
    try:
        yield term
    finally:
        term.close()


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})


def test_sigterm_at_an_approval_prompt_in_tmux_then_resume_there(lab, tmux: Tmux,
                                                                 tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {"OCTAVIA_UPGRADE_STATE_DIR": str(state), "PATH": os.environ["PATH"],
           "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "HOME": str(tmp_path),
           "TERM": "xterm"}
    cli = [sys.executable, "-m", "octavia_upgrade"]
    win = tmux.start([*cli, "run", str(runbooks_dir() / "dalmatian-to-epoxy.yaml"),
                      "-i", str(lab.inventory_file)], env)
    before = tmux.wait_for(win, PROMPT)
    assert "APPROVAL NEEDED (upgrade-check)" in before
    os.kill(tmux.pid(win), signal.SIGTERM)
    tmux.wait_for(win, "EXIT=", timeout=60)
    screen = tmux.text(win)
    # What the operator sees: the signal, the saved state, how to go on, exit 130.
    assert "SIGTERM received: stopping; no further step starts, the state is saved" in screen
    (run,) = json.loads(_cli(state, "runs", "-f", "json").stdout)
    assert f"run {run['id']} interrupted. Inspect: octavia-upgrade show {run['id']}; " \
           f"continue: octavia-upgrade resume {run['id']}" in screen
    assert "EXIT=130" in screen
    shown = json.loads(_cli(state, "show", run["id"], "-f", "json").stdout)
    assert shown["run"]["status"] == "interrupted" and shown["lock"] is None
    assert json.loads(_cli(state, "approvals", "-f", "json").stdout) == []
    done = {(r["step_id"], r["host"]) for r in shown["results"] if r["status"] == "succeeded"}
    assert ("record-packages", "node1") in done
    # nothing was stopped: every service still runs on every node
    for node in lab.status()["nodes"]:
        assert set(node["services"].values()) == {"active"}, node

    # resume in the same terminal: the steps done are not run again, the prompt is back
    win2 = tmux.start([*cli, "resume", run["id"]], env)
    again = tmux.wait_for(win2, PROMPT)
    assert "APPROVAL NEEDED (upgrade-check)" in again
    tmux.type(win2, "no")
    tmux.wait_for(win2, "EXIT=", timeout=120)
    final = tmux.text(win2)
    assert "rejected by" in final
    assert "EXIT=1" in final  # a step failed: the approval was rejected (README exit codes)
    shown = json.loads(_cli(state, "show", run["id"], "-f", "json").stdout)
    attempts = [r for r in shown["results"] if (r["step_id"], r["host"]) ==
                ("record-packages", "node1")]
    assert len(attempts) == 1, attempts  # ran once, before the signal
    assert shown["run"]["status"] != "interrupted" and shown["lock"] is None
    for node in lab.status()["nodes"]:
        assert set(node["services"].values()) == {"active"}, node
