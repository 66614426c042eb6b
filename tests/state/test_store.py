"""The Store on real SQLite, PostgreSQL and MariaDB: durability, lock, errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from octavia_upgrade.errors import InvalidInput, Refused, StateError
from octavia_upgrade.state import ProbeSample, Store, utcnow
from octavia_upgrade.state.db import head_revision

PEER = Path(__file__).with_name("peer.py")


@pytest.fixture
def store(state_db: Any) -> Iterator[Store]:
    s = state_db.open()
    try:
        yield s
    finally:
        s.close()


class Peer:
    """A separate Python process with its own Store on the same database."""

    def __init__(self, state_db: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(PEER), state_db.url or "-", str(state_db.state_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def ready(self) -> None:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        assert line.strip() == "ready", line + self.proc.stderr.read()  # type: ignore[union-attr]

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def answer(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        assert line, self.proc.stderr.read()  # type: ignore[union-attr]
        return json.loads(line)

    def ask(self, command: str) -> dict[str, Any]:
        self.send(command)
        return self.answer()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()


@pytest.fixture
def peers(state_db: Any) -> Iterator[Any]:
    started: list[Peer] = []

    def start(n: int = 1) -> list[Peer]:
        new = [Peer(state_db) for _ in range(n)]
        started.extend(new)
        return new

    try:
        yield start
    finally:
        for p in started:
            p.stop()


def new_run(store: Store, **kw: Any) -> Any:
    args = dict(runbook_name="dalmatian-to-epoxy", runbook_path="runbooks/dalmatian-to-epoxy.yaml",
                runbook_sha256="ab" * 32, runbook_revision=3, from_release="dalmatian",
                to_release="epoxy", deployment="lab", inventory_path="inventory/lab.yaml",
                params={"backup_dir": "/var/backups/octavia"}, plan={"steps": ["a", "b"]},
                provenance={"git": "abc123"}, catalog_version="2026.11")
    args.update(kw)
    return store.create_run(**args)


def test_open_applies_migrations_on_an_empty_database(state_db: Any) -> None:
    store = state_db.open()
    try:
        with store.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == head_revision()
        assert store.list_runs() == []
        if state_db.backend == "sqlite":
            assert (state_db.state_dir / "state.db").is_file()
            with store.engine.connect() as conn:
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                # 2 = FULL: every commit is on disk before the call returns.
                assert conn.execute(text("PRAGMA synchronous")).scalar() == 2
    finally:
        store.close()
    # Opening again finds the schema current and keeps the data.
    again = state_db.open()
    try:
        assert again.list_runs() == []
    finally:
        again.close()


def test_every_record_is_visible_from_another_process_at_once(store: Store, peers: Any) -> None:
    (peer,) = peers(1)
    peer.ready()
    run = new_run(store)
    seen = peer.ask(f"dump {run.id}")
    assert seen["run"]["status"] == "running"
    assert seen["run"]["runbook"]["sha256"] == "ab" * 32
    assert seen["run"]["params"] == {"backup_dir": "/var/backups/octavia"}

    rid = store.record_start(run.id, "stop-housekeeping", "ctl1", 1, "main")
    seen = peer.ask(f"dump {run.id}")
    assert [(r["step_id"], r["host"], r["status"]) for r in seen["results"]] == [
        ("stop-housekeeping", "ctl1", "running")]

    store.record_end(rid, "succeeded", 0, "stopped\n", "", {"units": ["octavia-housekeeping"]},
                     {}, "")
    seen = peer.ask(f"dump {run.id}")
    (res,) = seen["results"]
    assert (res["status"], res["rc"], res["stdout_tail"]) == ("succeeded", 0, "stopped\n")
    assert res["outputs"] == {"units": ["octavia-housekeeping"]}
    assert res["ended_at"] is not None

    approval = store.record_approval(run.id, "approve-failover", "--yes", user="alice")
    (seen_approval,) = peer.ask(f"dump {run.id}")["approvals"]
    assert seen_approval == approval.as_dict()
    assert (seen_approval["user"], seen_approval["how"]) == ("alice", "--yes")

    store.record_evidence(run.id, "backup-db", "ctl1", "backup",
                          {"path": "/var/backups/octavia/db.sql.gz", "sha256": "ff" * 32})
    ev = peer.ask(f"dump {run.id}")["evidence"]
    assert ev[0]["data"]["path"] == "/var/backups/octavia/db.sql.gz"

    now = utcnow()
    store.record_probe_samples(run.id, [ProbeSample("web-vip", now, True, 3.5),
                                        ProbeSample("web-vip", now, False, None, "refused")])
    probes = peer.ask(f"dump {run.id}")["probes"]
    assert [(p["ok"], p["latency_ms"], p["error"]) for p in probes] == [
        (True, 3.5, None), (False, None, "refused")]

    store.record_event(run.id, "interrupted", {"signal": "SIGTERM"})
    assert peer.ask(f"dump {run.id}")["events"][-1]["data"] == {"signal": "SIGTERM"}

    store.set_run_status(run.id, "succeeded")
    final = peer.ask(f"dump {run.id}")["run"]
    assert final["status"] == "succeeded" and final["ended_at"] is not None


def test_latest_results_mark_unknown_and_history(store: Store) -> None:
    old = new_run(store)
    for host in ("ctl1", "ctl2"):
        store.record_end(store.record_start(old.id, "upgrade-packages", host, 1), "succeeded", 0)
    store.set_run_status(old.id, "succeeded")

    run = new_run(store)
    a1 = store.record_start(run.id, "upgrade-packages", "ctl1", 1)
    store.record_end(a1, "failed", 1, "", "E: dpkg was interrupted", message="rc 1")
    store.record_start(run.id, "upgrade-packages", "ctl1", 2)
    ok = store.record_start(run.id, "upgrade-packages", "ctl2", 1)
    store.record_end(ok, "succeeded", 0)

    latest = store.latest_results(run.id)
    assert set(latest) == {("upgrade-packages", "ctl1"), ("upgrade-packages", "ctl2")}
    assert latest[("upgrade-packages", "ctl1")].attempt == 2
    assert latest[("upgrade-packages", "ctl1")].status == "running"
    assert len(store.results(run.id)) == 3

    unknown = store.mark_in_flight_unknown(run.id)
    assert [(r.step_id, r.host, r.attempt, r.status) for r in unknown] == [
        ("upgrade-packages", "ctl1", 2, "unknown")]
    assert store.latest_results(run.id)[("upgrade-packages", "ctl1")].status == "unknown"
    assert store.mark_in_flight_unknown(run.id) == []

    history = store.step_duration_history("dalmatian-to-epoxy")
    durations = [r.duration for r in store.results(old.id)] + [
        store.latest_results(run.id)[("upgrade-packages", "ctl2")].duration]
    assert sorted(history) == ["upgrade-packages"]
    assert history["upgrade-packages"] == pytest.approx(sorted(durations)[1])
    assert store.step_duration_history("other-runbook") == {}


def test_list_runs_newest_last_and_unknown_run(store: Store) -> None:
    first = new_run(store)
    second = new_run(store, deployment="prod-east")
    assert [r.id for r in store.list_runs()] == [first.id, second.id]
    assert [r.id for r in store.list_runs("prod-east")] == [second.id]
    with pytest.raises(InvalidInput, match="no run 'nope'"):
        store.get_run("nope")
    with pytest.raises(InvalidInput, match="no run"):
        store.set_run_status("nope", "failed")
    with pytest.raises(StateError, match="already recorded|does not exist"):
        store.record_start("nope", "s", "h", 1)
    with pytest.raises(StateError, match="no run 'nope'"):
        store.record_event("nope", "resumed")


def test_output_is_redacted_then_trimmed(state_db: Any) -> None:
    from octavia_upgrade.logs import Redactor

    redactor = Redactor()
    redactor.add("s3cr3t-db-pass")
    store = state_db.open(redactor=redactor, tail_bytes=200)
    try:
        run = new_run(store, params={"db_password": "s3cr3t-db-pass", "user": "octavia"})
        assert store.get_run(run.id).params == {"db_password": "***", "user": "octavia"}
        rid = store.record_start(run.id, "backup-db", "ctl1", 1)
        noisy = "x" * 1000 + "\nmysqldump -p s3cr3t-db-pass ok\n"
        res = store.record_end(rid, "succeeded", 0, noisy, "password=s3cr3t-db-pass",
                               {"url": "mysql+pymysql://octavia:s3cr3t-db-pass@db/octavia",
                                "nested": [{"v": "s3cr3t-db-pass"}]}, {}, "s3cr3t-db-pass")
        store.record_evidence(run.id, "backup-db", "ctl1", "conf", {"pw": "s3cr3t-db-pass"})
        with store.engine.connect() as conn:
            dump = "\n".join(str(row) for table in ("runs", "step_results", "evidence")
                             for row in conn.execute(text(f"SELECT * FROM {table}")))
        assert "s3cr3t-db-pass" not in dump
        assert res.stdout_tail.endswith("mysqldump -p *** ok\n")
        assert res.stdout_tail.startswith("[… ") and len(res.stdout_tail.encode()) < 260
        assert res.outputs["nested"] == [{"v": "***"}]
    finally:
        store.close()


def test_lock_race_between_processes_exactly_one_wins(state_db: Any, peers: Any) -> None:
    # The peers also open the fresh database at the same moment, so they race
    # the self-migration too.
    contenders = peers(4)
    for p in contenders:
        p.ready()
    for i, p in enumerate(contenders):
        p.send(f"acquire lab run-{i}")
    answers = [p.answer() for p in contenders]
    winners = [a for a in answers if a["won"]]
    assert len(winners) == 1, answers
    holder = winners[0]["lock"]
    for a in answers:
        if not a["won"]:
            assert a["type"] == "Refused"
            assert a["error"].startswith(
                f"deployment 'lab' is locked by run {holder['run_id']} "
                f"(user {holder['user']} on host {socket.gethostname()}, "
                f"pid {holder['pid']}, since {holder['since']})")
    assert holder["pid"] in [p.proc.pid for p in contenders]


def test_a_second_process_waits_while_the_first_sets_up_a_new_sqlite_file(
        tmp_path: Path) -> None:
    """Two commands started together on a new state directory: the first switches
    the file to WAL, a write lock that SQLite's busy timeout does not cover. The
    second waits for it, then opens the database, instead of failing at once with
    "database is locked" (as a peer of the lock race once did)."""
    import fcntl
    import sqlite3
    import time

    state = tmp_path / "state"
    state.mkdir()
    db = state / "state.db"
    db.touch()
    # the first process, half-way through opening: its set-up lock and SQLite's write lock
    fd = os.open(f"{db}.migrate-lock", os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    first = sqlite3.connect(db, isolation_level=None)
    first.execute("BEGIN IMMEDIATE")
    second = subprocess.Popen([sys.executable, str(PEER), "-", str(state)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.0)  # the second has started and reached the new file
        assert second.poll() is None, second.communicate()[1]  # waiting, not failed
        first.execute("ROLLBACK")
        first.execute("PRAGMA journal_mode = WAL")
        first.close()
        os.close(fd)
        assert second.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
        second.stdin.close()  # type: ignore[union-attr]
        assert second.wait(timeout=20) == 0
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert db.read_bytes()[18:20] == b"\x02\x02"  # WAL, as every state database is


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_stale_lock_is_detected_and_broken_only_explicitly(store: Store) -> None:
    run = new_run(store)
    gone = dead_pid()
    store.acquire_lock("lab", run.id, user="bob", pid=gone)
    status = store.lock_status("lab")
    assert status.state == "stale" and f"pid {gone} is no longer running" in status.reason

    # Another run is refused even though the holder is gone: breaking is explicit.
    with pytest.raises(Refused, match=f"locked by run {run.id} .*unlock lab"):
        store.acquire_lock("lab", "other-run")
    assert store.get_lock("lab").run_id == run.id  # type: ignore[union-attr]

    with pytest.raises(Refused, match="not by run other-run"):
        store.break_lock("lab", expected_run_id="other-run")
    broken = store.break_lock("lab", expected_run_id=run.id, reason="holder died")
    assert broken.pid == gone
    assert store.lock_status("lab").state == "free"
    (event,) = store.events(run.id)
    assert event.kind == "lock-broken" and event.data["lock"]["pid"] == gone
    assert event.data["reason"] == "holder died"
    with pytest.raises(InvalidInput, match="not locked"):
        store.break_lock("lab")

    new = store.acquire_lock("lab", "other-run")
    assert new.pid == os.getpid()
    with pytest.raises(Refused, match="that process is still running"):
        store.acquire_lock("lab", run.id)


def test_a_resumed_run_takes_over_its_own_stale_lock(store: Store) -> None:
    run = new_run(store)
    store.acquire_lock("lab", run.id, pid=dead_pid())
    mine = store.acquire_lock("lab", run.id)
    assert mine.pid == os.getpid()
    assert store.lock_status("lab").state == "alive"
    assert [e.kind for e in store.events(run.id)] == ["lock-taken-over"]


def test_lock_from_another_host_heartbeat_release(store: Store) -> None:
    store.acquire_lock("lab", "r1", hostname="ctl-elsewhere", pid=4242)
    status = store.lock_status("lab")
    assert status.state == "unknown" and "ctl-elsewhere" in status.reason
    assert store.lock_status("lab", stale_after=timedelta(0)).state == "stale"
    with pytest.raises(Refused, match="host ctl-elsewhere"):
        store.acquire_lock("lab", "r2")

    before = store.get_lock("lab").heartbeat_at  # type: ignore[union-attr]
    store.heartbeat("lab", "r1")
    assert store.get_lock("lab").heartbeat_at > before  # type: ignore[union-attr]
    with pytest.raises(Refused, match="no longer holds"):
        store.heartbeat("lab", "r2")

    assert store.release_lock("lab", "r2") is False
    assert store.get_lock("lab") is not None
    assert store.release_lock("lab", "r1") is True
    assert store.lock_status("lab").state == "free"
    # Locks are per deployment.
    store.acquire_lock("lab", "r3")
    store.acquire_lock("prod-east", "r4")


def test_integrity_check_finds_inconsistencies(store: Store) -> None:
    run = new_run(store)
    store.record_end(store.record_start(run.id, "s1", "ctl1", 1), "failed", 1)
    store.record_start(run.id, "s1", "ctl1", 2)
    assert store.integrity_check() == []

    # What a buggy writer could leave behind: a second running attempt, a
    # gap in attempt numbers, a finished run with work still running.
    store.record_start(run.id, "s1", "ctl1", 4)
    store.set_run_status(run.id, "succeeded")
    problems = store.integrity_check()
    assert any("more than one attempt is running" in p for p in problems)
    assert any("attempts [1, 2, 4] are not 1..n" in p for p in problems)
    assert any(f"run {run.id} is succeeded but step s1" in p for p in problems)


def test_open_store_errors_are_clear(tmp_path: Path) -> None:
    from octavia_upgrade.state import open_store

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateError, match=f"cannot create state directory {blocker}/state"):
        open_store(None, blocker / "state")

    with pytest.raises(InvalidInput, match="not a database URL"):
        open_store("not a url", tmp_path)
    with pytest.raises(InvalidInput, match="unsupported database 'oracle'"):
        open_store("oracle://u:pw@host/db", tmp_path)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StateError) as err:
        open_store(f"postgresql://octavia:Sup3rSecret@127.0.0.1:{port}/state", tmp_path)
    assert "cannot open the state database" in str(err.value)
    assert f"127.0.0.1:{port}" in str(err.value)
    assert "Sup3rSecret" not in str(err.value)


def test_database_newer_than_the_tool_is_refused(state_db: Any) -> None:
    store = state_db.open()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    store.close()
    with pytest.raises(StateError, match="revision ffff9999, which this version"):
        state_db.open()


@pytest.fixture
def tiny_volume(tmp_path: Path) -> Iterator[Any]:
    """``mount(size, ro=False)`` → a private tmpfs, unmounted whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted: list[Path] = []

    def mount(size: str, ro: bool = False) -> Path:
        point = tmp_path / f"vol{len(mounted)}"
        point.mkdir()
        opts = f"size={size}" + (",ro" if ro else "")
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)], check=True)
        mounted.append(point)
        return point

    try:
        yield mount
    finally:
        for point in mounted:
            subprocess.run(["umount", str(point)], check=False)


