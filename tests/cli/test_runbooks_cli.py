"""``octavia-upgrade runbooks render [--check]`` and ``runbooks list``.

The committed runbooks must be exactly what runbook-source/ renders: a hand
edit of a rendered runbook fails here. Edits are only ever made to copies in
a temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from octavia_upgrade.cli import main

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "runbook-source"
RUNBOOKS = ROOT / "runbooks"


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of the source and of the rendered runbooks."""
    source, output = tmp_path / "source", tmp_path / "runbooks"
    shutil.copytree(SOURCE, source)
    shutil.copytree(RUNBOOKS, output)
    return source, output


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def check(source: Path, output: Path) -> int:
    return main(["runbooks", "render", "--check", "--source", str(source), "--output", str(output)])


def test_committed_runbooks_equal_their_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runbooks", "render", "--check"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "18 runbook(s) match their source" in err


def test_a_hand_edit_of_a_rendered_runbook_fails_the_check(
        copies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    source, output = copies
    assert check(source, output) == 0
    edited = output / "dalmatian-to-epoxy.yaml"
    edited.write_text(edited.read_text(encoding="utf-8").replace("timeout: 300s", "timeout: 600s"),
                      encoding="utf-8")
    (output / "pike-to-queens.yaml").unlink()
    (output / "pike-to-rocky.yaml").write_text("kind: Runbook\n", encoding="utf-8")
    capsys.readouterr()
    assert check(source, output) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{output}/dalmatian-to-epoxy.yaml: differs from its source (render it again)",
        f"{output}/pike-to-queens.yaml: missing (the source has this hop)",
        f"{output}/pike-to-rocky.yaml: extra (no hop in the source renders it)",
    ]
    assert "3 file(s) differ" in err
    assert main(["runbooks", "render", "--check", "-v", "--source", str(source),
                 "--output", str(output)]) == 1
    out, _ = capsys.readouterr()
    assert "-    timeout: 600s\n+    timeout: 300s\n" in out
    # --check wrote nothing.
    assert "timeout: 600s" in edited.read_text(encoding="utf-8")
    assert not (output / "pike-to-queens.yaml").exists()


def test_render_writes_what_the_source_says(copies: tuple[Path, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    source, output = copies
    hop = source / "hops" / "dalmatian-to-epoxy.yaml"
    hop.write_text(hop.read_text(encoding="utf-8").replace("revision: 1", "revision: 2"),
                   encoding="utf-8")
    assert check(source, output) == 1
    capsys.readouterr()
    assert main(["runbooks", "render", "--source", str(source), "--output", str(output)]) == 0
    out, _ = capsys.readouterr()
    assert out == f"wrote {output}/dalmatian-to-epoxy.yaml\n"
    assert "  revision: 2\n" in (output / "dalmatian-to-epoxy.yaml").read_text(encoding="utf-8")
    assert check(source, output) == 0


def test_a_procedure_fix_in_the_shared_source_reaches_every_hop(
        copies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    source, output = copies
    shared = source / "cold-upgrade.yaml"
    text = shared.read_text(encoding="utf-8")
    assert text.count("retry: {attempts: 3, delay: 5s, backoff: 2}") == 1
    shared.write_text(text.replace("retry: {attempts: 3, delay: 5s, backoff: 2}",
                                   "retry: {attempts: 4, delay: 5s, backoff: 2}"), encoding="utf-8")
    assert main(["runbooks", "render", "-q", "--source", str(source), "--output", str(output)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 18
    for path in output.glob("*.yaml"):
        body = path.read_text(encoding="utf-8")
        assert "retry: {attempts: 3, delay: 5s" not in body
        assert body.count("retry: {attempts: 4, delay: 5s, backoff: 2}") >= 4


def test_an_invalid_source_is_a_positioned_error(copies: tuple[Path, Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    source, output = copies
    hop = source / "hops" / "epoxy-to-flamingo.yaml"
    hop.write_text(hop.read_text(encoding="utf-8")
                   + "override:\n  stop-wroker: {timeout: 10m}\n", encoding="utf-8")
    line = hop.read_text(encoding="utf-8").count("\n")
    before = {p.name: p.read_text(encoding="utf-8") for p in output.glob("*.yaml")}
    assert main(["runbooks", "render", "--source", str(source), "--output", str(output)]) == 2
    _, err = capsys.readouterr()
    assert err.splitlines() == [
        f"{hop}:{line}:3: unknown-step: cannot override step 'stop-wroker': "
        "this hop's runbook has no such step"]
    assert {p.name: p.read_text(encoding="utf-8") for p in output.glob("*.yaml")} == before


def test_a_missing_source_folder_is_invalid_input(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runbooks", "render", "--check", "--source", str(tmp_path)]) == 2
    assert "no shared runbook source here" in capsys.readouterr().err


def test_list_prints_the_shipped_runbooks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runbooks", "list", "-f", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 18
    assert rows[0] == {"name": "pike-to-queens", "from": "pike", "to": "queens", "revision": 1,
                       "path": str(RUNBOOKS / "pike-to-queens.yaml")}
    assert rows[-1]["name"] == "gazpacho-to-hibiscus"
    assert main(["runbooks", "list"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["name", "from", "to", "revision", "path"]
    assert table[2].split()[:3] == ["pike-to-queens", "pike", "queens"]


def test_help_teaches_the_source_and_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["runbooks", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "runbook-source/cold-upgrade.yaml" in out and "render --check" in out


def test_main_help_lists_runbooks_without_loading_the_renderer() -> None:
    code = ("import sys; from octavia_upgrade.cli import build_parser; "
            "h = build_parser().format_help(); "
            "print('runbooks' in h, 'octavia_upgrade.authoring' in sys.modules, "
            "'yaml' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "engine")}, check=True)
    assert done.stdout.split() == ["True", "False", "False"]


def test_convert_turns_a_v1_runbook_into_v2_with_the_same_meaning(tmp_path: Path) -> None:
    import textwrap

    from octavia_upgrade.loader import load_runbook

    v1 = tmp_path / "dalmatian-to-epoxy.yaml"
    v1.write_text(textwrap.dedent("""\
        apiVersion: octavia-upgrade/v1
        kind: Runbook
        metadata: {name: dalmatian-to-epoxy, from: dalmatian, to: epoxy, revision: 1}
        steps:
          - {id: stop-api, kind: service, with: {action: stop, services: [api]}, timeout: 1m,
             on_failure: rollback}
        rollback:
          # runs last
          - {id: second, kind: sleep, with: {duration: 1}, when: "{{ true }}"}
          # runs first
          - {id: first, kind: sleep, with: {duration: 1}}
        """), encoding="utf-8")
    out = tmp_path / "v2" / "dalmatian-to-epoxy.yaml"
    out.parent.mkdir()
    res = cli("runbooks", "convert", str(v1), "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "octavia-upgrade/v2" in res.stderr
    before, after = load_runbook(v1), load_runbook(out)
    assert [s.id for s in after.rollback] == [s.id for s in before.rollback] == ["first", "second"]
    assert after.step("stop-api").retry == before.step("stop-api").retry
    text = out.read_text(encoding="utf-8")
    assert text.index("# runs first") < text.index("# runs last")
    assert 'when: "true"' in text
    assert cli("lint", str(out)).returncode == 0
    # Twice is refused: the file is v2 already, nothing is written.
    again = cli("runbooks", "convert", str(out), "--in-place")
    assert again.returncode == 2 and "not an octavia-upgrade/v1 runbook" in again.stderr
    assert out.read_text(encoding="utf-8") == text
