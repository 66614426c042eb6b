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


def write(tmp_path: Path, name: str, body: str, *, frm: str = "queens", to: str = "rocky",
          version: str = "v2") -> Path:
    head = (f"apiVersion: octavia-upgrade/{version}\nkind: Runbook\nmetadata:\n  name: {name}\n"
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
    # rollback and finally run in list order: r1 before r2, f1 before f2.
    assert rules(path) == [("forward-output", 12, 45), ("forward-output", 15, 45)]


V1_ROLLBACK = """\
    steps:
      - {id: a, kind: command, with: {command: "true"}, on_failure: rollback}
    rollback:
      - {id: r1, kind: command, with: {command: "echo {{ outputs.r2.rc }}"}}
      - {id: r2, kind: command, with: {command: "echo {{ outputs.r1.rc }}"}, when: "{{ true }}"}
    """


def test_a_v1_runbook_is_still_read_with_its_meaning_and_a_hint_to_convert(
        tmp_path: Path) -> None:
    path = write(tmp_path, "old", V1_ROLLBACK, version="v1")
    diags = loader.check_runbook(path)
    # v1 lists rollback steps bottom-up: r2 runs first, so r2 may not read r1.
    assert [(d.rule, d.line, d.severity) for d in diags] == [
        ("format-v1", 1, "info"), ("forward-output", 12, "error")]
    assert "octavia-upgrade runbooks convert" in diags[0].message
    ok = write(tmp_path, "ok", V1_ROLLBACK.replace("outputs.r1.rc", "1"), version="v1")
    rb = loader.load_runbook(ok)
    assert [s.id for s in rb.rollback] == ["r2", "r1"]  # the model holds the run order
    assert rb.step("r2").when == "true"  # a braced v1 `when` becomes a bare expression


def test_v2_when_is_a_bare_expression_like_that(tmp_path: Path) -> None:
    path = write(tmp_path, "braced", """\
        steps:
          - {id: a, kind: sleep, with: {duration: 1}, when: "{{ release.to.slurp }}"}
        """)
    [diag] = loader.check_runbook(path)
    assert (diag.rule, diag.line) == ("when-expression", 9)
    assert "'release.to.slurp'" in diag.message


def test_v2_steps_take_their_kinds_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "defaults", """\
        steps:
          - {id: stop, kind: service, with: {action: stop, services: [api]}}
          - {id: start, kind: service, with: {action: start}, timeout: 5m, retry: {attempts: 1}}
          - {id: pkgs, kind: packages}
          - {id: nap, kind: sleep, with: {duration: 1}}
        """)
    rb = loader.load_runbook(path)
    stop, start, pkgs, nap = rb.steps
    assert (stop.timeout, stop.retry.attempts, stop.retry.delay, stop.retry.backoff) == (
        120.0, 3, 5.0, 2.0)
    assert (start.timeout, start.retry.attempts) == (300.0, 1)  # stated values win
    assert (pkgs.timeout, pkgs.retry.attempts, pkgs.retry.delay) == (1800.0, 2, 30.0)
    assert (nap.timeout, nap.retry.attempts) == (None, 1)
    v1 = loader.load_runbook(write(tmp_path, "v1", """\
        steps:
          - {id: stop, kind: service, with: {action: stop, services: [api]}}
        """, version="v1"))
    assert (v1.steps[0].timeout, v1.steps[0].retry.attempts) == (None, 1)


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