def test_full_or_read_only_state_volume_is_a_clear_error(tiny_volume: Any) -> None:
    from octavia_upgrade.state import open_store

    read_only = tiny_volume("1m", ro=True)
    with pytest.raises(StateError, match=f"state directory {read_only} is not writable"):
        open_store(None, read_only)

    volume = tiny_volume("400k")
    store = open_store(None, volume / "state", tail_bytes=1 << 20)
    try:
        run = new_run(store)
        kept = store.record_start(run.id, "s", "ctl1", 1)
        store.record_end(kept, "succeeded", 0, "small")
        with pytest.raises(StateError, match="the state volume is full: database or disk is full"):
            for attempt in range(1, 100):
                rid = store.record_start(run.id, "big", "ctl1", attempt)
                store.record_end(rid, "succeeded", 0, os.urandom(20_000).hex())
        # What was committed before the volume filled up is intact.
        assert store.latest_results(run.id)[("s", "ctl1")].stdout_tail == "small"
        assert store.integrity_check() == []
    finally:
        store.close()


def test_threads_of_one_process_record_concurrently(store: Store) -> None:
    import threading

    run = new_run(store)
    errors: list[BaseException] = []

    def host_worker(host: str) -> None:
        try:
            for attempt in range(1, 11):
                store.record_end(store.record_start(run.id, "restart-api", host, attempt),
                                 "failed", 1, f"{host} attempt {attempt}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=host_worker, args=(f"ctl{n}",)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.results(run.id)) == 50
    assert {k: v.attempt for k, v in store.latest_results(run.id).items()} == {
        ("restart-api", f"ctl{n}"): 10 for n in range(5)}
    assert store.integrity_check() == []


def test_record_end_returns_what_is_stored(state_db: Any) -> None:
    """The returned record equals a fresh read, whichever Store started the attempt."""
    first, second = state_db.open(), state_db.open()
    try:
        run = new_run(first)
        mine = first.record_start(run.id, "upgrade-packages", "ctl1", 1, "rollback")
        ended = first.record_end(mine, "failed", 100, "out\n", "err\n", {"units": ["a"]},
                                 {"log": "/var/log/x"}, "rc 100")
        # Started by one process, ended by another (as after a takeover).
        theirs = first.record_start(run.id, "upgrade-packages", "ctl2", 1)
        ended_elsewhere = second.record_end(theirs, "succeeded", 0, "ok\n")
        assert first.results(run.id) == [ended, ended_elsewhere]
        assert (ended.phase, ended.status, ended.rc, ended.message) == (
            "rollback", "failed", 100, "rc 100")
        assert ended_elsewhere.host == "ctl2" and ended_elsewhere.stdout_tail == "ok\n"
        with pytest.raises(StateError, match="no step result 999999"):
            first.record_end(999999, "succeeded", 0)
    finally:
        first.close()
        second.close()
