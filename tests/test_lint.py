"""lint: dispatch by kind, the bad corpus (exact rule and position), the good corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from octavia_upgrade import lint

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, object]] = yaml.safe_load(
    (CORPUS / "bad" / "EXPECTED.yaml").read_text(encoding="utf-8"))


def test_the_bad_corpus_is_large_and_fully_declared() -> None:
    files = {p.name for p in (CORPUS / "bad").glob("*.yaml")} - {"EXPECTED.yaml"}
    assert len(files) >= 45
    assert files == set(EXPECTED)
    kinds = {name.split("-")[0] for name in files}
    assert {"rb", "inv", "flavor"} <= kinds


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_gives_exactly_its_diagnostic(name: str) -> None:
    want = EXPECTED[name]
    found = lint.lint_file(CORPUS / "bad" / name)
    assert [(d.rule, d.line, d.col) for d in found] == [(want["rule"], want["line"], want["col"])]
    assert found[0].severity == "error" and found[0].message


def test_good_corpus_lints_clean() -> None:
    result = lint.lint_paths([CORPUS / "good"])
    assert len(result.files) >= 3
    assert result.diagnostics == () and result.ok


def test_directories_are_searched_recursively_and_hidden_folders_skipped(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "a" / "b" / "x.yml").write_text("kind: Nope\n")
    (tmp_path / ".git" / "y.yaml").write_text("kind: Nope\n")
    (tmp_path / "notes.txt").write_text("kind: Nope\n")
    result = lint.lint_paths([tmp_path])
    assert result.files == (str(tmp_path / "a" / "b" / "x.yml"),)
    assert [d.rule for d in result.diagnostics] == ["unknown-document-kind"]


def test_missing_paths_are_errors() -> None:
    result = lint.lint_paths(["/no/such/runbook.yaml"])
    assert [(d.rule, d.line) for d in result.diagnostics] == [("missing-path", 0)]
    assert not result.ok


def test_warnings_do_not_fail_and_are_marked(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    flavor = (CORPUS / "good" / "flavors" / "testflavor.yaml").resolve()
    path.write_text("apiVersion: octavia-upgrade/v1\nkind: Inventory\ndeployment: d\n"
                    f"flavor: {flavor}\nhosts:\n  a: {{address: h, roles: [api]}}\n")
    result = lint.lint_paths([path])
    assert result.ok and result.warnings == 1
    assert lint.format_text(result.diagnostics[0]) == (
        f"{path}:5:1: no-db-migrate: warning: no host has the db-migrate role: backup and "
        "db_migrate steps cannot run")


def test_results_are_sorted_by_file_and_position() -> None:
    result = lint.lint_paths([CORPUS / "bad"])
    keys = [(d.path, d.line, d.col) for d in result.diagnostics]
    assert keys == sorted(keys)
    assert len({d.path for d in result.diagnostics}) == len(EXPECTED) + 1  # + EXPECTED.yaml


def test_a_step_kind_that_is_not_a_string_is_a_positioned_error(tmp_path: Path) -> None:
    # A list or mapping as `kind` once reached an unhashable lookup in the schema check.
    path = tmp_path / "x-to-y.yaml"
    path.write_text("apiVersion: octavia-upgrade/v1\nkind: Runbook\n"
                    "metadata: {name: x-to-y, from: dalmatian, to: epoxy, revision: 1}\n"
                    "steps:\n  - id: a\n    kind: []\n    with: {command: 'true'}\n"
                    "  - id: b\n    kind: {x: 1}\n")
    result = lint.lint_paths([path])
    found = {(d.rule, d.line, d.col) for d in result.diagnostics if d.severity == "error"}
    assert ("unknown-kind", 6, 11) in found and ("unknown-kind", 9, 11) in found
