"""The shipped alembic migrations: apply from empty, match the tables in models.py, one head."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import octavia_upgrade
from octavia_upgrade.state import db
from octavia_upgrade.state.models import METADATA

TABLES = {"runs", "step_results", "approvals", "evidence", "probe_samples", "probe_series",
          "events", "locks"}


def engine_for(state_db: Any) -> Any:
    state_db.state_dir.mkdir(parents=True, exist_ok=True)
    return db.make_engine(db.parse_url(state_db.url or db.default_url(state_db.state_dir)))


def test_migrations_ship_inside_the_package_with_one_head() -> None:
    package = db.MIGRATIONS.parent.parent
    assert package == __import__("pathlib").Path(octavia_upgrade.__file__).parent
    assert (db.MIGRATIONS / "env.py").is_file()
    script = ScriptDirectory.from_config(db.alembic_config())
    assert len(script.get_heads()) == 1
    assert script.get_current_head() == db.head_revision()


def test_upgrade_head_on_empty_database_then_models_match(state_db: Any) -> None:
    engine = engine_for(state_db)
    try:
        with engine.connect() as conn:
            assert not TABLES & set(inspect(conn).get_table_names())
            command.upgrade(db.alembic_config(conn), "head")
            conn.commit()
        with engine.connect() as conn:
            assert TABLES <= set(inspect(conn).get_table_names())
            assert db.current_revision(conn) == db.head_revision()
            # Autogenerate's view of the differences between the migrated schema
            # and models.py: any drift (a column added to a table without a
            # migration, a changed type, nullability or index) shows up here.
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, METADATA) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(state_db: Any) -> None:
    engine = engine_for(state_db)
    try:
        with engine.connect() as conn:
            command.upgrade(db.alembic_config(conn), "head")
            command.downgrade(db.alembic_config(conn), "base")
            conn.commit()
        with engine.connect() as conn:
            assert not TABLES & set(inspect(conn).get_table_names())
            command.upgrade(db.alembic_config(conn), "head")
            conn.commit()
            assert db.current_revision(conn) == db.head_revision()
    finally:
        engine.dispose()


def _drift(state_db: Any, change: Callable[[Any], None]) -> list[Any]:
    """What alembic reports between the migrated database and the models after ``change``."""
    from sqlalchemy import MetaData

    engine = engine_for(state_db)
    try:
        db.migrate(engine)
        drifted = MetaData()
        for table in METADATA.tables.values():
            table.to_metadata(drifted)
        change(drifted)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, drifted))
    finally:
        engine.dispose()


def test_drift_is_detected(state_db: Any) -> None:
    """The check above can fail: a table change without a migration is reported."""
    from sqlalchemy import Column, String, Table

    diff = _drift(state_db, lambda md: Table("runs", md, Column("ticket", String(32)),
                                             extend_existing=True))
    assert [(d[0], d[2], d[3].name) for d in diff] == [("add_column", "runs", "ticket")]


def test_nullability_drift_is_detected(state_db: Any) -> None:
    """Core columns are nullable unless told: a NOT NULL column left nullable is reported."""

    def loosen(md: Any) -> None:
        md.tables["step_results"].c.stdout_tail.nullable = True

    diff = _drift(state_db, loosen)
    assert [(d[0][0], d[0][2], d[0][3]) for d in diff] == [
        ("modify_nullable", "step_results", "stdout_tail")]


def test_runs_recorded_before_0002_keep_their_data_and_have_no_inventory_options(
        state_db: Any) -> None:
    """An existing state database is upgraded in place; its runs survive up and down."""
    from datetime import datetime

    from sqlalchemy import MetaData, Table, text

    from octavia_upgrade.state.store import _run

    engine = engine_for(state_db)
    try:
        with engine.connect() as conn:
            command.upgrade(db.alembic_config(conn), "0001")
            # The table as revision 0001 made it (reflected: no inventory_options).
            old_runs = Table("runs", MetaData(), autoload_with=conn)
            conn.execute(old_runs.insert(), {
                "id": "20261101-000000-abcd", "runbook_name": "rb", "runbook_path": "/rb.yaml",
                "runbook_sha256": "f00", "runbook_revision": 1, "from_release": "dalmatian",
                "to_release": "epoxy", "deployment": "lab", "inventory_path": "/inv.yaml",
                "user": "ops", "hostname": "h", "pid": 1, "status": "failed",
                "started_at": datetime(2026, 11, 1), "params": "{}", "provenance": "{}"})
            conn.commit()
            command.upgrade(db.alembic_config(conn), "head")
            conn.commit()
        with engine.connect() as conn:
            from octavia_upgrade.state.models import RUNS

            row = conn.execute(RUNS.select()).mappings().one()
            run = _run(row)
            assert (run.id, run.inventory_path, run.inventory_options) == (
                "20261101-000000-abcd", "/inv.yaml", None)
            command.downgrade(db.alembic_config(conn), "0001")
            conn.commit()
            assert "inventory_options" not in {
                c["name"] for c in inspect(conn).get_columns("runs")}
            assert conn.execute(text("SELECT id FROM runs")).scalar_one() == run.id
    finally:
        engine.dispose()


def test_0003_upgrades_a_0002_database_with_data_in_place(state_db: Any) -> None:
    """Runs and attempts recorded at 0002 survive 0003 with no options and no commands;
    new ones are then recorded; going back to 0002 keeps the rows and drops the columns."""
    from datetime import datetime

    from sqlalchemy import MetaData, Table, text

    from octavia_upgrade.state.models import RUNS, STEP_RESULTS
    from octavia_upgrade.state.store import Store, _result, _run

    engine = engine_for(state_db)
    try:
        with engine.connect() as conn:
            command.upgrade(db.alembic_config(conn), "0002")
            # The tables as revision 0002 made them (reflected: no options, no commands).
            old_runs = Table("runs", MetaData(), autoload_with=conn)
            old_results = Table("step_results", MetaData(), autoload_with=conn)
            assert "options" not in old_runs.c and "commands" not in old_results.c
            conn.execute(old_runs.insert(), {
                "id": "20261201-000000-abcd", "runbook_name": "rb", "runbook_path": "/rb.yaml",
                "runbook_sha256": "f00", "runbook_revision": 1, "from_release": "dalmatian",
                "to_release": "epoxy", "deployment": "lab", "inventory_path": "/inv.yaml",
                "inventory_options": '{"format": "kolla"}', "user": "ops", "hostname": "h",
                "pid": 1, "status": "succeeded", "started_at": datetime(2026, 12, 1),
                "ended_at": datetime(2026, 12, 1, 0, 5), "params": '{"a": 1}',
                "provenance": "{}"})
            conn.execute(old_results.insert(), [
                {"run_id": "20261201-000000-abcd", "step_id": "stop-api", "host": host,
                 "attempt": 1, "phase": "main", "status": "succeeded", "rc": 0,
                 "started_at": datetime(2026, 12, 1, 0, 1), "ended_at": datetime(2026, 12, 1, 0, 2),
                 "stdout_tail": "stopped", "stderr_tail": "", "outputs": "{}",
                 "artifacts": "{}", "message": ""} for host in ("ctl1", "ctl2")])
            conn.commit()
            db.migrate(engine)  # what opening the store does
        with engine.connect() as conn:
            assert db.current_revision(conn) == db.SCHEMA_HEAD
            run = _run(conn.execute(RUNS.select()).mappings().one())
            results = [_result(r) for r in conn.execute(
                STEP_RESULTS.select().order_by(STEP_RESULTS.c.id)).mappings()]
        assert (run.id, run.status, run.params, run.inventory_options, run.options) == (
            "20261201-000000-abcd", "succeeded", {"a": 1}, {"format": "kolla"}, None)
        assert [(r.host, r.stdout_tail, r.commands) for r in results] == [
            ("ctl1", "stopped", []), ("ctl2", "stopped", [])]
        store = Store(engine)
        new = store.create_run(runbook_name="rb", runbook_path="/rb.yaml", runbook_sha256="f00",
                               runbook_revision=2, from_release="dalmatian", to_release="epoxy",
                               deployment="lab", options={"detect": True, "limit": None,
                                                          "yes": False, "params": {}})
        rid = store.record_start(new.id, "stop-api", "ctl1", 1)
        cmd = {"key": "service_stop:api", "planned": "systemctl stop octavia-api",
               "sent": "systemctl stop octavia-api"}
        store.record_end(rid, "succeeded", 0, commands=[cmd])
        assert store.get_run(new.id).options == {"detect": True, "limit": None, "yes": False,
                                                 "params": {}}
        assert store.results(new.id)[0].commands == [cmd]
        assert [r.commands for r in store.results(run.id)] == [[], []]
        assert store.integrity_check() == []
        with engine.connect() as conn:
            command.downgrade(db.alembic_config(conn), "0002")
            conn.commit()
            assert "options" not in {c["name"] for c in inspect(conn).get_columns("runs")}
            assert "commands" not in {
                c["name"] for c in inspect(conn).get_columns("step_results")}
            assert conn.execute(text("SELECT COUNT(*) FROM step_results")).scalar_one() == 3
            assert conn.execute(text("SELECT COUNT(*) FROM runs")).scalar_one() == 2
    finally:
        engine.dispose()


def test_0005_adds_probe_series_beside_the_runs_already_recorded(state_db: Any) -> None:
    """A database at 0003 with a run gains the probe_series table; going back drops it
    and keeps the run."""
    from datetime import datetime

    from sqlalchemy import MetaData, Table, text

    engine = engine_for(state_db)
    try:
        with engine.connect() as conn:
            command.upgrade(db.alembic_config(conn), "0003")
            runs = Table("runs", MetaData(), autoload_with=conn)
            conn.execute(runs.insert(), {
                "id": "20261201-000000-abcd", "runbook_name": "rb", "runbook_path": "/rb.yaml",
                "runbook_sha256": "f00", "runbook_revision": 1, "from_release": "dalmatian",
                "to_release": "epoxy", "deployment": "lab", "user": "ops", "hostname": "h",
                "pid": 1, "status": "succeeded", "started_at": datetime(2026, 12, 1),
                "params": "{}", "provenance": "{}"})
            conn.commit()
            assert "probe_series" not in inspect(conn).get_table_names()
            command.upgrade(db.alembic_config(conn), "0005")
            conn.commit()
            assert "probe_series" in inspect(conn).get_table_names()
            command.downgrade(db.alembic_config(conn), "0003")
            conn.commit()
            assert "probe_series" not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT COUNT(*) FROM runs")).scalar_one() == 1
    finally:
        engine.dispose()


def test_0006_lets_a_run_be_recorded_refused_and_going_back_makes_it_failed(
        state_db: Any) -> None:
    """At 0005 the CHECK constraint rejects ``refused``; 0006 accepts it and keeps the
    runs already there; going back to 0005 turns a refused run into a failed one."""
    from datetime import datetime

    from sqlalchemy import MetaData, Table, exc, text

    def row(run_id: str, status: str) -> dict[str, Any]:
        return {"id": run_id, "runbook_name": "rb", "runbook_path": "/rb.yaml",
                "runbook_sha256": "f00", "runbook_revision": 1, "from_release": "dalmatian",
                "to_release": "epoxy", "deployment": "lab", "user": "ops", "hostname": "h",
                "pid": 1, "status": status, "started_at": datetime(2026, 12, 1),
                "params": "{}", "provenance": "{}"}

    engine = engine_for(state_db)
    try:
        with engine.connect() as conn:
            command.upgrade(db.alembic_config(conn), "0005")
            runs = Table("runs", MetaData(), autoload_with=conn)
            conn.execute(runs.insert(), row("20261201-000000-aaaa", "succeeded"))
            conn.commit()

            def stored(run_id: str, status: str) -> bool:
                try:
                    conn.execute(runs.insert(), row(run_id, status))
                    conn.commit()
                    return True
                except (exc.IntegrityError, exc.OperationalError):  # MariaDB: 4025
                    conn.rollback()
                    return False

            assert not stored("20261201-000000-bbbb", "refused")  # 0005's constraint
            command.upgrade(db.alembic_config(conn), "0006")
            conn.commit()
            assert stored("20261201-000000-bbbb", "refused")
            assert not stored("20261201-000000-cccc", "bogus")  # still a constraint
            command.downgrade(db.alembic_config(conn), "0005")
            conn.commit()
            got = dict(conn.execute(text("SELECT id, status FROM runs")).all())
            assert got == {"20261201-000000-aaaa": "succeeded",
                           "20261201-000000-bbbb": "failed"}
    finally:
        engine.dispose()


def test_0004_keeps_approvals_recorded_at_0003_as_approved_by_their_user(state_db: Any) -> None:
    """Approvals recorded before 0004 read back approved, with no identity or request."""
    from datetime import datetime

    from sqlalchemy import MetaData, Table

    from octavia_upgrade.state.store import Store

    engine = engine_for(state_db)
    try:
        with engine.connect() as conn:
            command.upgrade(db.alembic_config(conn), "0003")
            runs = Table("runs", MetaData(), autoload_with=conn)
            approvals = Table("approvals", MetaData(), autoload_with=conn)
            assert "decision" not in approvals.c and "change_id" not in runs.c
            conn.execute(runs.insert(), {
                "id": "20261201-000000-abcd", "runbook_name": "rb", "runbook_path": "/rb.yaml",
                "runbook_sha256": "f00", "runbook_revision": 1, "from_release": "dalmatian",
                "to_release": "epoxy", "deployment": "lab", "user": "ops", "hostname": "h",
                "pid": 1, "status": "succeeded", "started_at": datetime(2026, 12, 1),
                "ended_at": datetime(2026, 12, 1, 0, 5), "params": "{}", "provenance": "{}"})
            conn.execute(approvals.insert(), {
                "run_id": "20261201-000000-abcd", "step_id": "approve-outage", "user": "ops",
                "approved_at": datetime(2026, 12, 1, 0, 1), "how": "prompt"})
            conn.commit()
            db.migrate(engine)
        store = Store(engine)
        (a,) = store.approvals("20261201-000000-abcd")
        assert (a.user, a.how, a.decision, a.identity, a.request_id) == (
            "ops", "prompt", "approved", None, None)
        assert a.as_dict()["identity"] == "ops"
        run = store.get_run("20261201-000000-abcd")
        assert (run.change_id, run.paused_by) == (None, None)
    finally:
        engine.dispose()
