"""Fault matrix: each fault end to end through the real CLI, outcome asserted.

The control plane is the engine tests' simulation on the session's real sshd
nodes (``sim``); every action on a node leaves a line in ``ops.log``, so
"nothing was executed" and "other nodes untouched" are observable. For each
fault the test checks the exit code, the message, the recorded state and
that the execution report (``report RUN -f json``) lists the deviation.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import deviations, latest, no_traceback, runs, shown, tmpfs, wait_for
from simlab import Sim
from stoppedrun import stop_named, wait_for_commands_of

pytestmark = pytest.mark.lab


def cmd(step_id: str, log: Path, extra: str = "", **kw: Any) -> dict[str, Any]:
    """A command step that appends '<step> <host>' to ``log`` on each target."""
    return {"id": step_id, "name": step_id, "kind": "command",
            "with": {"command": f"echo {step_id} {{{{ host.name }}}} >> {log}{extra}"}, **kw}


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def edit_inventory(sim: Sim, change: Any) -> None:
    data = yaml.safe_load(sim.inventory.read_text())
    change(data)
    sim.inventory.write_text(yaml.safe_dump(data, sort_keys=False))


# --------------------------------------------------------------------------- nodes


def test_node_unreachable_before_the_run_is_refused_in_detect(sim: Sim, lab_nodes: Any) -> None:
    rb = sim.runbook("down", [cmd("a", sim.root / "x.log")])
    lab_nodes.block("node3")
    try:
        res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--yes")
    finally:
        lab_nodes.unblock("node3")
    no_traceback(res)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "node3" in res.stderr and ("unreachable" in res.stderr or "timed out" in res.stderr)
    assert not (sim.root / "x.log").exists() and sim.ops() == []
    # refused before any step: kept as a refused run, no lock left behind
    (run,) = runs(sim)
    assert run["status"] == "refused"
    assert shown(sim, run["id"])["lock"] is None and shown(sim, run["id"])["results"] == []


def test_node_unreachable_mid_run_aborts_and_leaves_other_nodes_alone(sim: Sim,
                                                                       lab_nodes: Any) -> None:
    log = sim.root / "u.log"
    block = (f"{sys.executable} -c 'from octavia_upgrade.lab.nodes import LabNodes; "
             f"LabNodes(\"{lab_nodes.base_dir}\").block(\"node3\")'")
    rb = sim.runbook("unreach", [
        cmd("before", log),
        {"id": "cut", "name": "Cut node3", "kind": "local", "with": {"command": block}},
        cmd("during", log, serial=1),
        cmd("after", log),
    ], **{"finally": [cmd("final", log, targets={"hosts": ["node1"]})]})
    try:
        res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    finally:
        lab_nodes.unblock("node3")
    no_traceback(res)
    assert res.returncode == 1, res.stdout + res.stderr
    got = lines(log)
    # on_failure: abort (the default) — the step stops at node3; nothing else runs on any
    # node; node1 and node2 keep what they did; finally still runs
    assert sorted(got[:3]) == ["before node1", "before node2", "before node3"]
    assert got[3:] == ["during node1", "during node2", "final node1"], got
    (run,) = runs(sim)
    assert run["status"] == "failed"
    by = latest(sim, run["id"])
    assert by[("during", "node3")] == "unreachable"
    assert by[("during", "node1")] == by[("during", "node2")] == "succeeded"
    assert not any(k[0] == "after" for k in by)
    assert ("unreachable", "during", "node3") in deviations(sim, run["id"])


def test_sshd_killed_mid_command_leaves_it_unknown_and_resume_asks(sim: Sim,
                                                                   lab_nodes: Any) -> None:
    """node3's sshd dies (listener and sessions, SIGKILL) while a non-idempotent command
    runs there, and starts again 2 s later. The engine cannot know whether the command
    ran to its end (here it does: the node kept running it), so the (step, host) is
    ``unknown``, the run stops; ``resume`` refuses to run it again unconfirmed, and
    ``resume --yes`` runs it again and finishes."""
    import threading

    log = sim.root / "k.log"
    started = sim.root / "node3-started"
    rb = sim.runbook("sshd-killed", [
        cmd("before", log),
        cmd("during", log, extra=f"; [ {{{{ host.name }}}} != node3 ] || {{ touch {started}; "
            "sleep 3; }; echo done {{ host.name }} >> " + str(log)),
        cmd("after", log),
    ])
    restarted: list[Any] = []

    def kill_then_start() -> None:
        wait_for(started.exists, timeout=60)
        lab_nodes.kill_sshd("node3")
        time.sleep(2)
        restarted.append(lab_nodes.start_sshd("node3"))

    killer = threading.Thread(target=kill_then_start, daemon=True)
    killer.start()
    try:
        res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    finally:
        killer.join(timeout=90)
        if not lab_nodes.node("node3").alive():
            lab_nodes.start_sshd("node3")
    no_traceback(res)
    assert restarted, "node3's sshd was never killed and started again"
    assert res.returncode == 1, res.stdout + res.stderr
    (run,) = runs(sim)
    assert run["status"] == "failed"
    by = {(r["step_id"], r["host"]): r for r in shown(sim, run["id"])["results"]}
    lost = by[("during", "node3")]
    assert lost["status"] == "unknown", lost
    # what the operator reads: where, and that it may or may not have run
    assert lost["message"].startswith("node3 (root@"), lost["message"]
    assert ("the connection closed before the command reported its exit status"
            in lost["message"] or "connection lost while running a command" in lost["message"])
    assert lost["message"].endswith("its outcome is unknown"), lost["message"]
    assert ("unknown", "during", "node3") in deviations(sim, run["id"])
    assert not any(k[0] == "after" for k in by)
    # the command did run to its end on node3, as the engine could not know
    wait_for(lambda: "done node3" in lines(log), timeout=30)
    # resume does not run it again unconfirmed: exit 3, named, nothing executed
    before = lines(log)
    refused = sim.cli("resume", run["id"])
    no_traceback(refused)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "during" in refused.stderr and "node3" in refused.stderr
    assert lines(log) == before
    # confirmed, it runs again on node3 only, then the rest
    again = sim.cli("resume", run["id"], "--yes")
    no_traceback(again)
    assert again.returncode == 0, again.stdout + again.stderr
    after = lines(log)[len(before):]
    assert after[0] == "during node3" and sorted(after[1:]) == [
        "after node1", "after node2", "after node3", "done node3"], after


def test_ssh_authentication_failure_is_refused_and_recorded(sim: Sim, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)],
                   check=True)
    edit_inventory(sim, lambda d: d["hosts"]["node2"].update(key_file=str(wrong)))
    log = sim.root / "a.log"
    rb = sim.runbook("auth", [cmd("a", log)])
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--yes")
    no_traceback(res)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "node2" in res.stderr and "authentication failed" in res.stderr
    assert not log.exists()
    (refused,) = runs(sim)  # kept as evidence: refused by the detection, nothing ran
    assert refused["status"] == "refused"
    # with the check skipped, the run records the host as unreachable and stops
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    assert res.returncode == 1, res.stdout + res.stderr
    (_, run) = runs(sim)
    by = latest(sim, run["id"])
    assert by[("a", "node2")] == "unreachable"
    msg = next(r["message"] for r in shown(sim, run["id"])["results"] if r["host"] == "node2")
    assert "authentication failed" in msg
    assert ("unreachable", "a", "node2") in deviations(sim, run["id"])


def test_changed_host_key_is_refused_and_never_accepted(sim: Sim, tmp_path: Path,
                                                         lab_nodes: Any) -> None:
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                   check=True)
    fake_key = " ".join(Path(f"{other}.pub").read_text().split()[:2])
    node2 = lab_nodes.node("node2")
    entry = f"[{node2.address}]:{node2.port}" if node2.port != 22 else node2.address
    known = tmp_path / "known_hosts"
    kept = [ln for ln in lab_nodes.known_hosts.read_text().splitlines()
            if not ln.startswith(entry + " ")]
    known.write_text("\n".join([*kept, f"{entry} {fake_key}"]) + "\n")
    before = known.read_bytes()
    edit_inventory(sim, lambda d: d["ssh"].update(known_hosts=str(known)))
    log = sim.root / "k.log"
    rb = sim.runbook("hostkey", [cmd("a", log)])
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--yes")
    no_traceback(res)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "node2" in res.stderr and "host key CHANGED" in res.stderr
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    assert res.returncode == 1
    assert "node2" not in {ln.split()[1] for ln in lines(log)}  # nothing ran there
    assert known.read_bytes() == before  # never accepted, never rewritten
    (refused, run) = runs(sim)  # the first one refused by the detection
    assert refused["status"] == "refused"
    assert latest(sim, run["id"])[("a", "node2")] == "unreachable"
    assert ("unreachable", "a", "node2") in deviations(sim, run["id"])


# --------------------------------------------------------------------------- services


def test_service_that_refuses_to_stop_times_out_then_the_policy_applies(sim: Sim) -> None:
    (sim.root / "node2" / "stuck-sim-api").touch()
    log = sim.root / "s.log"
    rb = sim.runbook("stuck", [
        {"id": "stop-api", "name": "Stop the API", "kind": "service", "timeout": "2s",
         "retry": {"attempts": 2, "delay": "100ms"},
         "with": {"action": "stop", "services": ["api"]}},
        cmd("after", log),
    ], **{"finally": [cmd("final", log, targets={"hosts": ["node1"]})]})
    t0 = time.monotonic()
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    assert time.monotonic() - t0 < 60
    no_traceback(res)
    assert res.returncode == 1, res.stdout + res.stderr
    (run,) = runs(sim)
    attempts = [(a["attempt"], a["status"]) for a in shown(sim, run["id"])["attempts"]
                if a["step_id"] == "stop-api" and a["host"] == "node2"]
    assert attempts == [(1, "timed_out"), (2, "timed_out")]
    assert latest(sim, run["id"])[("stop-api", "node1")] == "succeeded"
    assert lines(log) == ["final node1"]  # abort: no later step ran; finally did
    assert ("timed_out", "stop-api", "node2") in deviations(sim, run["id"])
    assert (sim.root / "node2" / "run" / "sim-api").exists()  # still "running"


def test_failed_migration_runs_rollback_and_documents_the_restore(sim: Sim) -> None:
    (sim.root / "fail-migration").touch()
    log = sim.root / "m.log"
    rb = sim.runbook("migrate", [
        {"id": "upgrade-packages", "name": "Upgrade", "kind": "packages", "idempotent": True},
        {"id": "db-upgrade", "name": "Migrate", "kind": "db_migrate",
         "with": {"action": "upgrade"}, "on_failure": "rollback"},
        cmd("after", log),
    ], rollback=[
        {"id": "rollback-restore-db", "name": "Restore the database", "kind": "approval",
         "with": {"message": "Restore the Octavia database from the db-backup dump "
                             "(gunzip -c DUMP | mysql octavia), then approve."}},
        {"id": "rollback-packages", "name": "Reinstall", "kind": "packages",
         "with": {"release": "dalmatian"}},
    ])
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--yes")
    no_traceback(res)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Restore the Octavia database" in res.stdout
    ops = [(h, a) for h, a, _x in sim.ops()]
    assert ops.index(("node1", "db-upgrade")) < len(ops) - 3
    # rollback ran in reverse: packages back to Dalmatian on every node; nothing after
    for n in ("node1", "node2", "node3"):
        assert (sim.root / n / "version").read_text().strip() == "15.1.0"
    assert not log.exists()
    (run,) = runs(sim)
    assert run["status"] == "rolled_back"
    # the restore is manual work: --yes never approves a rollback gate, so without a
    # terminal the gate is recorded as not passed and the report says so
    doc = shown(sim, run["id"])
    assert doc["approvals"] == []
    gate = next(r for r in doc["results"] if r["step_id"] == "rollback-restore-db")
    assert gate["status"] == "failed" and "rollback gate" in gate["message"]
    devs = deviations(sim, run["id"])
    assert ("failed", "db-upgrade", "node1") in devs
    assert ("failed", "rollback-restore-db", "local") in devs
    assert any(k == "rolled_back" for k, _s, _h in devs)


# --------------------------------------------------------------------------- state


def _config(tmp_path: Path, connection: str) -> Path:
    conf = tmp_path / "octavia-upgrade.conf"
    conf.write_text(f"[database]\nconnection = {connection}\n")
    return conf


def test_state_database_unavailable_at_start_is_a_clear_error(sim: Sim, tmp_path: Path) -> None:
    password = "Pg-Pass-" + os.urandom(4).hex()
    conf = _config(tmp_path, f"postgresql+psycopg://ou:{password}@127.0.0.1:9/ou")
    rb = sim.runbook("nodb", [cmd("a", sim.root / "d.log")])
    res = sim.cli("--config-file", str(conf), "run", str(rb), "-i", str(sim.inventory),
                  "--no-detect")
    no_traceback(res)
    assert res.returncode == 1, res.stdout + res.stderr
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "state database" in err[0] and "127.0.0.1" in err[0], err
    assert password not in res.stdout + res.stderr
    assert not (sim.root / "d.log").exists() and sim.ops() == []


def test_state_directory_not_writable_is_a_clear_error(sim: Sim, tmp_path: Path) -> None:
    rb = sim.runbook("rostate", [cmd("a", sim.root / "r.log")])
    with tmpfs(tmp_path / "ro", "1m", ro=True) as ro:
        res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect",
                      env={"OCTAVIA_UPGRADE_STATE_DIR": str(ro)})
    no_traceback(res)
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"state directory {ro} is not writable" in res.stderr
    assert not (sim.root / "r.log").exists()


def test_state_volume_full_mid_run_stops_cleanly_and_resumes(sim: Sim, tmp_path: Path) -> None:
    log = sim.root / "f.log"
    with tmpfs(tmp_path / "vol", "2m") as vol:
        state = vol / "state"
        fill = vol / "filler"
        rb = sim.runbook("full", [
            cmd("one", log, targets={"hosts": ["node1"]}),
            {"id": "fill", "name": "Fill the state volume", "kind": "local",
             # fills the volume once (a resume re-runs this unknown step)
             "with": {"command": f"test -e {sim.root}/filled || {{ touch {sim.root}/filled; "
                                 f"dd if=/dev/zero of={fill} bs=64k 2>/dev/null; }}; true"}},
            cmd("two", log, targets={"hosts": ["node1"]}),
            cmd("three", log, targets={"hosts": ["node1"]}),
        ])
        env = {"OCTAVIA_UPGRADE_STATE_DIR": str(state)}
        res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect", env=env)
        no_traceback(res)
        assert res.returncode == 1, res.stdout + res.stderr
        assert "the state volume is full" in res.stderr
        # nothing ran that is not recorded: the engine stopped before the next step
        assert lines(log) == ["one node1"]
        fill.unlink()
        listed = sim.cli("runs", "-f", "json", env=env)
        assert listed.returncode == 0, listed.stderr
        import json

        (run,) = json.loads(listed.stdout)
        again = sim.cli("resume", run["id"], "--yes", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert lines(log) == ["one node1", "two node1", "three node1"]
        from octavia_upgrade.state import open_store

        store = open_store(None, state)
        try:
            assert store.integrity_check() == []
        finally:
            store.close()


# --------------------------------------------------------------------------- signals


def _read_until(fd: int, needle: bytes, timeout: float = 60.0) -> bytes:
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


def test_ctrl_c_at_an_approval_prompt_interrupts_cleanly(sim: Sim) -> None:
    """A real terminal (pty): the operator presses Ctrl-C at the approval prompt."""
    log = sim.root / "p.log"
    rb = sim.runbook("prompt", [
        cmd("before", log, targets={"hosts": ["node1"]}),
        {"id": "go", "name": "Go ahead", "kind": "approval",
         "with": {"message": "Take the control plane down"}},
        cmd("after", log, targets={"hosts": ["node1"]}),
    ])
    argv = [sys.executable, "-m", "octavia_upgrade", "run", str(rb), "-i", str(sim.inventory),
            "--no-detect"]
    env = {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(sim.state_dir), "TERM": "dumb"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on the pty as its controlling terminal
        os.execve(sys.executable, argv, env)
    status = None
    try:
        _read_until(fd, b"Type 'yes'")
        os.write(fd, b"\x03")  # the terminal turns Ctrl-C into SIGINT
        rest = _read_until(fd, b"octavia-upgrade resume")
        t0 = time.monotonic()
        while status is None and time.monotonic() - t0 < 30:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
            else:
                time.sleep(0.05)
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert status is not None and os.waitstatus_to_exitcode(status) == 130, rest
    assert b"Traceback" not in rest
    assert lines(log) == ["before node1"]
    (run,) = runs(sim)
    assert run["status"] == "interrupted"
    doc = shown(sim, run["id"])
    assert doc["approvals"] == []  # Ctrl-C is never an approval
    assert latest(sim, run["id"])[("go", "local")] == "unknown"
    devs = deviations(sim, run["id"])
    assert ("unknown", "go", "local") in devs and any(k == "interrupted" for k, _s, _h in devs)
    # an approval has no effect of its own: resume asks again (here: --yes)
    res = sim.cli("resume", run["id"], "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert lines(log) == ["before node1", "after node1"]
    assert [a["how"] for a in shown(sim, run["id"])["approvals"]] == ["--yes"]


def test_sigterm_twice_mid_step_then_resume_and_a_crash_during_resume(sim: Sim) -> None:
    log = sim.root / "t.log"
    rb = sim.runbook("term", [
        cmd("one", log),
        # slow only the first time, so the confirmed re-run is quick
        cmd("slow", log, extra=f"; touch {sim.root}/slow-started; [ -e {sim.root}/slow-ran ] "
                               f"|| {{ touch {sim.root}/slow-ran; sleep 30; }}",
            targets={"hosts": ["node2"]}),
        cmd("three", log, extra="; sleep 3", serial=1),
    ])
    proc = sim.popen("run", str(rb), "-i", str(sim.inventory), "--no-detect")
    try:
        wait_for(lambda: (sim.root / "slow-started").exists())
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)  # waits for the 30 s command...
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)  # ... until told again: stops at once
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert time.monotonic() - t0 < 12  # promptly, not after the 30 s command
    assert "SIGTERM received" in out + err and "Traceback" not in out + err
    assert "waiting for slow on node2" in out + err
    assert "SIGTERM received again: stopping at once" in out + err
    (run,) = runs(sim)
    run_id = run["id"]
    assert run["status"] == "interrupted"
    assert latest(sim, run_id)[("slow", "node2")] == "unknown"
    devs = deviations(sim, run_id)
    assert ("unknown", "slow", "node2") in devs
    assert any(k == "interrupted" for k, _s, _h in devs)
    # not idempotent: refused without confirmation; nothing runs
    res = sim.cli("resume", run_id)
    assert res.returncode == 3 and "slow on node2" in res.stderr, res.stderr
    assert lines(log).count("slow node2") == 1
    # confirmed, but its 30 s command still runs on node2: nothing runs beside it
    res = sim.cli("resume", run_id, "--yes")
    assert res.returncode == 3 and "step slow (attempt 1) on node2" in res.stderr, res.stderr
    assert "sleep 30" in res.stderr and lines(log).count("slow node2") == 1
    assert stop_named(res.stderr)
    # confirmed, then killed during "three": the run must not look finished meanwhile
    (sim.root / "slow-started").unlink()
    proc = sim.popen("resume", run_id, "--yes")
    try:
        wait_for(lambda: "three node1" in lines(log))
        assert runs(sim)[0]["status"] == "running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    from octavia_upgrade.state import open_store

    store = open_store(None, sim.state_dir)
    try:
        assert store.integrity_check() == []
    finally:
        store.close()
    done = {h for (step, h), st in latest(sim, run_id).items()
            if step == "three" and st == "succeeded"}
    wait_for_commands_of(run_id)  # three's `sleep 3`, sent before the kill
    res = sim.cli("resume", run_id, "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    got = lines(log)
    assert got.count("one node1") == 1 and got.count("slow node2") == 2
    for h in ("node1", "node2", "node3"):
        # recorded done before the kill: never again; in flight or not reached: once more
        assert got.count(f"three {h}") == 1 if h in done else 1 <= got.count(f"three {h}") <= 2
    assert runs(sim)[0]["status"] == "succeeded"
    assert any(k == "resumed" for k, _s, _h in deviations(sim, run_id))

