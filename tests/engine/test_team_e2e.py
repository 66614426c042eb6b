"""A team runs the upgrade: approvals from a second process as another identity,
rejection, pause and continue, the change record; the real CLI over real SSH.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from simlab import Sim
from teamkit import (GATE, at, finish, gate_step, identity_conf, killed_if_left, shown,
                     wait_for_approval)

pytestmark = pytest.mark.lab


def outage_runbook(sim: Sim, **gate: Any) -> Path:
    return sim.runbook("team", [
        gate_step(**gate),
        {"id": "stop-api", "name": "Stop the API", "kind": "service",
         "with": {"action": "stop", "services": ["api"]}},
        {"id": "start-api", "name": "Start the API", "kind": "service",
         "with": {"action": "start", "services": ["api"]}},
    ])


def waiting_dep(sim: Sim) -> str:
    import yaml

    return str(yaml.safe_load(sim.inventory.read_text())["deployment"])


def test_the_outage_waits_for_another_identity_and_goes_on_within_a_second(sim: Sim) -> None:
    rb = outage_runbook(sim, four_eyes=True)
    proc = sim.popen("run", str(rb), "-i", str(sim.inventory), "--change", "CHG0042",
                     "--change-url", "https://itsm.example/CHG0042")
    with killed_if_left(proc):
        waiting = wait_for_approval(sim, proc)
        run_id = waiting["run_id"]
        assert waiting["step_id"] == GATE and waiting["four_eyes"] is True
        assert waiting["who_may_approve"].startswith("anyone but ")
        # nothing has been stopped while the run waits
        assert not [o for o in sim.ops() if o[1] == "stop"]
        # the metrics textfile is current while the run waits
        prom = sim.state_dir / "octavia_upgrade.prom"
        deadline = time.monotonic() + 10
        while "octavia_upgrade_approvals_waiting{" not in (
                prom.read_text() if prom.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.2)
        text = prom.read_text()
        assert f'octavia_upgrade_approvals_waiting{{deployment="{waiting_dep(sim)}",' \
            f'run_id="{run_id}",step_id="{GATE}"}} 1.0' in text
        assert f'octavia_upgrade_run_running{{deployment="{waiting_dep(sim)}",' \
            f'run_id="{run_id}"}} 1.0' in text

        # the operator who started the run may not approve it (four eyes): refused, exit 3
        own = sim.cli("approve", run_id, GATE)
        assert own.returncode == 3, own.stdout + own.stderr
        assert "requires four eyes" in own.stderr and "nothing was recorded" in own.stderr
        # a step that is not waiting, a run that does not exist
        other = sim.cli("approve", run_id, "stop-api")
        assert other.returncode == 3 and "is not waiting" in other.stderr
        ghost = sim.cli("approve", "20990101-000000-ffff", GATE)
        assert ghost.returncode == 2 and "no run" in ghost.stderr
        assert shown(sim, run_id)["approvals"] == []

        bob = sim.cli("--config-file", identity_conf(sim, "bob@example.org"), "approve",
                      run_id, GATE, "--comment", "LB list checked")
        assert bob.returncode == 0, bob.stderr
        assert f"approved step {GATE} of run {run_id} as bob@example.org" in bob.stdout
        again = sim.cli("--config-file", identity_conf(sim, "bob@example.org"), "approve",
                        run_id, GATE)
        assert again.returncode == 3  # the run has gone on: nothing waits any more
        rc, out = finish(proc)
    assert rc == 0, out
    assert "approved by bob@example.org" in out
    doc = shown(sim, run_id)
    (a,) = doc["approvals"]
    assert (a["step_id"], a["decision"], a["identity"], a["how"], a["comment"]) == (
        GATE, "approved", "bob@example.org", "cli", "LB list checked")
    assert a["origin"]
    assert doc["run"]["change"] == {"id": "CHG0042", "url": "https://itsm.example/CHG0042"}
    events = {e["kind"]: e for e in doc["events"]}
    # the waiting run saw the approval within a second (it looks every 0.5 s): the
    # database keeps microseconds, `show` prints seconds
    with sqlite3.connect(sim.state_dir / "state.db") as db:
        (approved_at,) = db.execute("SELECT approved_at FROM approvals").fetchone()
        (seen_at,) = db.execute("SELECT at FROM events WHERE kind = 'approved'").fetchone()
    assert 0 <= (at(seen_at) - at(approved_at)).total_seconds() < 1.0
    assert events["approval-waiting"]["data"]["four_eyes"] is True
    stops = [o for o in sim.ops() if o[1] == "stop"]
    assert stops, "the services were not stopped after the approval"

    # at the end: the file says the run finished and how long the outage lasted
    text = (sim.state_dir / "octavia_upgrade.prom").read_text()
    assert f'octavia_upgrade_run_running{{deployment="{waiting_dep(sim)}",run_id="{run_id}"}} 0.0' \
        in text
    assert "octavia_upgrade_outage_seconds{" in text
    assert 'octavia_upgrade_step_attempts{deployment=' in text
    printed = sim.cli("metrics", run_id)
    assert printed.returncode == 0 and "octavia_upgrade_run_info{" in printed.stdout
    assert 'change="CHG0042"' in printed.stdout

    report = sim.cli("report", run_id, "-f", "markdown")
    assert report.returncode == 0, report.stderr
    assert "| Change record | CHG0042 (https://itsm.example/CHG0042) |" in report.stdout
    assert "| approved | bob@example.org |" in report.stdout
    assert "LB list checked" in report.stdout


def test_a_rejection_from_another_terminal_fails_the_step_with_its_reason(sim: Sim) -> None:
    rb = outage_runbook(sim)
    proc = sim.popen("run", str(rb), "-i", str(sim.inventory))
    with killed_if_left(proc):
        run_id = wait_for_approval(sim, proc)["run_id"]
        no_reason = sim.cli("reject", run_id, GATE)
        assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
        res = sim.cli("--config-file", identity_conf(sim, "carol@noc"), "reject", run_id,
                      GATE, "--reason", "a P1 incident is open")
        assert res.returncode == 0, res.stderr
        rc, out = finish(proc)
    assert rc == 1, out
    assert "rejected by carol@noc: a P1 incident is open" in out
    assert not [o for o in sim.ops() if o[1] == "stop"]
    doc = shown(sim, run_id)
    (a,) = doc["approvals"]
    assert (a["decision"], a["identity"], a["comment"]) == (
        "rejected", "carol@noc", "a P1 incident is open")
    gate = next(r for r in doc["results"] if r["step_id"] == GATE)
    assert gate["status"] == "failed" and "rejected by carol@noc" in gate["message"]
    table = sim.cli("show", run_id)
    assert "rejected  carol@noc" in table.stdout


def test_an_approval_expires_with_its_declared_outcome(sim: Sim) -> None:
    rb = outage_runbook(sim, expires="1s", on_expiry="approve")
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    run_id = json.loads(sim.cli("runs", "-f", "json").stdout)[-1]["id"]
    (a,) = shown(sim, run_id)["approvals"]
    assert (a["decision"], a["how"]) == ("expired", "timeout")
    assert "declared outcome: approve" in a["comment"]


def test_pause_stops_before_the_next_step_and_continue_goes_on(sim: Sim) -> None:
    go_on = sim.tmp / "first-may-end"  # the first step lasts until the pause is asked for
    rb = sim.runbook("pausing", [
        {"id": "first", "name": "First", "kind": "command", "timeout": "120s",
         "with": {"command": f"while ! test -e {go_on}; do sleep 0.1; done"}},
        {"id": "second", "name": "Second", "kind": "sleep", "with": {"duration": "0s"}},
    ])
    proc = sim.popen("run", str(rb), "-i", str(sim.inventory))
    with killed_if_left(proc):
        deadline = time.monotonic() + 60
        run_id = None
        while run_id is None and time.monotonic() < deadline:
            runs = json.loads(sim.cli("runs", "-f", "json").stdout or "[]")
            run_id = runs[-1]["id"] if runs else None
            time.sleep(0.1)
        assert run_id, "the run never started"
        res = sim.cli("--config-file", identity_conf(sim, "dave@noc"), "pause", run_id)
        assert res.returncode == 0, res.stderr
        twice = sim.cli("pause", run_id)
        assert twice.returncode == 3 and "already paused by dave@noc" in twice.stderr
        go_on.touch()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            events = [e["kind"] for e in shown(sim, run_id)["events"]]
            if "paused" in events:
                break
            time.sleep(0.2)
        doc = shown(sim, run_id)
        assert doc["run"]["paused"]["by"] == "dave@noc"
        assert "second" not in {r["step_id"] for r in doc["results"]}
        assert "paused      by dave@noc" in sim.cli("show", run_id).stdout
        time.sleep(1.0)
        assert proc.poll() is None  # still waiting, lock held
        res = sim.cli("continue", run_id)
        assert res.returncode == 0 and "paused by dave@noc" in res.stdout, res.stderr
        rc, out = finish(proc)
    assert rc == 0, out
    assert "PAUSED by dave@noc before step second" in out
    doc = shown(sim, run_id)
    kinds = [(e["kind"], e["data"].get("by")) for e in doc["events"]]
    assert ("pause-requested", "dave@noc") in kinds and ("paused", "dave@noc") in kinds
    assert [k for k, _ in kinds].index("continued") > [k for k, _ in kinds].index("paused")
    assert doc["run"]["paused"] is None
    assert sim.cli("continue", run_id).returncode == 3


def window_conf(sim: Sim, body: str) -> str:
    path = sim.tmp / "windows.conf"
    path.write_text("[change_windows]\n" + body)
    return str(path)


def test_outside_the_change_window_a_run_refuses_to_start(sim: Sim) -> None:
    rb = outage_runbook(sim)
    # New Year's midnight, one minute long: closed now (unless run at that minute)
    conf = window_conf(sim, "allowed = 0 0 1 1 * 1m UTC\n")
    res = sim.cli("--config-file", conf, "run", str(rb), "-i", str(sim.inventory))
    assert res.returncode == 3, res.stdout + res.stderr
    assert "the run may not start outside the allowed change windows" in res.stderr
    assert "the next window opens at 20" in res.stderr and "-01-01 00:00 UTC" in res.stderr
    assert json.loads(sim.cli("runs", "-f", "json").stdout or "[]") == []
    assert sim.ops() == []

    bad = window_conf(sim, "allowed = 0 0 1 1 * 1m UTC\nallowed = 0 0 * * mon 2h Moon/Base\n")
    res = sim.cli("--config-file", bad, "run", str(rb), "-i", str(sim.inventory))
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"{bad}:3:1: change-window: 'Moon/Base' is not a time zone" in res.stderr
    assert "Traceback" not in res.stderr


def test_the_outage_gate_refuses_to_pass_once_the_window_closed(sim: Sim) -> None:
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    fmt = "%Y%m%dT%H%M%SZ"
    cal = sim.tmp / "cab.ics"
    cal.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//cab//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:w\r\nDTSTART:{(now - timedelta(seconds=30)):{fmt}}\r\n"
        f"DTEND:{(now + timedelta(seconds=8)):{fmt}}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    steps = [{"id": "prepare", "name": "Prepare", "kind": "sleep", "with": {"duration": "10s"}}]
    rb = sim.runbook("gate", steps + [
        {"id": "the-gate", "name": "Approve the outage", "kind": "approval",
         "with": {"message": "Stop the API?", "outage_gate": True}},
        {"id": "stop-api", "name": "Stop the API", "kind": "service",
         "with": {"action": "stop", "services": ["api"]}},
    ])
    res = sim.cli("--config-file", window_conf(sim, f"calendar = {cal}\n"), "run", str(rb),
                  "-i", str(sim.inventory), "--yes")
    assert res.returncode == 3, res.stdout + res.stderr
    assert "the outage gate the-gate may not pass outside the allowed change windows" \
        in res.stderr
    assert not [o for o in sim.ops() if o[1] == "stop"]
    (run,) = json.loads(sim.cli("runs", "-f", "json").stdout)
    doc = shown(sim, run["id"])
    assert doc["run"]["status"] == "failed" and doc["lock"] is None
    assert "the-gate" not in {r["step_id"] for r in doc["results"]}
    assert any(e["kind"] == "refused-outside-window" for e in doc["events"])


def test_events_reach_a_receiver_that_checks_the_hmac_and_a_dead_one_is_reported(
        sim: Sim) -> None:
    from webhookrecv import Receiver, closed_port_url

    secret = "whsec-0123456789"
    with Receiver(secret) as rx:
        conf = sim.tmp / "hooks.conf"
        conf.write_text(f"[webhooks]\nurl = {rx.url}\nurl = {closed_port_url()}\n"
                        f"secret = {secret}\nattempts = 2\nbackoff = 0.1\ntimeout = 1\n"
                        "drain = 5\n")
        steps = [{"id": "prepare", "name": "Prepare", "kind": "command",
                  "with": {"command": "true"}}]
        rb = sim.runbook("hooks", [
            *steps,
            {"id": GATE, "name": "Approve the outage", "kind": "approval",
             "with": {"message": "Stop the API?", "outage_gate": True}},
            {"id": "stop-api", "name": "Stop the API", "kind": "service",
             "with": {"action": "stop", "services": ["api"]}},
            {"id": "start-api", "name": "Start the API", "kind": "service",
             "with": {"action": "start", "services": ["api"]}},
            {"id": "after", "name": "Check", "kind": "command", "with": {"command": "false"},
             "on_failure": "continue"},
        ])
        started = time.monotonic()
        res = sim.cli("--config-file", str(conf), "run", str(rb), "-i", str(sim.inventory),
                      "--yes", "--change", "CHG0077")
        elapsed = time.monotonic() - started
    assert res.returncode == 1, res.stdout + res.stderr  # the last step fails on purpose
    assert rx.bad_signatures == 0
    kinds = rx.kinds()
    assert kinds[0] == "run-started" and kinds[-1] == "run-finished", kinds
    for k in ("outage-started", "outage-ended", "step-failed"):
        assert k in kinds, kinds
    assert kinds.index("outage-started") < kinds.index("outage-ended")
    ended = next(e for e in rx.events if e["event"] == "outage-ended")
    assert 0 < ended["data"]["seconds"] < elapsed
    failed = next(e for e in rx.events if e["event"] == "step-failed")
    assert failed["data"]["step_id"] == "after"
    finished = rx.events[-1]
    assert finished["data"]["status"] == "failed"
    assert all(e["run"]["change"]["id"] == "CHG0077" for e in rx.events)
    assert all(secret not in raw.decode() for raw in rx.raw)
    # the dead receiver: reported on the console and recorded, the run went on
    assert "not delivered after 2 attempt(s)" in res.stderr + res.stdout
    (run,) = json.loads(sim.cli("runs", "-f", "json").stdout)
    doc = shown(sim, run["id"])
    assert any(e["kind"] == "webhook-failed" for e in doc["events"])
    assert secret not in json.dumps(doc)


def test_two_distinct_approvers_are_needed_when_the_step_says_so(sim: Sim) -> None:
    rb = outage_runbook(sim, approvers=2)
    proc = sim.popen("run", str(rb), "-i", str(sim.inventory))
    with killed_if_left(proc):
        run_id = wait_for_approval(sim, proc)["run_id"]
        bob = identity_conf(sim, "bob@example.org")
        first = sim.cli("--config-file", bob, "approve", run_id, GATE)
        assert first.returncode == 0 and "it still needs 1 more of anyone" in first.stdout
        twice = sim.cli("--config-file", bob, "approve", run_id, GATE)
        assert twice.returncode == 3 and "already approved" in twice.stderr
        time.sleep(1.5)
        assert proc.poll() is None  # one approval of two: still waiting
        (waiting,) = json.loads(sim.cli("approvals", run_id, "-f", "json").stdout)
        assert waiting["approved_by"] == ["bob@example.org"]
        second = sim.cli("--config-file", identity_conf(sim, "carol@example.org"), "approve",
                         run_id, GATE)
        assert second.returncode == 0, second.stderr
        rc, out = finish(proc)
    assert rc == 0, out
    assert "approved by bob@example.org, carol@example.org" in out
    ids = [a["identity"] for a in shown(sim, run_id)["approvals"]]
    assert ids == ["bob@example.org", "carol@example.org"]


def _read_until(fd: int, needle: bytes, timeout: float = 60.0) -> bytes:
    import os
    import select

    buf = b""
    end = time.monotonic() + timeout
    while needle not in buf:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} not seen; got {buf.decode(errors='replace')!r}")
        ready, _w, _x = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def test_the_run_terminal_answers_as_its_operator_and_four_eyes_refuses_it(sim: Sim) -> None:
    """A real terminal (pty): the operator's own 'yes' does not count under four eyes;
    another identity's approval does, and the run goes on."""
    import os
    import pty
    import sys

    rb = outage_runbook(sim, four_eyes=True)
    conf = identity_conf(sim, "olga@ops")
    argv = [sys.executable, "-m", "octavia_upgrade", "--config-file", conf, "run", str(rb),
            "-i", str(sim.inventory)]
    env = {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(sim.state_dir), "TERM": "dumb"}
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(sys.executable, argv, env)
    status = None
    try:
        _read_until(fd, b"Type 'yes' to approve as olga@ops")
        os.write(fd, b"yes\n")
        out = _read_until(fd, b"recorded")
        words = " ".join(out.decode(errors="replace").split())  # the console wraps lines
        assert "requires four eyes: olga@ops started the run and may not decide on it" in words
        run_id = json.loads(sim.cli("approvals", "-f", "json").stdout)[0]["run_id"]
        res = sim.cli("--config-file", identity_conf(sim, "bob@example.org"), "approve",
                      run_id, GATE)
        assert res.returncode == 0, res.stderr
        out += _read_until(fd, b"approved by bob")
        t0 = time.monotonic()
        while status is None and time.monotonic() - t0 < 60:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
            else:
                _read_until(fd, b"", timeout=0.2)
                time.sleep(0.05)
    finally:
        if status is None:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    assert status is not None and os.waitstatus_to_exitcode(status) == 0, out
    (a,) = shown(sim, run_id)["approvals"]
    assert (a["identity"], a["how"]) == ("bob@example.org", "cli")  # olga's 'yes' not recorded


def test_sigterm_while_the_run_waits_for_an_approval_stops_it_promptly(sim: Sim) -> None:
    import signal

    rb = outage_runbook(sim)
    proc = sim.popen("run", str(rb), "-i", str(sim.inventory))
    with killed_if_left(proc):
        run_id = wait_for_approval(sim, proc)["run_id"]
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        rc, out = finish(proc, timeout=30)
        took = time.monotonic() - started
    assert rc == 130, out  # interrupted (README exit codes)
    assert took < 10, f"the run took {took:.1f}s to stop"
    doc = shown(sim, run_id)
    assert doc["run"]["status"] == "interrupted" and doc["lock"] is None
    assert not [o for o in sim.ops() if o[1] == "stop"]
    assert json.loads(sim.cli("approvals", "-f", "json").stdout) == []  # nothing waits now
