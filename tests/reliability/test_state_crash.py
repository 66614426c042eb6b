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
