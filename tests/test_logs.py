"""logs.py: JSON lines per run, console levels, and redaction everywhere."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from octavia_upgrade import logs
from octavia_upgrade.logs import MASK, Redactor

SECRET = "Tr0ub4dor&3-horse"


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    try:
        yield
    finally:
        logs.close()
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_log_writes_one_json_line_per_event(tmp_path: Path) -> None:
    log = logs.run_logger(tmp_path, "20261125-160501-ab12")
    assert log.path == tmp_path / "logs" / "20261125-160501-ab12.jsonl"
    log.info("attempt-started", step_id="stop-api", host="ctl1", attempt=1)
    # Written and flushed at once: readable before the log is closed.
    (first,) = lines(log.path)
    assert list(first)[:7] == ["timestamp", "level", "event", "run_id", "step_id", "host",
                               "attempt"]
    assert first["event"] == "attempt-started" and first["level"] == "info"
    assert first["run_id"] == "20261125-160501-ab12" and first["timestamp"].endswith("Z")
    with logs.bind(step_id="stop-api", host="ctl2", attempt=2):
        log.bind(phase="main").warning("attempt-finished", rc=1, duration=0.25)
    log.close()
    second = lines(log.path)[1]
    assert (second["step_id"], second["host"], second["attempt"], second["phase"],
            second["rc"], second["level"]) == ("stop-api", "ctl2", 2, "main", 1, "warning")
    # A resumed run appends to the same file.
    again = logs.run_logger(tmp_path, "20261125-160501-ab12")
    again.info("resumed")
    again.close()
    assert [e["event"] for e in lines(log.path)] == [
        "attempt-started", "attempt-finished", "resumed"]
    assert oct(log.path.stat().st_mode & 0o777) == "0o600"


def test_secret_never_reaches_the_file(tmp_path: Path) -> None:
    redactor = Redactor([SECRET])
    redactor.add_url("mysql+pymysql://octavia:db%2Fpass%21word@10.0.0.5/octavia")
    redactor.add_mapping({"rabbit": {"password": "guest-secret-42"}})
    log = logs.run_logger(tmp_path, "r1", redactor=redactor)
    log.info("attempt-finished", stdout=f"connecting with {SECRET}\n",
             outputs={"json": {"deep": [{"x": f"a{SECRET}b"}]}, "list": [SECRET]},
             command=f"mysqldump --password={SECRET} octavia",
             quoted=f"echo {SECRET!r}", url_encoded="p=Tr0ub4dor%263-horse",
             db="mysql+pymysql://octavia:db%2Fpass%21word@10.0.0.5/octavia",
             other_url="rabbit://openstack:notregistered@127.0.0.1:5672/",
             conf="[database]\nconnection = x\nheartbeat_key = hk-unregistered-1\n",
             rabbit_text="user guest password guest-secret-42",
             db_password="registered-nowhere", ssh_key_file="/root/.ssh/id_ed25519")
    try:
        raise RuntimeError(f"failed with {SECRET}")
    except RuntimeError:
        log.exception("step-crashed")
    log.close()
    text = log.path.read_text()
    for leaked in (SECRET, "Tr0ub4dor%263-horse", "db%2Fpass%21word", "db/pass!word",
                   "notregistered", "hk-unregistered-1", "guest-secret-42",
                   "registered-nowhere"):
        assert leaked not in text, leaked
    event, crash = lines(log.path)
    assert event["outputs"] == {"json": {"deep": [{"x": f"a{MASK}b"}]}, "list": [MASK]}
    assert event["db"] == f"mysql+pymysql://octavia:{MASK}@10.0.0.5/octavia"
    assert event["other_url"] == f"rabbit://openstack:{MASK}@127.0.0.1:5672/"
    assert event["command"] == f"mysqldump --password={MASK} octavia"
    assert event["db_password"] == MASK
    assert event["ssh_key_file"] == "/root/.ssh/id_ed25519"  # a path, not a secret
    assert "RuntimeError: failed with ***" in crash["exception"]


def test_redact_for_other_modules_and_short_values() -> None:
    r = Redactor(["abc", "", None, 12345678, 4321])
    assert len(r) > 0
    # Short values are masked where they are the whole value, not inside text.
    assert r.redact({"a": ("x abc y", "abc", 12345678, 4321, 7, "id 12345678", "")}) == {
        "a": ["x abc y", MASK, MASK, MASK, 7, f"id {MASK}", ""]}
    assert r.redact({"secrets": {"a": "1", "b": ["2"]}, "token": None}) == {
        "secrets": {"a": MASK, "b": [MASK]}, "token": None}
    # Values given to any redactor are known process-wide.
    Redactor(["process-wide-secret"])
    assert logs.redact("say process-wide-secret") == f"say {MASK}"


def test_configured_pipeline_for_get_logger(tmp_path: Path) -> None:
    logs.register_secrets("configured-secret")
    out = io.StringIO()
    path = logs.configure(state_dir=tmp_path, run_id="r2", console_file=out, color="never")
    log = logs.get_logger()
    log.info("run-started", params={"db_password": "configured-secret", "n": 1})
    log.debug("noise")
    logs.close()
    event, debug = lines(path)  # type: ignore[arg-type]
    assert debug["event"] == "noise"  # the file gets debug events; the console does not
    assert event["params"] == {"db_password": MASK, "n": 1}
    assert event["run_id"] == "r2"
    assert "run-started" in out.getvalue() and "noise" not in out.getvalue()
    assert "configured-secret" not in out.getvalue()


@pytest.mark.parametrize(("verbosity", "quiet", "shown"), [
    (0, False, {"info", "warning"}), (1, False, {"debug", "info", "warning"}),
    (0, True, {"warning"})])
def test_console_levels(tmp_path: Path, verbosity: int, quiet: bool, shown: set[str]) -> None:
    out = io.StringIO()
    log = logs.run_logger(tmp_path, "r3", console=True, console_file=out, color="never",
                          verbosity=verbosity, quiet=quiet)
    log.debug("debug-event")
    log.info("info-event", host="ctl1", duration=1.5)
    log.warning("warning-event")
    log.close()
    text = out.getvalue()
    assert {lvl for lvl in ("debug", "info", "warning") if f"{lvl}-event" in text} == shown
    if "info" in shown:
        assert "host=ctl1 duration=1.50s" in text
    assert len(lines(log.path)) == 3  # the file always gets everything


def test_concurrent_writers_keep_lines_whole(tmp_path: Path) -> None:
    log = logs.run_logger(tmp_path, "r4")

    def work(host: str) -> None:
        for i in range(200):
            log.info("attempt-started", host=host, attempt=i, stdout="x" * 300)

    threads = [threading.Thread(target=work, args=(f"ctl{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert len(lines(log.path)) == 800
