"""Runbook authoring: a shared procedure and hop overlays merged into runbooks.

Small sources written to a temporary folder are rendered with the real
catalog and loaded back with the engine's loader: what an author writes in
the source is what the engine runs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from octavia_upgrade.authoring.emit import emit
from octavia_upgrade.authoring.model import Composed, Stage, Step
from octavia_upgrade.authoring.render import render_dir
from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.loader import load_runbook

CAT = load_catalog()
#: What alembic_chain.yaml says each hop used here applies.
MIGRATIONS = {"xena-to-yoga": ["6ac558d7fc21"], "pike-to-queens": ["bf171d0d91c3", "0aee2b450512"]}

SHARED = """\
kind: RunbookSource
header: |-
  ${from_label} → ${to_label}: Octavia ${from_major}.x → ${to_major}.x.
  Database migrations in this hop: ${migrations_summary}.
vars:
  packages:
    - {only_if: to.octavia_lib, value: [octavia, octavia-lib]}
    - value: [octavia]
parameters:
  backup: {type: boolean, default: true, description: Dump the database first.}
  jobboard_enabled: {only_if: to >= ussuri, type: boolean, default: false}
max_failures: 0
defaults:
  service: {timeout: 120s, idempotent: true}
steps:
  - section: pre-flight
    title: pre-flight
    comment: The database must be at the ${From} head.
    steps:
      - id: upgrade-check
        only_if: from.octavia_status
        name: octavia-status upgrade check (${From} code)
        kind: upgrade_check
        with: {on_warning: approve}
      - id: approve-outage
        name: Take the control plane down
        kind: approval
        with: {message: Approve the outage.}
  - section: stop
    title: stop (guide step 2)
    defaults:
      service: {retry: {attempts: 3, delay: 5s, backoff: 2}}
    steps:
      - id: stop-api
        name: Stop the API
        kind: service
        targets: {roles: [api]}
        with: {action: stop, services: [api]}
      - id: stop-worker
        comment: Workers finish their flows first.
        name: Stop workers
        kind: service
        targets: {roles: [worker]}
        with: {action: stop, services: [worker]}
        timeout: 300s
  - section: packages
    title: packages (guide step 4)
    steps:
      - id: upgrade-packages
        name: Upgrade ${To} (${migrations})
        kind: packages
        with: {action: upgrade, release: "${to}", packages: "${packages}"}
        on_failure: rollback
      - id: db-backup
        name: Back up
        kind: backup
        when: params.backup
        with: {dest_dir: /var/backups/octavia}
  - section: image
    title: image (guide step 8)
    steps:
      - id: image-reminder
        name: Build ${a_To} amphora image
        kind: approval
        with: {message: Build the image.}
rollback:
  comment: Runs in the order listed here.
  steps:
    - id: rollback-stop
      name: Stop everything
      kind: service
      with: {action: stop}
      retry: null
    - id: rollback-start
      name: Start the ${From} services
      kind: service
      when: outputs['rollback-stop'].rc == 0
      with: {action: start}
finally:
  steps:
    - id: final-status
      name: Record the services
      kind: service
      with: {action: status}
      on_failure: continue
