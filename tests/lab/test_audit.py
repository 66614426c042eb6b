"""`lab up --audit-commands`: each node logs what its sshd ran, as the nodes saw it.

A bare lab (sshd nodes only) is enough: the audit is sshd's ForceCommand.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from octavia_upgrade.lab import audit
from octavia_upgrade.lab.core import Lab

pytestmark = pytest.mark.lab

NET = os.environ.get("OCTAVIA_UPGRADE_TEST_AUDIT_NET", "127.42.76")


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    from octavia_upgrade.lab.nodes import unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(f"lab nodes unavailable: {reason}")
    lab = Lab(tmp_path_factory.mktemp("audit") / "lab", log=lambda _m: None)
    try:
        lab.up(nodes=2, bare=True, net=NET, name="audit", audit_commands=True)
        yield lab
    finally:
        lab.down(quiet=True)


def test_every_command_is_logged_with_how_it_ended(audited: Lab) -> None:
    shell = audited.shell("node2")
    before = len(audit.executed(audited.dir, "node2"))
    tricky = "printf '%s\\n' \"it's\" && exit 3"
    res = shell.run(tricky, timeout=30)
    assert (res.rc, res.stdout) == (3, "it's\n")  # the wrapper passes output and status on
    ok = shell.run("echo 'two\nlines'", timeout=30)
    assert ok.rc == 0 and ok.stdout == "two\nlines\n"
    new = audit.executed(audited.dir, "node2")[before:]
    assert [e.rc for e in new] == [3, 0]
    assert tricky in new[0].command and "two\nlines" in new[1].command
    assert all(e.ended_at is not None and e.ended_at >= e.at for e in new)
    assert audit.executed(audited.dir, "node1") == [] or all(
        tricky not in e.command for e in audit.executed(audited.dir, "node1"))


def test_a_command_whose_session_is_cut_has_no_end(audited: Lab) -> None:
    nodes = audited.nodes_api()
    node = next(n for n in nodes.running() if n.name == "node1")
    before = len(audit.executed(audited.dir, "node1"))
    ssh = subprocess.Popen(
        ["ssh", "-i", str(nodes.client_key), "-o", f"UserKnownHostsFile={nodes.known_hosts}",
         "-o", "BatchMode=yes", "-p", str(node.port), f"root@{node.address}",
         "sleep 30; echo late"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        from teamkit import wait_until

        wait_until(lambda: len(audit.executed(audited.dir, "node1")) > before, timeout=30,
                   what="the command's start line")
    finally:
        ssh.kill()
        ssh.wait()
    (cut,) = audit.executed(audited.dir, "node1")[before:]
    assert "sleep 30" in cut.command and cut.rc is None and cut.ended_at is None


def test_the_log_is_read_line_by_line_whatever_it_holds(tmp_path: Path) -> None:
    log = audit.log_path(tmp_path, "n1")
    log.parent.mkdir(parents=True)
    log.write_text("1.5 10 start ZWNobyBh\n"            # echo a
                   "garbage\n"
                   "1.6 11 start ZWNobyBi\n"            # echo b, cut
                   "1.7 10 end 0\n"
                   "1.8 10 start !!notbase64\n"
                   "1.9 10 end 1\n")
    got = audit.executed(tmp_path, "n1")
    assert [(e.command, e.rc) for e in got] == [("echo a", 0), ("echo b", None), ("", 1)]


def test_a_follower_reads_only_what_was_added_and_waits_for_whole_lines(tmp_path: Path) -> None:
    log = audit.log_path(tmp_path, "n1")
    log.parent.mkdir(parents=True)
    follower = audit.Follower(tmp_path, "n1")
    assert follower.poll() == ([], [])
    log.write_text("1.5 10 start ZWNobyBh\n1.6 11 start ZWNo")  # echo a; echo b half-written
    started, ended = follower.poll()
    assert ([e.command for e in started], ended) == (["echo a"], [])
    with log.open("a") as f:
        f.write("byBi\n1.7 10 end 3\n")
    started, ended = follower.poll()
    assert [e.command for e in started] == ["echo b"]
    assert [(e.command, e.rc, e.ended_at) for e in ended] == [("echo a", 3, 1.7)]
    assert [e.command for e in follower.running()] == ["echo b"]
    assert follower.poll() == ([], [])


def test_snapshot_and_reset_refuse_a_bare_lab(audited: Lab) -> None:
    import sys

    for action in ("snapshot", "reset"):
        res = subprocess.run([sys.executable, "-m", "octavia_upgrade", "lab", action, "--dir",
                              str(audited.dir)], capture_output=True, text=True, timeout=60)
        assert res.returncode == 3, res.stderr
        assert "a --bare lab has no Octavia to put back" in res.stderr
        assert "Traceback" not in res.stderr
    assert not (audited.dir / "snapshot").exists()
