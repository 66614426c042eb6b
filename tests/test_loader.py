"""loader: runbook → model, with every semantic rule positioned."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from octavia_upgrade import loader
from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.errors import InvalidInput

GOOD = Path(__file__).parent / "corpus" / "good" / "queens-to-rocky.yaml"


def write(tmp_path: Path, name: str, body: str, *, frm: str = "queens", to: str = "rocky") -> Path:
    head = (f"apiVersion: octavia-upgrade/v1\nkind: Runbook\nmetadata:\n  name: {name}\n"
            f"  from: {frm}\n  to: {to}\n  revision: 1\n")
    path = tmp_path / f"{name}.yaml"
    path.write_text(head + textwrap.dedent(body), encoding="utf-8")
    return path


ONE_STEP = "steps:\n  - {id: s, kind: sleep, with: {duration: 1}}\n"


def rules(path: Path) -> list[tuple[str, int, int]]:
    return [(d.rule, d.line, d.col) for d in loader.check_runbook(path)]


def test_good_runbook_builds_the_model() -> None:
    rb = loader.load_runbook(GOOD)
    assert rb.sha256 == hashlib.sha256(GOOD.read_bytes()).hexdigest()
    assert (rb.metadata.name, rb.metadata.from_, rb.metadata.to, rb.metadata.revision) == (
        "queens-to-rocky", "queens", "rocky", 3)
    assert rb.parameters["db_password"].secret and rb.secret_params == ("db_password",)
    assert rb.parameters["backup_dir"].default == "/var/backups/octavia"
    stop = rb.step("stop-housekeeping")
    assert stop.timeout == 120.0 and stop.serial == (1,)
    assert (stop.retry.attempts, stop.retry.delay, stop.retry.backoff) == (3, 5.0, 2.0)
    assert stop.targets.roles == ("housekeeping",) and stop.on_failure == "rollback"
    assert (stop.pos.line, stop.pos.col) == (37, 5)
    assert rb.step("stop-others").serial == (1, "50%", "100%")
    assert rb.step("upgrade-packages").timeout == 900.0
    assert rb.step("upgrade-packages").serial == ("50%",)
    assert rb.step("settle").args.duration == 0.25
    assert rb.step("migrate").targets.once is True
    assert rb.step("confirm").name == "Confirm the maintenance window"
    assert rb.step("backup-db").name == "backup-db"
    assert [s.id for s in rb.rollback] == ["rollback-start"]
    assert [s.id for s in rb.finally_] == ["report-done"]
    assert rb.max_failures == 0


def test_version_ids_are_accepted_and_normalised_to_series(tmp_path: Path) -> None:
    path = write(tmp_path, "dalmatian-to-epoxy", """\
        steps:
          - {id: s, kind: sleep, with: {duration: 1}}
        """, frm="2024.2", to="'2025.1'")
    rb = loader.load_runbook(path)
    assert (rb.metadata.from_, rb.metadata.to) == ("dalmatian", "epoxy")


def test_load_raises_with_every_diagnostic_sorted(tmp_path: Path) -> None:
    path = write(tmp_path, "many", """\
        steps:
          - id: a
            kind: command
            with: {command: "echo {{ params.nope }}"}
          - id: a
            kind: sleep
            with: {duration: 1s}
            tiemout: 3s
        """)
    with pytest.raises(InvalidInput) as info:
        loader.load_runbook(path)
    found = [(d.rule, d.line) for d in info.value.diagnostics]
    assert found == [("undefined-param", 11), ("duplicate-id", 12), ("unknown-field", 15)]
    assert found == sorted(found, key=lambda x: x[1])


def test_non_sequential_names_the_chain(tmp_path: Path) -> None:
    path = write(tmp_path, "pike-to-stein", ONE_STEP,
                 frm="pike", to="stein")
    [diag] = loader.check_runbook(path)
    assert (diag.rule, diag.line, diag.col) == ("non-sequential", 6, 7)
    assert diag.message == ("pike-to-stein is not a sequential upgrade; Octavia supports "
                            "sequential upgrades only: use pike-to-queens, then queens-to-rocky, "
                            "then rocky-to-stein")


def test_slurp_skip_level_is_refused_and_says_so(tmp_path: Path) -> None:
    cat = load_catalog()
    slurps = [r.series for r in cat.releases if r.slurp]
    a, b = slurps[0], slurps[1]
    path = write(tmp_path, f"{a}-to-{b}", ONE_STEP,
                 frm=a, to=b)
    [diag] = loader.check_runbook(path)
    assert diag.rule == "non-sequential" and "SLURP" in diag.message
    assert ", then ".join(cat.chain_names(a, b)) in diag.message


def test_downgrade_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "rocky-to-pike", ONE_STEP,
                 frm="rocky", to="pike")
    assert [d.rule for d in loader.check_runbook(path)] == ["downgrade"]


def test_outputs_rules_for_rollback_and_finally(tmp_path: Path) -> None:
    path = write(tmp_path, "outs", """\
        steps:
          - {id: a, kind: command, with: {command: "true"}, on_failure: rollback}
          - {id: b, kind: command, with: {command: "echo {{ outputs.a.stdout }}"}}
        rollback:
          - {id: r1, kind: command, with: {command: "echo {{ outputs.r2.rc }} {{ outputs.b.rc }}"}}
          - {id: r2, kind: command, with: {command: "echo {{ outputs.r1.rc }}"}}
        finally:
          - {id: f1, kind: command, with: {command: "echo {{ outputs.f2.rc }}"}}
          - {id: f2, kind: command, with: {command: "echo {{ outputs['f1'].rc }}"}}
        """)
    # rollback runs in reverse: r2 before r1; finally in order: f1 before f2.
    assert rules(path) == [("forward-output", 13, 45), ("forward-output", 15, 45)]


def test_when_is_an_expression_and_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "when", """\
        parameters:
          go: {type: boolean, default: true}
        steps:
          - {id: a, kind: sleep, with: {duration: 1}, when: params.go and release.to.slurp}
          - {id: b, kind: sleep, with: {duration: 1}, when: params.stop}
          - {id: c, kind: sleep, with: {duration: 1}, when: false}
        """)
    assert rules(path) == [("undefined-param", 12, 53)]


def test_jinja_error_in_block_scalar_points_at_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "block", """\
        steps:
          - id: a
            kind: command
            with:
              command: |
                echo one
                {% if x %}
                echo two
        """)
    [(rule, line, col)] = rules(path)
    assert rule == "jinja-syntax" and line >= 13 and col == 9


def test_raw_parameter_in_command_is_a_warning_only(tmp_path: Path) -> None:
    path = write(tmp_path, "raw", """\
        parameters:
          extra: {type: string, default: "-v"}
        steps:
          - {id: a, kind: command, with: {command: "ls {{ params.extra | raw }}"}}
        """)
    [diag] = loader.check_runbook(path)
    assert (diag.rule, diag.severity) == ("raw-param", "warning")
    assert loader.load_runbook(path).step("a").kind == "command"


def test_shipped_runbooks_load_cleanly() -> None:
    shipped = sorted((Path(__file__).parent.parent / "runbooks").glob("*.yaml"))
    for path in shipped:
        errors = [d for d in loader.check_runbook(path) if d.severity == "error"]
        assert errors == [], path
        rb = loader.load_runbook(path)
        assert load_catalog().is_adjacent(rb.metadata.from_, rb.metadata.to)


def test_a_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        loader.load_runbook(tmp_path / "nope.yaml")
    assert info.value.diagnostics[0].rule == "io"
