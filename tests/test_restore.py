"""The ``restore`` kind: load-time checks, the plan, the human gate, and a real restore.

The last tests run the shipped ``venv`` flavor's ``db_backup`` and
``db_restore`` over real SSH (the bare sshd nodes) against a real MariaDB
server, through the CLI with a terminal on stdin, as an operator would.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from octavia_upgrade.errors import ApprovalUnavailable, InvalidInput
from octavia_upgrade.loader import load_runbook
from octavia_upgrade.resources import flavors_dir, runbooks_dir

HEAD = "db2a73e82626"  # Dalmatian's alembic head
HALF_WAY = "0123456789ab"


def _runbook(tmp_path: Path, rollback: list[dict], name: str = "restore-drill",
             steps: list[dict] | None = None) -> Path:
    doc = {
        "apiVersion": "octavia-upgrade/v2", "kind": "Runbook",
        "metadata": {"name": name, "from": "dalmatian", "to": "epoxy", "revision": 1},
        "steps": steps or [
            {"id": "db-backup", "kind": "backup", "with": {"dest_dir": str(tmp_path / "b")}},
            {"id": "db-upgrade", "kind": "command", "on_failure": "rollback",
             "targets": {"roles": ["db-migrate"]}, "with": {"command": "false"}}],
        "rollback": rollback,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


GATE = {"id": "approve-restore", "kind": "approval",
        "with": {"requires_human": True, "message": "Restore?"}}


@pytest.mark.parametrize(("rollback", "expected"), [
    ([GATE, {"id": "restore-db", "kind": "restore",
             "with": {"backup": "db-bakup", "approval": "approve-restore"}}],
     "backup: 'db-bakup' is not the id of a backup step"),
    ([GATE, {"id": "restore-db", "kind": "restore",
             "with": {"backup": "db-upgrade", "approval": "approve-restore"}}],
     "backup: 'db-upgrade' is not the id of a backup step"),
    ([{"id": "restore-db", "kind": "restore",
       "with": {"backup": "db-backup", "approval": "approve-restore"}}, GATE],
     "approval: step 'approve-restore' does not run before this restore"),
])
def test_a_restore_must_name_an_earlier_backup_and_approval(tmp_path: Path, rollback: list,
                                                           expected: str) -> None:
    path = _runbook(tmp_path, rollback)
    with pytest.raises(InvalidInput) as err:
        load_runbook(path)
    diags = [d for d in err.value.diagnostics if d.rule == "restore-reference"]
    assert [d.message for d in diags] == [expected]
    assert diags[0].path == str(path) and diags[0].line > 1  # positioned on the value


def test_a_restore_without_an_approval_is_refused_by_the_schema(tmp_path: Path) -> None:
    path = _runbook(tmp_path, [{"id": "restore-db", "kind": "restore",
                                "with": {"backup": "db-backup"}}])
    with pytest.raises(InvalidInput) as err:
        load_runbook(path)
    assert any("approval" in d.message and d.rule == "missing-field"
               for d in err.value.diagnostics), err.value.diagnostics


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


def test_the_plan_shows_the_restore_exactly_and_the_gate_as_terminal_only() -> None:
    import json

    inv = Path(__file__).resolve().parent.parent / "inventory" / "native" / "inventory.yaml"
    res = _cli("plan", str(runbooks_dir() / "dalmatian-to-epoxy.yaml"), "-i", str(inv),
               "--no-detect", "--flavor", "venv", "-f", "json")
    assert res.returncode == 0, res.stderr
    steps = {s["id"]: s for s in json.loads(res.stdout)["procedure"]}
    restore = steps["rollback-restore-db"]
    (host,) = restore["commands"]
    cmds = {c["key"]: c for c in restore["commands"][host]}
    dump = "/var/backups/octavia/octavia-{{ run.id }}-db-backup.sql.gz"
    assert list(cmds) == ["checksum", "restore", "current"]
    assert cmds["checksum"]["text"] == f"sha256sum -- '{dump}'"
    assert "db-backup recorded" in cmds["checksum"]["note"]
    text = cmds["restore"]["text"]
    assert f"gzip -dc -- '{dump}'" in text and "--defaults-extra-file=/root/.my.cnf" in text
    assert "|" not in text  # no pipe can hide a failure's exit code
    assert HEAD in cmds["current"]["note"]
    assert host in steps["db-backup"]["hosts"]
    text_plan = _cli("plan", str(runbooks_dir() / "dalmatian-to-epoxy.yaml"), "-i", str(inv),
                     "--no-detect").stdout
    gate = next(line for line in text_plan.splitlines() if "rollback-approve-restore" in line)
    assert "APPROVAL at a terminal (not --yes)" in gate


def test_yes_never_gives_an_approval_that_requires_a_human(tmp_path: Path) -> None:
    import threading

    from octavia_upgrade.console import Console
    from octavia_upgrade.identity import Identity
    from octavia_upgrade.session.approvals import ApprovalGate
    from octavia_upgrade.session.prompts import manual_approvals

    runbook = load_runbook(_runbook(tmp_path, [GATE, {
        "id": "restore-db", "kind": "restore",
        "with": {"backup": "db-backup", "approval": "approve-restore"}}], steps=[
        {"id": "db-backup", "kind": "backup", "with": {"dest_dir": "/b"}},
        {"id": "go", "kind": "approval", "with": {"message": "Go?"}},
        {"id": "check", "kind": "approval",
         "with": {"message": "Checked?", "requires_human": True}},
        {"id": "db-upgrade", "kind": "command", "on_failure": "rollback",
         "with": {"command": "false"}}]))
    manual = manual_approvals(runbook)
    assert manual == {"approve-restore", "check"}
    # A rehearsal without a terminal: --yes answers "go" only, the manual gates fail.
    prompt = ApprovalGate(store=None, run_id="r1", operator="ops@ctl",
                          me=Identity("ops@ctl", "ctl"), console=Console(stream=io.StringIO()), cancel=threading.Event(),
                          yes=True, manual=manual, stdin=io.StringIO(""))
    assert prompt(runbook.step("go"), "Go?", None).how == "--yes"
    for step_id in ("check", "approve-restore"):
        with pytest.raises(ApprovalUnavailable, match="--yes never approves"):
            prompt(runbook.step(step_id), "?", None)


# --------------------------------------------------------------------------- real MariaDB


def _mysql(defaults: Path, database: str, sql: str) -> str:
    done = subprocess.run(["mysql", f"--defaults-extra-file={defaults}", "-N", "-B", "-e", sql,
                           database], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _drill_flavor(tmp_path: Path) -> Path:
    """The shipped venv flavor, with octavia-db-manage current read straight from MySQL."""
    doc = yaml.safe_load((flavors_dir() / "venv.yaml").read_text())
    doc["name"] = "drill"
    doc["actions"]["db_manage"] = ("mysql --defaults-extra-file={{ vars.db_defaults_file }} "
                                   "-N -B -e 'SELECT version_num FROM alembic_version' "
                                   "{{ vars.db_name }}")
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.lab
@pytest.mark.parametrize("tampered", [False, True], ids=["restored", "checksum-mismatch"])
def test_the_shipped_db_restore_puts_a_mariadb_database_back(
        tmp_path: Path, mariadb_server, write_inventory, tampered: bool) -> None:  # type: ignore[no-untyped-def]
    import json

    from octavia_upgrade.lab.octaviaconf import db_defaults_file
    from terminal import run_at_terminal

    name = f"drill_{os.getpid()}_{int(tampered)}"
    mariadb_server.create_database(name)
    defaults = tmp_path / "my.cnf"
    defaults.write_text(db_defaults_file(mariadb_server.user, mariadb_server.password,
                                         mariadb_server.port))
    defaults.chmod(0o600)
    _mysql(defaults, name, "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY);"
           f"INSERT INTO alembic_version VALUES ('{HEAD}');"
           "CREATE TABLE load_balancer (id VARCHAR(36) PRIMARY KEY, name VARCHAR(255));"
           "INSERT INTO load_balancer VALUES ('lb-1', 'web');")
    # A migration that stops half way: a new table, a changed row, a moved revision.
    migrate = (f"mysql --defaults-extra-file={defaults} {name} -e \"CREATE TABLE added (id INT);"
               f" UPDATE load_balancer SET name = 'changed';"
               f" UPDATE alembic_version SET version_num = '{HALF_WAY}'\"")
    if tampered:
        migrate += " && echo garbage >> {{ outputs['db-backup'].path }}"
    runbook = _runbook(tmp_path, [GATE, {
        "id": "restore-db", "kind": "restore",
        "with": {"backup": "db-backup", "approval": "approve-restore"}}], steps=[
        {"id": "db-backup", "kind": "backup",
         "with": {"dest_dir": str(tmp_path / "backups"), "database": name}},
        {"id": "db-upgrade", "kind": "command", "on_failure": "rollback",
         "targets": {"roles": ["db-migrate"]},
         "with": {"command": migrate + " && exit 1"}}])
    inv = write_inventory(tmp_path, flavor=str(_drill_flavor(tmp_path)), deployment=name,
                          vars={"db_defaults_file": str(defaults), "db_name": name})
    env = {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(tmp_path / "state")}
    res = run_at_terminal(["run", str(runbook), "-i", str(inv), "--yes", "--no-detect"], env)
    out = res.stdout + res.stderr
    assert res.returncode == 1 and "Traceback" not in out, out
    assert mariadb_server.password not in out
    runs = json.loads(_cli("runs", "-f", "json", env=env).stdout)
    shown = json.loads(_cli("show", runs[0]["id"], "-f", "json", env=env).stdout)
    results = {r["step_id"]: r for r in shown["results"]}
    restore = results["restore-db"]
    tables = set(_mysql(defaults, name, "SHOW TABLES").split())
    (dump,) = (tmp_path / "backups").glob("*.sql.gz")
    assert not list((tmp_path / "backups").glob("*.restore*"))  # temporary files removed
    if tampered:
        assert restore["status"] == "failed"
        assert "nothing restored" in restore["message"] and "changed since" in restore["message"]
        assert _mysql(defaults, name, "SELECT version_num FROM alembic_version") == HALF_WAY
        assert "added" in tables
        return
    assert restore["status"] == "succeeded", restore
    assert _mysql(defaults, name, "SELECT version_num FROM alembic_version") == HEAD
    assert _mysql(defaults, name, "SELECT name FROM load_balancer") == "web"
    assert tables == {"alembic_version", "load_balancer"}  # the migration's table is gone
    assert restore["outputs"]["revision"] == HEAD
    assert restore["outputs"]["sha256"] == results["db-backup"]["outputs"]["sha256"]
    sent = [c["sent"] for c in restore["commands"]]
    assert sent[0] == f"sha256sum -- '{dump}'"
    report = _cli("report", runs[0]["id"], env=env)
    assert report.returncode == 0, report.stderr
    assert "Database restore" in report.stdout and restore["outputs"]["sha256"] in report.stdout
