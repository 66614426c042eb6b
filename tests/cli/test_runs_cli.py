"""``runs``, ``show`` and ``unlock`` as an operator runs them, against a real state DB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from octavia_upgrade.state import Store, open_store

ROOT = Path(__file__).resolve().parents[2]
_EXE = ROOT / ".venv/bin/octavia-upgrade"
#: The checkout's installed command, else this interpreter with the checkout's package.
CLI = [str(_EXE)] if _EXE.exists() else [sys.executable, "-m", "octavia_upgrade"]


def cli(state_dir: Path, *argv: str, config: Path | None = None) -> subprocess.CompletedProcess:
    pre = ["--config-file", str(config)] if config else []
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(state_dir.parent),
           "OCTAVIA_UPGRADE_STATE_DIR": str(state_dir), "PYTHONPATH": str(ROOT / "engine")}
    return subprocess.run([*CLI, *pre, *argv], capture_output=True, text=True, check=False,
                          env=env, timeout=60)


def make_run(store: Store, deployment: str = "lab", **kw: Any) -> Any:
    return store.create_run(
        runbook_name="dalmatian-to-epoxy", runbook_path="runbooks/dalmatian-to-epoxy.yaml",
        runbook_sha256="cd" * 32, runbook_revision=2, from_release="dalmatian",
        to_release="epoxy", deployment=deployment, inventory_path="inventory/lab.yaml",
        catalog_version="2026.11", **kw)


@pytest.fixture
def populated(tmp_path: Path) -> tuple[Path, list[Any]]:
    state = tmp_path / "state"
    with open_store(None, state) as store:
        done = make_run(store)
        for host in ("ctl1", "ctl2"):
            rid = store.record_start(done.id, "stop-housekeeping", host, 1)
            store.record_end(rid, "succeeded", 0, "stopped\n")
        store.record_approval(done.id, "approve-migration", "prompt", user="alice")
        store.set_run_status(done.id, "succeeded")

        failed = make_run(store, deployment="prod-east")
        first = store.record_start(failed.id, "db-migrate", "ctl1", 1)
        store.record_end(first, "failed", 1, "", "alembic: lock timeout\n",
                         message="exit code 1")
        store.record_start(failed.id, "db-migrate", "ctl1", 2)
        store.mark_in_flight_unknown(failed.id)
        store.record_event(failed.id, "interrupted", {"signal": "SIGTERM"})
        store.set_run_status(failed.id, "interrupted")
    return state, [done, failed]


def test_runs_lists_newest_last(populated: tuple[Path, list[Any]]) -> None:
    state, (done, failed) = populated
    res = cli(state, "runs")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["id", "runbook", "deployment", "status", "started", "ended",
                                "outage"]
    assert lines[2].startswith(done.id) and "succeeded" in lines[2] and "lab" in lines[2]
    assert lines[3].startswith(failed.id) and "interrupted" in lines[3]
    assert "dalmatian-to-epoxy (rev 2)" in lines[2]

    data = json.loads(cli(state, "runs", "-f", "json").stdout)
    assert [r["id"] for r in data] == [done.id, failed.id]
    assert data[0]["status"] == "succeeded" and data[0]["ended_at"].endswith("Z")
    only = json.loads(cli(state, "runs", "-f", "json", "-d", "prod-east").stdout)
    assert [r["id"] for r in only] == [failed.id]


def test_runs_on_an_empty_state_dir(tmp_path: Path) -> None:
    res = cli(tmp_path / "fresh", "runs")
    assert res.returncode == 0 and res.stdout.startswith("no runs recorded in sqlite:///")
    assert json.loads(cli(tmp_path / "fresh", "runs", "-f", "json").stdout) == []


def test_show_table_and_json(populated: tuple[Path, list[Any]]) -> None:
    state, (done, failed) = populated
    res = cli(state, "show", done.id)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f"run         {done.id}" in out and "status      succeeded" in out
    assert "dalmatian → epoxy" in out and "inventory/lab.yaml" in out
    steps = [line.split() for line in out.splitlines() if line.startswith("stop-housekeeping")]
    assert [(s[1], s[4], s[5]) for s in steps] == [("ctl1", "succeeded", "0"),
                                                   ("ctl2", "succeeded", "0")]
    assert "approve-migration  approved  alice  prompt" in out

    res = cli(state, "-v", "show", failed.id)
    assert "db-migrate" in res.stdout and "unknown" in res.stdout
    assert "interrupted" in res.stdout and "signal=SIGTERM" in res.stdout

    data = json.loads(cli(state, "show", failed.id, "-f", "json").stdout)
    assert data["run"]["id"] == failed.id
    assert [(r["attempt"], r["status"]) for r in data["results"]] == [(2, "unknown")]
    assert [(r["attempt"], r["status"]) for r in data["attempts"]] == [
        (1, "failed"), (2, "unknown")]
    assert data["attempts"][0]["stderr_tail"] == "alembic: lock timeout\n"
    assert data["events"][0]["kind"] == "interrupted"


def test_show_tells_how_the_run_was_started_and_what_it_sent(tmp_path: Path) -> None:
    from octavia_upgrade.logs import Redactor

    secret = "Zq8-secret-Pa55word"
    state = tmp_path / "state"
    sent = [{"key": "command", "planned": f"mysql --password={secret} octavia < dump.sql",
             "sent": f"mysql --password={secret} octavia < dump.sql"},
            {"key": "check", "planned": "octavia-db-manage current",
             "sent": "octavia-db-manage current"}]
    with open_store(None, state, redactor=Redactor([secret])) as store:
        run = make_run(store, options={"detect": False, "limit": "ctl1", "yes": True,
                                       "params": {"db_password": secret}})
        rid = store.record_start(run.id, "restore-db", "ctl1", 1, "rollback")
        store.record_end(rid, "failed", 1, "", "ERROR 1045\n", commands=sent)
        store.set_run_status(run.id, "failed")
        older = make_run(store)  # as a run recorded before options were kept
        store.set_run_status(older.id, "succeeded")

    res = cli(state, "-v", "show", run.id)
    assert res.returncode == 0, res.stderr
    assert ("options     version detection skipped (--no-detect); --limit ctl1; --yes: "
            "approvals given without a prompt (a rehearsal); parameters given: db_password=***") in res.stdout
    assert "  $ mysql --password=*** octavia < dump.sql\n  $ octavia-db-manage current" \
        in res.stdout
    assert secret not in res.stdout
    assert "options     not recorded" in cli(state, "show", older.id).stdout

    data = json.loads(cli(state, "show", run.id, "-f", "json").stdout)
    assert data["run"]["options"] == {"detect": False, "limit": "ctl1", "yes": True,
                                      "params": {"db_password": "***"}}
    expected = [{"key": "command", "planned": "mysql --password=*** octavia < dump.sql",
                 "sent": "mysql --password=*** octavia < dump.sql"}, sent[1]]
    assert data["attempts"][0]["commands"] == expected
    assert data["results"][0]["commands"] == expected


def test_show_unknown_run_is_invalid_input(populated: tuple[Path, list[Any]]) -> None:
    state, _ = populated
    res = cli(state, "show", "20990101-000000-dead")
    assert res.returncode == 2
    assert "no run '20990101-000000-dead'" in res.stderr and "Traceback" not in res.stderr


def test_unlock_breaks_only_stale_locks_unless_forced(populated: tuple[Path, list[Any]]) -> None:
    state, (done, failed) = populated
    res = cli(state, "unlock", "lab")
    assert res.returncode == 0 and "not locked; nothing to do" in res.stdout

    gone = subprocess.Popen(["true"])
    gone.wait()
    with open_store(None, state) as store:
        store.acquire_lock("prod-east", failed.id, user="bob", pid=gone.pid)
        store.acquire_lock("lab", done.id, pid=os.getpid())  # this test process: alive
        store.acquire_lock("remote", "20261125-000000-beef", hostname="ctl-far-away")

    res = cli(state, "unlock", "lab")
    assert res.returncode == 3
    assert f"deployment 'lab' is locked by run {done.id}" in res.stderr
    assert "still running" in res.stderr and "--force" in res.stderr

    res = cli(state, "unlock", "remote")
    assert res.returncode == 3 and "check on host ctl-far-away" in res.stderr

    res = cli(state, "unlock", "prod-east", "--run", done.id)
    assert res.returncode == 3 and f"not by run {done.id}" in res.stderr

    res = cli(state, "unlock", "prod-east", "--run", failed.id)
    assert res.returncode == 0, res.stderr
    assert f"broke the lock of deployment 'prod-east' held by run {failed.id}" in res.stdout
    assert f"pid {gone.pid} is no longer running" in res.stdout

    res = cli(state, "unlock", "lab", "--force")
    assert res.returncode == 0, res.stderr
    with open_store(None, state) as store:
        assert store.get_lock("lab") is None and store.get_lock("prod-east") is None
        assert store.get_lock("remote") is not None
        (ev,) = [e for e in store.events(done.id) if e.kind == "lock-broken"]
        assert ev.data["forced"] is True
        (ev,) = [e for e in store.events(failed.id) if e.kind == "lock-broken"]
        assert ev.data["forced"] is False and ev.data["lock"]["user"] == "bob"


def test_commands_use_the_configured_database(tmp_path: Path,
                                              postgres_server: Any) -> None:
    url = postgres_server.create_database("cli_runs")
    try:
        with open_store(url, tmp_path / "state") as store:
            run = make_run(store)
        conf = tmp_path / "octavia-upgrade.conf"
        conf.write_text(f"[database]\nconnection = {url}\n")
        res = cli(tmp_path / "state", "runs", config=conf)
        assert res.returncode == 0, res.stderr
        assert run.id in res.stdout
        assert postgres_server.password not in res.stdout + res.stderr
        assert not (tmp_path / "state" / "state.db").exists()
        res = cli(tmp_path / "state", "show", "nope", config=conf)
        assert res.returncode == 2 and postgres_server.password not in res.stderr
        assert "postgresql+psycopg://octavia:***@127.0.0.1" in res.stderr
    finally:
        postgres_server.drop_database("cli_runs")


def _with_outage(store: Store) -> Any:
    """A run that stopped the API on two hosts at 10.4 s and saw it answer on both
    again at 31.4 s (the API probes)."""
    from datetime import datetime, timedelta, timezone

    from octavia_upgrade.probeseries import ProbeTarget, Tally

    t0 = datetime(2026, 12, 5, 20, 0, tzinfo=timezone.utc)
    run = make_run(store, deployment="measured")
    for host, stop, back in (("ctl1", 10.4, 30.2), ("ctl2", 10.6, 31.4)):
        rid = store.record_start(run.id, "stop-api", host, 1)
        store.record_end(rid, "succeeded", 0, commands=[{
            "key": "stop:api", "planned": "systemctl stop octavia-api",
            "sent": "systemctl stop octavia-api",
            "at": (t0 + timedelta(seconds=stop)).isoformat()}])
        tally = Tally(ProbeTarget(f"api@{host}", "api", f"http://{host}:9876/", 0.2, 1.0,
                                  host=host))
        for i in range(200):
            t = i * 0.2
            tally.add(t0 + timedelta(seconds=t), not stop + 0.5 <= t < back, 2.0)
        store.record_probe_series(run.id, [tally.series()])
    store.set_run_status(run.id, "succeeded")
    return run


def test_runs_and_show_give_the_measured_outage(populated: tuple[Path, list[Any]]) -> None:
    state, (done, _failed) = populated
    with open_store(None, state) as store:
        run = _with_outage(store)
    lines = cli(state, "runs").stdout.splitlines()
    row = next(line for line in lines if line.startswith(run.id))
    assert row.rstrip().endswith("21.0s")
    # A run that recorded no stop command has no window.
    assert next(line for line in lines if line.startswith(done.id)).rstrip().endswith("  -")
    assert cli(state, "runs", "-f", "value", "-c", "id", "-c", "outage").stdout.splitlines()[
        -1] == f"{run.id} 21.0"
    data = json.loads(cli(state, "runs", "-f", "json").stdout)
    assert data[-1]["outage"]["status"] == "measured" and data[-1]["outage"]["duration"] == 21.0
    assert data[0]["outage"] is None

    out = cli(state, "show", run.id).stdout
    assert ("outage      21.0s: first stop 20:00:10.400 (stop-api on ctl1) → API answering "
            "on every API host at 20:00:31.400 (2 probed, last to answer: ctl2)") in out
    assert cli(state, "show", run.id, "-f", "value", "-c", "outage").stdout.strip() == "21.0"
    doc = json.loads(cli(state, "show", run.id, "-f", "json").stdout)
    assert doc["outage"]["end"] == "2026-12-05T20:00:31.400Z"
