"""A crash while the state database is first created must not brick it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from octavia_upgrade.state import open_store

#: Runs the tool's own self-migration in a fresh state directory and SIGKILLs
#: itself right after the N-th CREATE TABLE reached SQLite.
CRASHER = """
import os, signal, sys
from pathlib import Path
from sqlalchemy import event
from octavia_upgrade.state import db
state = Path(sys.argv[1])
db.prepare_state_dir(state)
engine = db.make_engine(db.parse_url(db.default_url(state)))
seen = []
@event.listens_for(engine, "after_cursor_execute")
def crash(conn, cursor, statement, *args):
    if statement.lstrip().upper().startswith("CREATE TABLE"):
        seen.append(statement)
        if len(seen) == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)
db.migrate(engine)
"""


@pytest.mark.parametrize("after_tables", [1, 3, 6])
def test_sigkill_during_the_first_migration_leaves_a_usable_database(
        tmp_path: Path, after_tables: int) -> None:
    state = tmp_path / "state"
    proc = subprocess.run([sys.executable, "-c", CRASHER, str(state), str(after_tables)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr  # it really died mid-migration
    # the next command opens the database normally and finds it consistent
    res = subprocess.run([sys.executable, "-m", "octavia_upgrade", "runs"], capture_output=True,
                         text=True, timeout=120,
                         env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})
    assert res.returncode == 0, res.stderr
    assert "no runs recorded" in res.stdout
    store = open_store(None, state)
    try:
        assert store.integrity_check() == []
        assert store.list_runs() == []
    finally:
        store.close()


def test_resume_writes_what_the_log_missed_from_the_state_database(tmp_path: Path) -> None:
    """The database committed, the process died before the log line: resume fills it in."""
    import json

    from octavia_upgrade import logs
    from octavia_upgrade.logrecover import recover

    store = open_store(None, tmp_path / "state")
    try:
        run = store.create_run(runbook_name="rb", runbook_path="/rb.yaml", runbook_sha256="0",
                               runbook_revision=1, from_release="dalmatian", to_release="epoxy",
                               deployment="d")
        log = logs.run_logger(tmp_path / "state", run.id)
        a = store.record_start(run.id, "stop-api", "node1", 1)
        log.info("attempt-started", step_id="stop-api", host="node1", attempt=1)
        store.record_end(a, "succeeded", 0)  # ... killed before its log line
        store.record_start(run.id, "stop-api", "node2", 1)  # killed before any log line
        log.close()
        with log.path.open("a") as f:
            f.write('{"event": "attempt-fin')  # and a line cut short
        store.mark_in_flight_unknown(run.id)
        log = logs.run_logger(tmp_path / "state", run.id)
        assert recover(log, store.results(run.id)) == 3
        assert recover(log, store.results(run.id)) == 0  # idempotent
        log.close()
        entries = []
        for line in log.path.read_text().splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
        got = {(e["event"], e["host"], e.get("status"), e.get("recovered", False))
               for e in entries}
        assert got == {("attempt-started", "node1", None, False),
                       ("attempt-finished", "node1", "succeeded", True),
                       ("attempt-started", "node2", None, True),
                       ("attempt-unknown", "node2", "unknown", True)}
    finally:
        store.close()
