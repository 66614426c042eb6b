"""Shell completion: the generated scripts, driven by a real bash; --help start-up stays small."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from octavia_upgrade.state import open_store

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

#: Completes LINE the way bash does on <Tab>, printing COMPREPLY one per line.
DRIVER = r"""
eval "$(octavia-upgrade completion bash)"
line="$1"
COMP_LINE="$line"; COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<< "$line"
[[ "$line" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMPREPLY=()
_python_argcomplete octavia-upgrade "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


def complete(line: str, state: Path) -> list[str]:
    if not shutil.which("bash"):
        pytest.skip("bash is not installed")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
           "OCTAVIA_UPGRADE_STATE_DIR": str(state)}
    done = subprocess.run(["bash", "-c", DRIVER, "driver", line], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return [w.strip() for w in done.stdout.splitlines() if w.strip()]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    store = open_store(None, tmp_path / "state")
    for rid in ("20261101-090000-0001", "20261102-090000-0002"):
        store.create_run(run_id=rid, runbook_name="dalmatian-to-epoxy", runbook_path="x.yaml",
                         runbook_sha256="0" * 64, runbook_revision=1, from_release="dalmatian",
                         to_release="epoxy", deployment="d")
    store.close()
    return tmp_path / "state"


def test_bash_completes_subcommands_options_runbooks_and_run_ids(state: Path) -> None:
    assert complete("octavia-upgrade sh", state) == ["show"]
    assert "completion" in complete("octavia-upgrade ", state)
    assert complete("octavia-upgrade plan --inventory-f", state) == ["--inventory-format"]
    assert complete("octavia-upgrade detect --inventory-format k", state) == ["kolla"]
    assert complete("octavia-upgrade plan runbooks/dalmatian-to", state) == [
        "runbooks/dalmatian-to-epoxy.yaml"]
    assert sorted(complete("octavia-upgrade show 2026110", state)) == [
        "20261101-090000-0001", "20261102-090000-0002"]
    assert complete("octavia-upgrade resume 20261101", state) == ["20261101-090000-0001"]


def test_bash_completes_release_runbook_and_flavor_names(state: Path) -> None:
    assert complete("octavia-upgrade plan --from dal", state) == ["dalmatian"]
    assert complete("octavia-upgrade plan --from dalmatian --to ep", state) == ["epoxy"]
    assert complete("octavia-upgrade lab up --release bob", state) == ["bobcat"]
    # shipped runbooks by name (and files as before)
    assert complete("octavia-upgrade run caracal-to", state) == ["caracal-to-dalmatian"]
    assert complete("octavia-upgrade lint dalmatian-to", state) == ["dalmatian-to-epoxy"]
    # flavor names, not files
    assert sorted(complete("octavia-upgrade detect --flavor d", state)) == ["deb", "devstack"]
    assert complete("octavia-upgrade plan x -i y --flavor ko", state) == ["kolla"]


def test_bash_completes_formats_and_columns(state: Path) -> None:
    assert complete("octavia-upgrade runs -f v", state) == ["value"]
    assert complete("octavia-upgrade report x -f h", state) == ["html"]
    assert sorted(complete("octavia-upgrade runs -c st", state)) == ["started", "status"]
    assert complete("octavia-upgrade show x -c runbook_s", state) == ["runbook_sha256"]
    assert complete("octavia-upgrade runbooks list -c pa", state) == ["path"]


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o"), ("zsh", "#compdef"),
                                           ("fish", "complete --command octavia-upgrade")])
def test_completion_scripts_are_generated_and_parse(shell: str, marker: str) -> None:
    """bash is required; zsh and fish are checked where installed (skipped, saying so, if not)."""
    done = subprocess.run([sys.executable, "-m", "octavia_upgrade", "completion", shell],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and marker in done.stdout, done.stderr
    interpreter = shutil.which(shell)
    if interpreter is None:
        pytest.skip(f"{shell} is not installed: its script's syntax is not checked")
    # The script is valid syntax for its shell (`bash -n`, `zsh -n`, `fish --no-execute`).
    check = subprocess.run([interpreter, "-n"], input=done.stdout, capture_output=True,
                           text=True, timeout=30)
    assert check.returncode == 0, check.stderr


def test_fish_completes_release_and_runbook_names(state: Path) -> None:
    fish = shutil.which("fish")
    if fish is None:
        pytest.skip("fish is not installed")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
           "OCTAVIA_UPGRADE_STATE_DIR": str(state)}
    script = ("source (octavia-upgrade completion fish | psub); "
              "complete -C 'octavia-upgrade plan --from dalm'; "
              "complete -C 'octavia-upgrade run caracal-to'")
    done = subprocess.run([fish, "--no-config", "-c", script], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [w.split("\t")[0] for w in done.stdout.split()] == ["dalmatian",
                                                              "caracal-to-dalmatian"]


def test_unknown_shell_is_refused() -> None:
    bad = subprocess.run([sys.executable, "-m", "octavia_upgrade", "completion", "tcsh"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_help_start_up_does_not_import_argcomplete() -> None:
    code = ("import sys, time; t = time.perf_counter(); "
            "from octavia_upgrade.cli import build_parser; build_parser().format_help(); "
            "print(round(time.perf_counter() - t, 3), 'argcomplete' in sys.modules)")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    # The figure is informative (timings are noisy on a shared machine); the import is not.
    print(f"--help in {done.stdout.split()[0]} s in-process, "
          f"{time.perf_counter() - started:.3f} s with interpreter start")
    assert done.stdout.split()[1] == "False"
