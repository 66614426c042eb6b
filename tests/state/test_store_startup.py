"""What opening the run-state store costs every `run`, `resume` or `show` at start.

The store is written on SQLAlchemy Core: ``sqlalchemy.orm`` (about 0.1 s to
import) and MySQL's dialect package (about 10 ms) must not be loaded by a
command that opens an existing SQLite database, records and reads back.
Checked in a fresh interpreter, where nothing else has imported them yet.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from octavia_upgrade.state import open_store

NOT_LOADED = ("sqlalchemy.orm", "sqlalchemy.dialects.mysql")

SESSION = """
import json, sys
from pathlib import Path
from octavia_upgrade.state.store import open_store
store = open_store(None, Path(sys.argv[1]))
run = store.create_run(runbook_name="r", runbook_path="r.yaml", runbook_sha256="0" * 64,
                       runbook_revision=1, from_release="dalmatian", to_release="epoxy",
                       deployment="lab")
result = store.record_end(store.record_start(run.id, "stop-api", "ctl1", 1), "succeeded", 0)
store.set_run_status(run.id, "succeeded")
print(json.dumps({
    "result": [result.status, result.step_id, result.host],
    "runs": [r.status for r in store.list_runs()],
    "loaded": sorted(m for m in sys.modules if m.startswith(PREFIXES)),
}))
store.close()
"""


def test_opening_and_using_the_store_loads_neither_the_orm_nor_mysql(tmp_path: Path) -> None:
    open_store(None, tmp_path).close()  # a database at the schema head, as on any later start
    code = SESSION.replace("PREFIXES", repr(NOT_LOADED))
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["result"] == ["succeeded", "stop-api", "ctl1"]
    assert seen["runs"] == ["succeeded"]
    assert seen["loaded"] == []


def test_importing_the_store_does_not_import_the_orm() -> None:
    code = ("import sys, octavia_upgrade.state.store; "
            f"print(sorted(m for m in sys.modules if m.startswith({NOT_LOADED!r})))")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
