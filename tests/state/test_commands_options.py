"""Schema 0003 on SQLite, PostgreSQL and MariaDB: the commands each attempt sent and
how each run was started, stored redacted and read back as given."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from octavia_upgrade.logs import Redactor
from octavia_upgrade.state import Store

SECRET = "Zq8-secret-Pa55word"


@pytest.fixture
def store(state_db: Any) -> Iterator[Store]:
    s = state_db.open(redactor=Redactor([SECRET]))
    try:
        yield s
    finally:
        s.close()


def new_run(store: Store, **kw: Any) -> Any:
    return store.create_run(runbook_name="dalmatian-to-epoxy", runbook_path="rb.yaml",
                            runbook_sha256="ab" * 32, runbook_revision=3,
                            from_release="dalmatian", to_release="epoxy", deployment="lab",
                            **kw)


def test_commands_are_stored_in_order_with_secrets_masked(store: Store) -> None:
    run = new_run(store)
    sent = [
        {"key": "service_stop:api", "planned": "systemctl stop octavia-api",
         "sent": "systemctl stop octavia-api"},
        {"key": "db_backup", "planned": "mysqldump octavia | gzip > <run time>/db.sql.gz",
         "sent": "mysqldump octavia | gzip > /var/backups/20261205-1/db.sql.gz"},
        {"key": "command", "planned": f"mysql --password={SECRET} octavia < dump.sql",
         "sent": f"mysql --password={SECRET} octavia < dump.sql"},
    ]
    rid = store.record_start(run.id, "backup-db", "ctl1", 1)
    ended = store.record_end(rid, "succeeded", 0, commands=sent)
    [read] = store.results(run.id)
    assert read == ended
    # ``key`` is kept (the redactor would mask a whole value under a key named "key").
    assert [c["key"] for c in read.commands] == ["service_stop:api", "db_backup", "command"]
    assert read.commands[:2] == sent[:2]
    assert read.commands[2] == {"key": "command", "planned": "mysql --password=*** octavia < "
                                "dump.sql", "sent": "mysql --password=*** octavia < dump.sql"}
    with store.engine.connect() as conn:
        raw = conn.execute(text("SELECT commands FROM step_results")).scalar_one()
    assert SECRET not in raw and "systemctl stop octavia-api" in raw
    assert read.as_dict()["commands"] == read.commands


def test_a_poll_is_stored_once_with_its_count(store: Store) -> None:
    run = new_run(store)
    poll = {"key": "verify:api", "planned": "systemctl is-active --quiet octavia-api",
            "sent": "systemctl is-active --quiet octavia-api"}
    rid = store.record_start(run.id, "stop-api", "ctl1", 1)
    store.record_end(rid, "succeeded", 0, commands=[{**poll, "times": 7}])
    [read] = store.results(run.id)
    assert read.commands == [{**poll, "times": 7}]


def test_attempts_without_commands_read_back_empty(store: Store) -> None:
    run = new_run(store)
    rid = store.record_start(run.id, "approve", "local", 1)
    [running] = store.results(run.id)
    assert running.commands == []
    assert store.record_end(rid, "succeeded", 0).commands == []
    assert store.results(run.id)[0].commands == []


def test_malformed_commands_are_refused_and_nothing_is_written(store: Store) -> None:
    run = new_run(store)
    rid = store.record_start(run.id, "stop", "ctl1", 1)
    with pytest.raises(ValueError, match="command 1 lacks sent"):
        store.record_end(rid, "succeeded", 0, commands=[{"key": "k", "planned": "p"}])
    assert store.results(run.id)[0].status == "running"


def test_run_options_are_stored_as_given_with_secrets_masked(store: Store) -> None:
    options = {"detect": False, "limit": "ctl1,ctl2", "yes": True,
               "params": {"backup_dir": "/srv/backup", "db_password": SECRET},
               "extra": ["kept", 1]}
    run = new_run(store, options=options)
    expected = {**options, "params": {"backup_dir": "/srv/backup", "db_password": "***"}}
    assert run.options == expected
    assert store.get_run(run.id).options == expected
    assert store.list_runs()[0].as_dict()["options"] == expected
    with store.engine.connect() as conn:
        assert SECRET not in conn.execute(text("SELECT options FROM runs")).scalar_one()


def test_runs_started_without_options_have_none(store: Store) -> None:
    run = new_run(store)
    assert run.options is None and store.get_run(run.id).options is None
    assert store.get_run(run.id).as_dict()["options"] is None