"""


def hop(src: str, dst: str, body: str = "") -> str:
    return textwrap.dedent(f"""\
        kind: RunbookHop
        from: {src}
        to: {dst}
        revision: 3
        migrations: [{", ".join(MIGRATIONS.get(f"{src}-to-{dst}", []))}]
        description: From {src} to {dst}.
        references: [https://docs.openstack.org/releasenotes/octavia/{dst}.html]
        """) + textwrap.dedent(body)


def write_source(root: Path, hops: dict[str, str], shared: str = SHARED) -> Path:
    src = root / "source"
    (src / "hops").mkdir(parents=True)
    (src / "cold-upgrade.yaml").write_text(shared, encoding="utf-8")
    for name, text in hops.items():
        (src / "hops" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return src


def render_one(tmp_path: Path, src: str, dst: str, body: str = "") -> tuple[str, object]:
    """Render one hop; return its text and the runbook the engine loads from it."""
    name = f"{src}-to-{dst}"
    [rendered] = render_dir(write_source(tmp_path, {name: hop(src, dst, body)}), CAT)
    out = tmp_path / "out"
    out.mkdir()
    (out / rendered.filename).write_text(rendered.text, encoding="utf-8")
    return rendered.text, load_runbook(out / rendered.filename, catalog=CAT)


def ids(steps) -> list[str]:
    return [s.id for s in steps]


def error_of(tmp_path: Path, src: str, dst: str, body: str, shared: str = SHARED) -> str:
    source = write_source(tmp_path, {f"{src}-to-{dst}": hop(src, dst, body)}, shared)
    with pytest.raises(InvalidInput) as exc:
        render_dir(source, CAT)
    return str(exc.value)


# --------------------------------------------------------------------------- merging


def test_shared_steps_facts_and_format_v2_spelling(tmp_path: Path) -> None:
    text, rb = render_one(tmp_path, "xena", "yoga")
    assert text.startswith("# Xena → Yoga: Octavia 9.x → 10.x.\n"
                           "# Database migrations in this hop: 1 (6ac558d7fc21).\n")
    assert rb.metadata.name == "xena-to-yoga" and rb.metadata.revision == 3
    assert ids(rb.steps) == ["upgrade-check", "approve-outage", "stop-api", "stop-worker",
                             "upgrade-packages", "db-backup", "image-reminder"]
    assert rb.step("upgrade-check").name == "octavia-status upgrade check (Xena code)"
    assert rb.step("upgrade-packages").name == "Upgrade Yoga (1 migration)"
    packages = rb.step("upgrade-packages").args
    assert (packages.action, packages.release, packages.packages) == (
        "upgrade", "yoga", ("octavia", "octavia-lib"))
    assert rb.step("image-reminder").name == "Build a Yoga amphora image"
    # `when` is written bare, in the source as in format v2.
    assert rb.step("db-backup").when == "params.backup"
    assert "    when: params.backup\n" in text
    # The source and format v2 list rollback in run order; the model holds run order.
    assert ids(rb.rollback) == ["rollback-stop", "rollback-start"]
    assert text.index("id: rollback-stop") < text.index("id: rollback-start")
    assert ids(rb.finally_) == ["final-status"]
    assert set(rb.parameters) == {"backup", "jobboard_enabled"}
    # Comments a reviewer reads: the stage rule lines and the step comments.
    assert "  # " + "-" * 64 + " stop (guide step 2)\n" in text
    assert "  # The database must be at the Xena head.\n" in text
    assert "  # Workers finish their flows first.\n  - id: stop-worker\n" in text
    assert "# Runs in the order listed here.\nrollback:\n" in text


def test_kind_and_section_defaults_fill_fields_a_step_does_not_set(tmp_path: Path) -> None:
    text, rb = render_one(tmp_path, "xena", "yoga")
    api, worker = rb.step("stop-api"), rb.step("stop-worker")
    assert (api.timeout, api.retry.attempts, api.retry.delay, api.idempotent) == (120, 3, 5, True)
    assert worker.timeout == 300 and worker.retry.backoff == 2
    # Kind defaults reach rollback steps too; `retry: null` keeps the section default out,
    # and the file then pins the single attempt the engine's stop default would change.
    assert rb.step("rollback-stop").timeout == 120 and rb.step("rollback-stop").retry.attempts == 1
    # What equals the engine's default for the kind is left to the engine.
    assert "    retry: {attempts: 3, delay: 5s, backoff: 2}\n" not in text
    assert "    retry: {attempts: 1}\n" in text


def test_only_if_and_vars_follow_the_catalog(tmp_path: Path) -> None:
    _, rb = render_one(tmp_path, "pike", "queens")
    # Pike has no octavia-status, Queens no octavia-lib, and no jobboard before Ussuri.
    assert "upgrade-check" not in ids(rb.steps)
    assert rb.step("upgrade-packages").args.packages == ("octavia",)
    assert set(rb.parameters) == {"backup"}


def test_insert_at_step_and_section_anchors(tmp_path: Path) -> None:
    body = """\
        insert:
          - before: approve-outage
            steps:
              - {id: confirm-a, name: A, kind: approval, with: {message: a}}
              - {id: confirm-b, name: B, kind: approval, with: {message: b}}
          - after: stop-api
            steps: [{id: after-api, name: C, kind: sleep, with: {duration: 1s}}]
          - start: stop
            steps: [{id: first-stop, name: D, kind: service, with: {action: stop}}]
          - end: image
            steps:
              - {id: failover, name: E, kind: approval, with: {message: e},
                 data_plane_impact: 1-3 minutes per load balancer}
          - end: rollback
            steps: [{id: rollback-last, name: F, kind: approval, with: {message: f}}]
        """
    _, rb = render_one(tmp_path, "xena", "yoga", body)
    assert ids(rb.steps) == ["upgrade-check", "confirm-a", "confirm-b", "approve-outage",
                             "first-stop", "stop-api", "after-api", "stop-worker",
                             "upgrade-packages", "db-backup", "image-reminder", "failover"]
    # Inserted steps get the defaults of the section they land in.
    assert rb.step("first-stop").retry.attempts == 3
    assert rb.step("failover").data_plane_impact == "1-3 minutes per load balancer"
    # Inserted at the end of rollback: it runs last.
    assert ids(rb.rollback) == ["rollback-stop", "rollback-start", "rollback-last"]


def test_override_remove_and_move(tmp_path: Path) -> None:
    body = """\
        override:
          stop-worker:
            comment: Workers drain for ten minutes here.
            timeout: 10m
            retry: null
            with: {services: [worker, driver-agent]}
          upgrade-packages:
            on_failure: abort
        remove: [db-backup]
        insert:
          - before: approve-outage
            move: [image-reminder]
            steps: [{id: failover-first, name: F, kind: approval, with: {message: f}}]
        parameters:
          backup: {default: false}
          image_file: {type: string, default: ""}
        """
    text, rb = render_one(tmp_path, "xena", "yoga", body)
    worker = rb.step("stop-worker")
    assert worker.timeout == 600 and worker.retry.attempts == 1
    assert (worker.args.action, worker.args.services) == ("stop", ("worker", "driver-agent"))
    assert "  # Workers drain for ten minutes here.\n  - id: stop-worker\n" in text
    assert "Workers finish their flows first" not in text
    assert rb.step("upgrade-packages").on_failure == "abort"
    assert ids(rb.steps) == ["upgrade-check", "image-reminder", "failover-first",
                             "approve-outage", "stop-api", "stop-worker", "upgrade-packages"]
    assert rb.parameters["backup"].default is False
    assert rb.parameters["backup"].description == "Dump the database first."
    assert rb.parameters["image_file"].type == "string"


def test_the_authors_line_breaks_of_folded_texts_are_kept(tmp_path: Path) -> None:
    shared = SHARED.replace("        with: {message: Approve the outage.}\n", """\
        with:
          message: >-
            From here on the ${From} control plane is down:
            no load balancer can be created
            or changed.
""")
    source = write_source(tmp_path, {"xena-to-yoga": hop("xena", "yoga")}, shared)
    [rendered] = render_dir(source, CAT)
    assert ("      message: >-\n"
            "        From here on the Xena control plane is down:\n"
            "        no load balancer can be created\n"
            "        or changed.\n") in rendered.text
    loaded = yaml.safe_load(rendered.text)
    [step] = [s for s in loaded["steps"] if s["id"] == "approve-outage"]
    assert step["with"]["message"] == ("From here on the Xena control plane is down: no load "
                                       "balancer can be created or changed.")


# --------------------------------------------------------------------------- errors


def test_unknown_anchor_is_positioned_in_the_hop(tmp_path: Path) -> None:
    body = """\
        insert:
          - before: approve-outgae
            steps: [{id: x, name: X, kind: approval, with: {message: x}}]
        """
    msg = error_of(tmp_path, "xena", "yoga", body)
    assert msg.startswith(f"{tmp_path}/source/hops/xena-to-yoga.yaml:9:13: unknown-anchor: ")
    assert "approve-outgae" in msg


def test_unknown_section_anchor(tmp_path: Path) -> None:
    body = "insert:\n  - end: imgae\n    steps: []\n"
    msg = error_of(tmp_path, "xena", "yoga", body)
    assert ":9:10: unknown-anchor: no section 'imgae'; sections: pre-flight, stop," in msg


def test_override_or_removal_of_an_unknown_step(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "xena", "yoga", "override:\n  stop-wroker: {timeout: 5m}\n")
    assert msg.startswith(f"{tmp_path}/source/hops/xena-to-yoga.yaml:9:3: unknown-step: "
                          "cannot override step 'stop-wroker'")
    msg = error_of(tmp_path / "b", "pike", "queens", "remove: [upgrade-check]\n")
    assert ":8:10: unknown-step: cannot remove step 'upgrade-check'" in msg


def test_duplicate_step_id_after_merge(tmp_path: Path) -> None:
    body = """\
        insert:
          - after: stop-api
            steps: [{id: stop-worker, name: again, kind: approval, with: {message: x}}]
        """
    msg = error_of(tmp_path, "xena", "yoga", body)
    assert ":10:13: duplicate-step-id: step id 'stop-worker' is used twice" in msg


def test_yaml_error_in_a_hop(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "xena", "yoga", "override:\n  stop-api: {timeout: 5m\n")
    assert msg.startswith(f"{tmp_path}/source/hops/xena-to-yoga.yaml:") and "yaml-syntax" in msg


def test_source_structure_errors_are_all_reported(tmp_path: Path) -> None:
    body = """\
        insrt: []
        override:
          stop-api: {timout: 5m}
        """
    msg = error_of(tmp_path, "xena", "yoga", body)
    assert ":8:1: source-unknown-key: unknown key 'insrt' in a hop" in msg
    assert ":10:14: source-unknown-key: unknown key 'timout' in a step override" in msg


def test_bad_condition_and_unknown_variable_in_the_shared_source(tmp_path: Path) -> None:
    shared = SHARED.replace("only_if: from.octavia_status", "only_if: from.octavia_stauts")
    msg = error_of(tmp_path, "xena", "yoga", "", shared)
    assert "cold-upgrade.yaml:21:18: source-condition: unknown fact 'octavia_stauts'" in msg
    shared = SHARED.replace("Stop the API", "Stop the ${Api}")
    msg = error_of(tmp_path / "b", "xena", "yoga", "", shared)
    assert "cold-upgrade.yaml:34:9: source-variable: unknown variable ${Api}" in msg


def test_a_braced_when_in_the_source_is_refused(tmp_path: Path) -> None:
    body = 'override:\n  db-backup: {when: "{{ params.backup }}"}\n'
    msg = error_of(tmp_path, "xena", "yoga", body)
    assert ":9:21: source-when: write `when` bare" in msg


def test_hop_file_must_name_its_releases(tmp_path: Path) -> None:
    source = write_source(tmp_path, {"xena-to-zed": hop("xena", "yoga")})
    with pytest.raises(InvalidInput, match=r"xena-to-zed.yaml:2:7: source-hop-name: the file "
                                           r"must be named xena-to-yoga.yaml"):
        render_dir(source, CAT)


def test_migrations_must_be_the_alembic_chains(tmp_path: Path) -> None:
    source = write_source(tmp_path, {"xena-to-yoga": hop("xena", "yoga").replace(
        "[6ac558d7fc21]", "[6ac558d7fc21, 0995c26fc506]")})
    with pytest.raises(InvalidInput, match=r"xena-to-yoga.yaml:5:13: source-migrations: xena → "
                                           r"yoga applies 1 migration\(s\) \[6ac558d7fc21\]"):
        render_dir(source, CAT)


def test_a_rendered_runbook_the_engine_would_refuse_is_an_error(tmp_path: Path) -> None:
    body = "override:\n  stop-api: {on_failure: retry}\n"
    msg = error_of(tmp_path, "xena", "yoga", body)
    assert msg.startswith(f"{tmp_path}/source/hops/xena-to-yoga.yaml:0:0: ")
    assert "rendered xena-to-yoga.yaml:" in msg


# --------------------------------------------------------------------------- emitting


def test_emitted_text_loads_back_exactly() -> None:
    tricky = ["a: b", "#x", "it's", "yes", "", "{{ x }}", "- item", "50%", "1.0", "null",
              'say "hi"',
              "x" * 30 + " {{ a | default('b') }} " + "y " * 60 + "{% if z %}z{% endif %}"]
    step = Step("s", {"id": "s", "name": "S", "kind": "assert",
                      "with": {"that": "true", "message": tricky[-1]}})
    composed = Composed(
        name="t", header="a header", metadata={"name": "t", "description": " ".join(tricky)},
        parameters={f"p{i}": {"type": "string", "default": v} for i, v in enumerate(tricky)},
        max_failures=None,
        stages=(Stage("main", "steps", "main", "", (step,)),))
    text = emit(composed)
    data = yaml.safe_load(text)
    assert [p["default"] for p in data["parameters"].values()] == tricky
    assert data["steps"][0]["with"]["message"] == tricky[-1]
    # Folded at spaces, never inside a Jinja expression.
    assert "message: >-" in text
    assert "{{ a | default('b') }}" in text and "{% if z %}z{% endif %}" in text
    message = text[text.index("message: >-"):]
    assert max(len(line) for line in message.splitlines()) <= 100
