"""v1 → v2 runbook conversion: same steps, same order of execution, comments kept."""

from __future__ import annotations

import textwrap

import pytest

from octavia_upgrade.convert import convert_text
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.loader import load_runbook_text

V1 = textwrap.dedent("""\
    # A hand-written v1 runbook.
    apiVersion: octavia-upgrade/v1
    kind: Runbook
    metadata: {name: dalmatian-to-epoxy, from: dalmatian, to: epoxy, revision: 4}
    parameters:
      backup: {type: boolean, default: true}
    steps:
      - id: stop-api
        kind: service
        with: {action: stop, services: [api]}
        timeout: 2m
        on_failure: rollback
      - id: backup
        kind: backup
        when: "{{ params.backup }}"
        timeout: 1h
        with: {dest_dir: /var/backups}
      - {id: stop-worker, kind: service, with: {action: stop, services: [worker]}, timeout: 1m}
    # Bottom-up, as v1 wants it.
    rollback:
      # Last: start again.
      - id: start
        kind: service
        with: {action: start, services: [api]}
        timeout: 5m
      # First: read the revision.
      - id: revision
        kind: db_migrate
        with: {action: current}
        timeout: 2m
    finally:
      - {id: done, kind: sleep, with: {duration: 1}}
    """)


def test_conversion_keeps_every_step_and_the_order_they_run_in() -> None:
    before = load_runbook_text(V1, "dalmatian-to-epoxy.yaml")
    result = convert_text(V1, "dalmatian-to-epoxy.yaml")
    after = load_runbook_text(result.text, "dalmatian-to-epoxy.yaml")
    assert after.api_version == "octavia-upgrade/v2"
    assert [s.id for s in after.rollback] == [s.id for s in before.rollback] == ["revision", "start"]
    for old, new in zip(before.all_steps(), after.all_steps()):
        assert (old.id, old.args, old.when, old.retry, old.timeout) == (
            new.id, new.args, new.when, new.retry, new.timeout)
    # Comments travel with their step; the braces leave `when`.
    assert "# First: read the revision.\n  - id: revision" in result.text
    assert result.text.index("id: revision") < result.text.index("id: start")
    assert "    when: params.backup\n" in result.text
    assert result.text.startswith("# A hand-written v1 runbook.\napiVersion: octavia-upgrade/v2\n")
    # v2 would retry these stops three times: the conversion keeps v1's single attempt.
    assert "- {id: stop-worker, retry: {attempts: 1}, kind: service" in result.text
    assert "  - id: stop-api\n    retry: {attempts: 1}\n" in result.text
    assert result.notes == []


def test_a_step_that_would_gain_a_timeout_is_named_in_the_notes() -> None:
    text = V1.replace("    timeout: 1h\n", "")
    result = convert_text(text, "dalmatian-to-epoxy.yaml")
    [note] = result.notes
    assert "step backup" in note and "3600s" in note


def test_only_v1_runbooks_are_converted() -> None:
    v2 = convert_text(V1, "dalmatian-to-epoxy.yaml").text
    with pytest.raises(InvalidInput, match="not an octavia-upgrade/v1 runbook"):
        convert_text(v2, "dalmatian-to-epoxy.yaml")
