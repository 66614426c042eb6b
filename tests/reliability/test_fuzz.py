"""Bad-input fuzzing: no traceback, positioned rejections, documented exit codes, nothing run.

``tests/test_yamlpos.py`` fuzzes the YAML layer with arbitrary text and
``tests/cli/test_lint_cli.py`` feeds ``lint`` random bytes. This module
fuzzes one level up, where mistakes look like real ones: valid runbooks,
inventories and flavors (the good corpus) edited at random — lines dropped,
duplicated, re-indented, values replaced by other values or types, keys
renamed — through the loaders in process (many examples), and through the
real CLI as subprocesses (a bounded number), together with random argument
lists. Whatever comes in, the tool either accepts it or rejects it with
``path:line:col`` inside the file (exit 2), refuses it (exit 3), and never
shows a traceback or an internal error; a rejected ``run`` executes nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from octavia_upgrade.errors import InvalidInput, Refused

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "good"
RUNBOOK = CORPUS / "queens-to-rocky.yaml"
INVENTORIES = sorted((CORPUS / "inventories").glob("*.yaml"))
FLAVORS = sorted((CORPUS / "flavors").glob("*.yaml"))

#: Values an operator might plausibly mistype into any field.
VALUES = st.sampled_from([
    "", "~", "null", "yes", "no", "true", "0", "-1", "1e9", "99999999999999999999", "1.5",
    "'quoted'", '"dq"', "[]", "{}", "[1, 2]", "{a: 1}", "-", "30%", "101%", "0%", "5x", "1h",
    "-5s", "{{ params.nope }}", "{{ x", "{% for %}", "!!str 3", "&anchor x", "*alias",
    "<<: {a: 1}", "@", "`cmd`", "$(id)", "\t", "é", "\u202e", "a: b: c", "|", ">", "- - -",
    "restart", "stop", "abort", "rollback", "continue", "pike", "hibiscus", "2024.2", "x" * 300,
]) | st.text(min_size=0, max_size=20)
KEYS = st.sampled_from([
    "id", "name", "kind", "with", "steps", "targets", "roles", "hosts", "serial", "timeout",
    "retry", "attempts", "when", "on_failure", "idempotent", "rollback", "finally", "metadata",
    "from", "to", "parameters", "type", "default", "secret", "vars", "flavor", "deployment",
    "address", "port", "user", "key_file", "services", "actions", "apiVersion", "kind",
    "max_failures", "data_plane_impact", "ssh", "probes", "secrets", "unknown_field",
])


@st.composite
def mutated(draw: st.DrawFn, original: str) -> str:
    """``original`` with one to four realistic edits."""
    lines = original.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        op = draw(st.sampled_from(["drop", "dup", "indent", "dedent", "value", "key", "insert",
                                   "truncate", "swap"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, line)
        elif op == "indent":
            lines[i] = " " * draw(st.integers(1, 4)) + line
        elif op == "dedent":
            lines[i] = line.lstrip()
        elif op == "value" and ":" in line:
            head = line.split(":", 1)[0]
            lines[i] = f"{head}: {draw(VALUES)}"
        elif op == "key" and ":" in line:
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = f"{indent}{draw(KEYS)}:{line.split(':', 1)[1]}"
        elif op == "insert":
            indent = " " * draw(st.sampled_from([0, 2, 4, 6, 8]))
            lines.insert(i, f"{indent}{draw(KEYS)}: {draw(VALUES)}")
        elif op == "truncate":
            lines = lines[: i + 1]
            lines[-1] = line[: draw(st.integers(0, len(line)))]
        elif op == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


def _check_rejection(exc: InvalidInput | Refused, path: Path) -> None:
    """Every diagnostic names this file with a position inside it."""
    text = path.read_bytes().decode("utf-8", "replace").splitlines() or [""]
    if isinstance(exc, InvalidInput) and exc.diagnostics:
        for d in exc.diagnostics:
            assert d.path == str(path), d
            assert 0 <= d.line <= len(text) + 1 and d.col >= 0, d
        assert any(d.line >= 1 for d in exc.diagnostics) or all(
            d.rule in ("yaml-empty", "encoding") for d in exc.diagnostics), exc.diagnostics
    else:
        assert re.search(rf"{re.escape(str(path))}:\d+:\d+", str(exc)), str(exc)


def _load(kind: str, path: Path) -> None:
    if kind == "runbook":
        from octavia_upgrade.loader import load_runbook

        load_runbook(path)
    elif kind == "inventory":
        from octavia_upgrade.inventory import load_inventory

        load_inventory(path)
    else:
        from octavia_upgrade.flavors import load_flavor

        load_flavor(path)


def _fuzz_loader(kind: str, source: Path, tmp: Path, text: str) -> None:
    path = tmp / source.name  # flavors and runbooks must keep their file names
    path.write_text(text, encoding="utf-8")
    try:
        _load(kind, path)
    except (InvalidInput, Refused) as exc:
        _check_rejection(exc, path)


FUZZ = settings(max_examples=int(os.environ.get("OCTAVIA_UPGRADE_FUZZ_EXAMPLES", "1000")),
                deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                      HealthCheck.too_slow])


@FUZZ
@given(text=mutated(RUNBOOK.read_text()))
def test_mutated_runbooks_are_accepted_or_rejected_with_positions(tmp_path: Path,
                                                                 text: str) -> None:
    _fuzz_loader("runbook", RUNBOOK, tmp_path, text)


@FUZZ
@given(data=st.data())
def test_mutated_inventories_are_accepted_or_rejected_with_positions(tmp_path: Path,
                                                                    data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(INVENTORIES))
    _fuzz_loader("inventory", source, tmp_path, data.draw(mutated(source.read_text())))


@FUZZ
@given(data=st.data())
def test_mutated_flavors_are_accepted_or_rejected_with_positions(tmp_path: Path,
                                                                data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(FLAVORS))
    _fuzz_loader("flavor", source, tmp_path, data.draw(mutated(source.read_text())))


# --------------------------------------------------------------------------- the CLI


SUBCOMMANDS = ["lint", "plan", "run", "resume", "detect", "report", "show", "runs", "unlock",
               "schema", "releases"]
OPTIONS = ["-i", "--inventory", "-p", "--param", "-f", "--format", "--yes", "--dry-run",
           "--limit", "--no-detect", "-o", "--from", "--to", "-v", "-q", "--config-file",
           "--force", "--run", "--debug", "--", "-", "--help-me"]


def _cli(args: list[str], state: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, input="",
                          env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})


def _assert_clean(res: subprocess.CompletedProcess[str]) -> None:
    out = res.stdout + res.stderr
    assert "Traceback (most recent" not in out and "internal error:" not in out, out
    assert res.returncode in (0, 1, 2, 3), (res.returncode, out)


CLI_FUZZ = settings(max_examples=int(os.environ.get("OCTAVIA_UPGRADE_CLI_FUZZ_EXAMPLES", "25")),
                    deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.mark.slow
@CLI_FUZZ
@given(text=mutated(RUNBOOK.read_text()), verb=st.sampled_from(["lint", "plan", "run"]))
def test_cli_with_a_mutated_runbook_rejects_with_positions_and_runs_nothing(
        tmp_path_factory: pytest.TempPathFactory, text: str, verb: str) -> None:
    tmp = tmp_path_factory.mktemp("cli")
    canary = tmp / "canary"
    # every step of a run would have to pass this local step first
    head, sep, rest = text.partition("\nsteps:\n")
    if sep:
        text = (f"{head}{sep}  - id: canary-step\n    name: canary\n    kind: local\n"
                f"    with: {{command: touch {canary}}}\n{rest}")
    rb = tmp / RUNBOOK.name
    rb.write_text(text, encoding="utf-8")
    inv = INVENTORIES[0]
    args = {"lint": ["lint", str(rb)],
            "plan": ["plan", str(rb), "-i", str(inv), "--no-detect"],
            "run": ["run", str(rb), "-i", str(inv), "--no-detect", "--yes"]}[verb]
    res = _cli(args, tmp / "state", tmp)
    _assert_clean(res)
    if res.returncode == 2:
        assert re.search(rf"{re.escape(str(rb))}:\d+:\d+: ", res.stdout + res.stderr), \
            res.stdout + res.stderr
        assert not canary.exists()
        assert not (tmp / "state" / "logs").exists()  # no run was started


@pytest.mark.slow
@CLI_FUZZ
@given(args=st.lists(st.sampled_from(SUBCOMMANDS) | st.sampled_from(OPTIONS) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12), min_size=0, max_size=6))
def test_random_arguments_never_give_a_traceback(tmp_path_factory: pytest.TempPathFactory,
                                                 args: list[str]) -> None:
    tmp = tmp_path_factory.mktemp("args")
    if args and args[0] in ("lab",):
        return
    res = _cli(args, tmp / "state", tmp)
    _assert_clean(res)
    if res.returncode == 2 and "error:" in res.stderr:
        assert "usage:" in res.stderr  # argparse names what is wrong
