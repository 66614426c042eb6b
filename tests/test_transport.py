"""SshTransport against real sshd lab nodes; LocalTransport on this machine."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.sshnodes import NODES_NET

from octavia_upgrade.errors import InvalidInput, UpgradeError
from octavia_upgrade.lab.nodes import LabNodes, default_specs, unavailable_reason
from octavia_upgrade.model import Host, Inventory, SshSettings
from octavia_upgrade.transport import (
    AuthenticationFailed,
    CommandResult,
    ConnectionFailure,
    ConnectionLost,
    FileUnreadable,
    HostKeyMismatch,
    HostUnreachable,
    LocalTransport,
    SshTransport,
    TransportError,
    TransportPool,
    UnknownHostKey,
    remote_command,
)

needs_nodes = pytest.mark.skipif(unavailable_reason() is not None,
                                 reason=f"lab sshd nodes unavailable: {unavailable_reason()}")


def host_of(nodes: LabNodes, name: str, key_file: str | None = None) -> Host:
    node = nodes.node(name)
    return Host(name=name, address=node.address, port=node.port, user="root",
                key_file=key_file or str(nodes.client_key))


def settings(nodes: LabNodes, **kw: object) -> SshSettings:
    return SshSettings(known_hosts=str(nodes.known_hosts), **kw)  # type: ignore[arg-type]


@pytest.fixture
def node1(lab_nodes: LabNodes) -> Iterator[SshTransport]:
    transport = SshTransport(host_of(lab_nodes, "node1"), settings(lab_nodes, connect_timeout=3),
                             kill_after=1, grace=2)
    try:
        yield transport
    finally:
        transport.close()


def live_processes_with(marker: str) -> list[str]:
    """Command lines of running (not zombie) processes on this machine containing ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z" and int(entry) != os.getpid():
            found.append(f"{entry}: {cmdline}")
    return found


def other_key(tmp_path: Path) -> Path:
    key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


# -- command lines (pure) -------------------------------------------------------


def test_remote_command_quotes_env_and_wraps_timeout() -> None:
    value = "x'; touch /tmp/injected; \"$(id)\""
    line = remote_command('printf %s "$A"', timeout=2.5, env={"A": value}, kill_after=3)
    assert line.startswith("exec </dev/null; timeout -k 3 2.5 sh -c ")
    # What a login shell on the host makes of it: the value, verbatim.
    done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True)
    assert done.stdout == value
    assert remote_command("true", has_stdin=True) == "sh -c true; exit $?"


def test_invalid_env_name_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="A-B"):
        remote_command("true", env={"A-B": "1"})


def test_command_result_properties() -> None:
    assert CommandResult(0, "", "", 1.0, 3.5).duration == 2.5
    assert CommandResult(0, "", "", 1.0, 3.5).ok
    assert not CommandResult(1, "", "", 1.0, 3.5).ok
    assert not CommandResult(0, "", "", 1.0, 3.5, timed_out=True).ok


# -- SSH: running commands --------------------------------------------------------


@needs_nodes
def test_run_returns_rc_stdout_stderr(node1: SshTransport) -> None:
    result = node1.run('echo "out $OCTAVIA_LAB_NODE"; echo err >&2; exit 3')
    assert (result.rc, result.stdout, result.stderr) == (3, "out node1\n", "err\n")
    assert not result.ok and not result.timed_out
    assert 0 < result.duration < 10
    assert node1.run("true").ok


@needs_nodes
def test_command_killed_by_a_signal_is_a_result_not_a_lost_connection(
        node1: SshTransport) -> None:
    result = node1.run("kill -KILL $$")
    assert result.rc == 137 and not result.timed_out
    assert node1.run("echo still").stdout == "still\n"


@needs_nodes
def test_env_values_arrive_verbatim(node1: SshTransport) -> None:
    value = "a b 'c' \"d\" $HOME `id` ; exit 9"
    result = node1.run('printf %s "$WEIRD"', env={"WEIRD": value, "OTHER": ""})
    assert result.rc == 0
    assert result.stdout == value


@needs_nodes
def test_stdin_is_fed_and_closed(node1: SshTransport) -> None:
    result = node1.run("wc -c; cat >/dev/null", stdin="héllo\n")
    assert result.stdout.strip() == str(len("héllo\n".encode()))
    # Without stdin, a command reading it gets end-of-file at once.
    started = time.monotonic()
    assert node1.run("cat", timeout=120).stdout == ""
    assert time.monotonic() - started < 60  # end-of-file, not the timeout


@needs_nodes
def test_utf8_output_is_decoded_whole(node1: SshTransport) -> None:
    result = node1.run("i=0; while [ $i -lt 20000 ]; do printf 'é'; i=$((i+1)); done")
    assert result.stdout == "é" * 20000


@needs_nodes
def test_multibyte_character_split_across_reads_is_decoded(node1: SshTransport) -> None:
    # The two bytes of "é" leave the host in separate packets, a pause apart.
    result = node1.run(r"printf 'a\303'; printf 'b\342\202' >&2; sleep 0.3; "
                       r"printf '\251z'; printf '\254c' >&2")
    assert (result.stdout, result.stderr) == ("aéz", "b€c")
    # Bytes that are not UTF-8 are replaced, not an error.
    assert node1.run(r"printf 'x\377y'").stdout == "x\ufffdy"


def seq_text(count: int, *, letters: bool = False) -> str:
    """What ``seq 1 COUNT`` prints (with digits as letters a-j: ``| tr 0-9 a-j``)."""
    text = "".join(f"{i}\n" for i in range(1, count + 1))
    return text.translate(str.maketrans("0123456789", "abcdefghij")) if letters else text


@needs_nodes
def test_megabytes_on_stdout_and_stderr_at_once(node1: SshTransport) -> None:
    # Both streams well beyond the channel window (2 MiB), written concurrently.
    result = node1.run("seq 1 900000 & seq 1 900000 | tr 0-9 a-j >&2; wait", timeout=60)
    assert result.ok
    assert len(result.stdout) > 6_000_000
    assert result.stdout == seq_text(900000)
    assert result.stderr == seq_text(900000, letters=True)


@needs_nodes
def test_output_whose_wake_up_is_lost_is_still_read(node1: SshTransport,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # paramiko wakes the reader through one pipe for both streams, and its set
    # and clear race when both carry data: stderr can sit in its buffer with
    # the pipe clear. Here stderr never wakes the reader at all (the worst
    # case of that race). The command fills the window on stderr only and
    # then waits for it to open: without a bounded sleep it ends at its
    # deadline, cut off.
    from octavia_upgrade.transport import channel as channel_module

    real_init = channel_module.ChannelSession.__init__

    def init_without_stderr_wake_up(self, channel, stdin, deadline):  # type: ignore[no-untyped-def]
        real_init(self, channel, stdin, deadline)
        channel.in_stderr_buffer._event = None  # paramiko's hook to set the pipe

    monkeypatch.setattr(channel_module.ChannelSession, "__init__", init_without_stderr_wake_up)
    result = node1.run("seq 1 900000 >&2; echo done", timeout=30)
    assert (result.rc, result.timed_out, result.stdout) == (0, False, "done\n")
    assert result.stderr == seq_text(900000)


@needs_nodes
def test_stdin_beyond_the_window_while_the_command_writes(node1: SshTransport) -> None:
    data = "".join(f"ligne {i} héllo wörld\n" for i in range(300000))  # ~7 MB
    assert len(data.encode()) > 3 * 2**21
    # cat writes back everything as it reads: output flows while stdin does.
    echoed = node1.run("cat; echo done >&2", stdin=data, timeout=60)
    assert (echoed.rc, echoed.stdout, echoed.stderr) == (0, data, "done\n")
    # Megabytes of output before the command reads a byte of its input.
    counted = node1.run("seq 1 900000 >&2; wc -c", stdin=data, timeout=60)
    assert counted.rc == 0
    assert counted.stderr == seq_text(900000)
    assert counted.stdout.strip() == str(len(data.encode()))


@needs_nodes
def test_stdin_the_command_does_not_read_is_dropped(node1: SshTransport) -> None:
    started = time.monotonic()
    result = node1.run("echo early; exit 4", stdin="x" * 8_000_000, timeout=120)
    assert (result.rc, result.stdout) == (4, "early\n") and not result.timed_out
    assert time.monotonic() - started < 60
    assert node1.run("echo next").stdout == "next\n"


@needs_nodes
def test_command_that_closes_its_output_early_is_waited_for(node1: SshTransport) -> None:
    result = node1.run("echo first; exec >&-; sleep 1; echo late >&2; exit 3")
    assert (result.rc, result.stdout, result.stderr) == (3, "first\n", "late\n")
    assert result.duration >= 1
    # Both streams closed long before the exit status comes.
    silent = node1.run("exec >&- 2>&-; sleep 1; exit 5", timeout=10)
    assert (silent.rc, silent.stdout, silent.timed_out) == (5, "", False)
    assert silent.duration >= 1
    # ... and still stopped by its timeout.
    started = time.monotonic()
    stuck = node1.run("exec >&- 2>&-; sleep 120", timeout=1)
    assert stuck.timed_out and stuck.rc == 124
    assert time.monotonic() - started < 60  # the timeout, not the end of the sleep


@needs_nodes
def test_background_child_holding_stdout_is_waited_for(node1: SshTransport) -> None:
    result = node1.run("(sleep 1; echo child) & echo parent")
    assert (result.rc, result.stdout) == (0, "parent\nchild\n")


@needs_nodes
def test_warm_commands_start_no_thread(node1: SshTransport) -> None:
    node1.run("true")
    started: set[int] = set()

    def seen(frame: object, event: str, arg: object) -> None:
        started.add(threading.get_ident())

    # Called in every thread started from now on (threading.Thread only).
    threading.setprofile(seen)
    try:
        for i in range(20):
            assert node1.run(f"echo {i}", timeout=10, stdin="in").stdout == f"{i}\n"
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    assert started == set()


@needs_nodes
def test_warm_connection_is_reused(node1: SshTransport) -> None:
    first = node1.run('echo "$SSH_CONNECTION"').stdout
    conn = node1.connection
    paramiko_transport = conn.transport
    for _ in range(20):
        assert node1.run("true").ok
    assert node1.run('echo "$SSH_CONNECTION"').stdout == first  # same client port
    assert node1.connection is conn
    assert node1.connection.transport is paramiko_transport
    node1.close()
    assert node1.run('echo "$SSH_CONNECTION"').stdout != first  # reconnected


@needs_nodes
def test_commands_are_sent_without_waiting_for_nagle(node1: SshTransport) -> None:
    # Nagle's algorithm with the host's delayed ACK costs ~40 ms per command, and
    # paramiko never turns it off: the transport does, on every direct connection.
    # (How much faster that makes a command than untuned fabric is measured by
    # benchmarks/ssh_overhead.py, not asserted here.)
    import socket

    node1.run("true")
    sock = node1.connection.transport.sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


@needs_nodes
def test_timeout_kills_the_remote_process_group(node1: SshTransport) -> None:
    marker = str(3000 + uuid.uuid4().int % 5000)
    started = time.monotonic()
    result = node1.run(f"sleep {marker} & sleep {marker}; echo never", timeout=1)
    elapsed = time.monotonic() - started
    assert result.timed_out and not result.ok
    assert result.rc in (124, 137)
    assert "never" not in result.stdout
    assert elapsed < 60  # the sleeps last 3000 s or more
    # The lab node shares this machine's process table: nothing of it is left.
    deadline = time.monotonic() + 3
    while live_processes_with(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_processes_with(f"sleep {marker}") == []
    assert node1.run(f"pgrep -f '[s]leep {marker}' || echo none").stdout == "none\n"


@needs_nodes
def test_timeout_escalates_to_sigkill(node1: SshTransport) -> None:
    marker = str(8000 + uuid.uuid4().int % 1000)
    started = time.monotonic()
    result = node1.run(f"trap '' TERM; sleep {marker} & trap '' TERM; sleep {marker}; true",
                       timeout=0.5)
    elapsed = time.monotonic() - started
    assert result.timed_out
    # Stopped on the host by SIGKILL kill_after (1 s) later, before the local
    # deadline (timeout + kill_after + grace) would have dropped the connection.
    assert result.rc == 137
    assert 1.4 <= elapsed < 60  # the sleeps last 8000 s or more
    deadline = time.monotonic() + 3
    while live_processes_with(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_processes_with(f"sleep {marker}") == []


@needs_nodes
def test_exit_124_within_time_is_not_a_timeout(node1: SshTransport) -> None:
    result = node1.run("exit 124", timeout=30)
    assert result.rc == 124 and not result.timed_out


@needs_nodes
def test_watchdog_returns_when_host_stops_answering(lab_nodes: LabNodes) -> None:
    transport = SshTransport(host_of(lab_nodes, "node2"), settings(lab_nodes, connect_timeout=2),
                             kill_after=1, grace=1)
    try:
        assert transport.run("true").ok
        blocker = threading.Timer(0.5, lambda: lab_nodes.block("node2"))
        blocker.start()
        started = time.monotonic()
        result = transport.run("sleep 300", timeout=1)
        elapsed = time.monotonic() - started
        blocker.join()
        assert result.timed_out and result.rc is None
        assert 2.5 <= elapsed < 60  # timeout + kill_after + grace (3 s), not the sleep
        with pytest.raises(HostUnreachable):
            transport.run("true")
    finally:
        lab_nodes.unblock("node2")
        transport.close()
    assert transport.run("true").ok


@needs_nodes
def test_warm_connection_to_a_host_that_stopped_answering(lab_nodes: LabNodes) -> None:
    transport = SshTransport(host_of(lab_nodes, "node2"), settings(lab_nodes, connect_timeout=2),
                             kill_after=1, grace=1)
    marker = Path(f"/tmp/octavia-must-not-exist-{uuid.uuid4().hex}")
    try:
        assert transport.run("true").ok
        lab_nodes.block("node2")
        started = time.monotonic()
        with pytest.raises(HostUnreachable, match="node2 .*the command was not started"):
            transport.run(f"touch {marker}", timeout=300)
        assert time.monotonic() - started < 60  # connect_timeout, not the command's timeout
    finally:
        lab_nodes.unblock("node2")
        transport.close()
    assert not marker.exists()
    assert transport.run("true").ok


@needs_nodes
def test_read_text(node1: SshTransport) -> None:
    path = f"/tmp/octavia-transport-{uuid.uuid4().hex}"
    try:
        assert node1.run(f"printf 'a = 1\\n' > {path}").ok
        assert node1.read_text(path) == "a = 1\n"
    finally:
        Path(path).unlink(missing_ok=True)
    with pytest.raises(FileUnreadable, match=f"node1 .*{path}.*No such file") as caught:
        node1.read_text(path)
    assert (caught.value.host, caught.value.path) == ("node1", path)
    assert not isinstance(caught.value, ConnectionFailure)  # the host answered


@needs_nodes
def test_secrets_are_not_logged(node1: SshTransport, caplog: pytest.LogCaptureFixture) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"
    with caplog.at_level(logging.DEBUG):
        node1.close()
        node1.run(f"echo {secret} >/dev/null", env={"DB_PASSWORD": secret}, stdin=secret)
    assert caplog.records, "paramiko logs at DEBUG; the check below must see them"
    assert secret not in caplog.text


# -- SSH: failures ----------------------------------------------------------------


@needs_nodes
def test_blocked_host_is_unreachable_within_connect_timeout(lab_nodes: LabNodes) -> None:
    transport = SshTransport(host_of(lab_nodes, "node3"), settings(lab_nodes, connect_timeout=2))
    lab_nodes.block("node3")
    try:
        started = time.monotonic()
        address = re.escape(lab_nodes.node("node3").address)
        with pytest.raises(HostUnreachable, match=rf"node3 \(root@{address}:\d+\).*"
                                                  "timed out after 2s"):
            transport.run("true")
        assert time.monotonic() - started < 30  # not the kernel's minutes of SYN retries
    finally:
        lab_nodes.unblock("node3")
    assert transport.run("true").ok
    transport.close()


@needs_nodes
def test_refused_connection_is_unreachable(lab_nodes: LabNodes) -> None:
    host = Host(name="ghost", address="127.42.100.99", port=22,
                key_file=str(lab_nodes.client_key))
    with pytest.raises(HostUnreachable,
                       match=r"ghost \(root@127\.42\.100\.99:22\).*refused") as caught:
        SshTransport(host, settings(lab_nodes)).run("true")
    assert isinstance(caught.value, ConnectionFailure)
    assert (caught.value.host, caught.value.address, caught.value.port) == (
        "ghost", "127.42.100.99", 22)


@needs_nodes
def test_wrong_key_is_authentication_failure(lab_nodes: LabNodes, tmp_path: Path) -> None:
    host = host_of(lab_nodes, "node1", key_file=str(other_key(tmp_path)))
    with pytest.raises(AuthenticationFailed, match="node1 .*authentication failed"):
        SshTransport(host, settings(lab_nodes)).run("true")


@needs_nodes
def test_missing_key_file_is_authentication_failure(lab_nodes: LabNodes,
                                                    tmp_path: Path) -> None:
    host = host_of(lab_nodes, "node1", key_file=str(tmp_path / "nope"))
    with pytest.raises(AuthenticationFailed, match="key file .*nope does not exist") as caught:
        SshTransport(host, settings(lab_nodes)).run("true")
    assert caught.value.key_file == str(tmp_path / "nope")


@needs_nodes
def test_changed_host_key_is_refused_and_nothing_runs(lab_nodes: LabNodes,
                                                      tmp_path: Path) -> None:
    node = lab_nodes.node("node1")
    fake = other_key(tmp_path)
    public = " ".join(Path(f"{fake}.pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    name = node.address if node.port == 22 else f"[{node.address}]:{node.port}"
    known.write_text(f"# operator's file\n127.9.9.9 {public}\n{name} {public}\n")
    marker = Path(f"/tmp/octavia-must-not-exist-{uuid.uuid4().hex}")
    transport = SshTransport(host_of(lab_nodes, "node1"), SshSettings(known_hosts=str(known)))
    with pytest.raises(HostKeyMismatch) as caught:
        transport.run(f"touch {marker}")
    message = str(caught.value)
    assert f"{known}:3" in message and "CHANGED" in message and "node1" in message
    assert "\n" not in message
    assert not marker.exists()
    listed = subprocess.run(["ssh-keygen", "-l", "-f", f"{fake}.pub"], check=True,
                            capture_output=True, text=True).stdout.split()[1]
    assert caught.value.expected == listed and caught.value.offered.startswith("SHA256:")
    assert caught.value.offered != listed and caught.value.known_hosts == str(known)
    assert (caught.value.host, caught.value.address) == ("node1", node.address)


@needs_nodes
def test_hashed_known_hosts_entry_is_found(lab_nodes: LabNodes, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(lab_nodes.known_hosts.read_text())
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    assert "|1|" in known.read_text()
    transport = SshTransport(host_of(lab_nodes, "node2"), SshSettings(known_hosts=str(known)))
    assert transport.run("echo ok").stdout == "ok\n"
    transport.close()


@needs_nodes
def test_unknown_host_key_is_refused_and_nothing_runs(lab_nodes: LabNodes,
                                                      tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    marker = Path(f"/tmp/octavia-must-not-exist-{uuid.uuid4().hex}")
    transport = SshTransport(host_of(lab_nodes, "node1"), SshSettings(known_hosts=str(known)))
    with pytest.raises(UnknownHostKey,
                       match=f"node1 .*ssh-ed25519 SHA256:.* not in {known}") as caught:
        transport.run(f"touch {marker}")
    assert not marker.exists()
    assert caught.value.offered is not None and caught.value.offered in str(caught.value)
    missing = SshTransport(host_of(lab_nodes, "node1"),
                           SshSettings(known_hosts=str(tmp_path / "absent")))
    with pytest.raises(UnknownHostKey, match="does not exist"):
        missing.run(f"touch {marker}")
    assert not marker.exists()


@needs_nodes
def test_strict_checking_off_accepts_unknown_but_not_changed(lab_nodes: LabNodes,
                                                             tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    loose = SshTransport(host_of(lab_nodes, "node1"),
                         SshSettings(known_hosts=str(empty), strict_host_key_checking=False))
    assert loose.run("echo ok").stdout == "ok\n"
    loose.close()
    assert empty.read_text() == ""  # accepted for this connection only, never saved


@needs_nodes
def test_connection_lost_mid_command(tmp_path: Path) -> None:
    nodes = LabNodes(tmp_path / "lab")
    try:
        (node,) = nodes.start(default_specs(1, net=NODES_NET, first=40))
        transport = SshTransport(Host("lost", node.address, node.port,
                                      key_file=str(nodes.client_key)),
                                 SshSettings(known_hosts=str(nodes.known_hosts)))
        assert transport.run("true").ok
        stopper = threading.Timer(0.5, nodes.stop)
        stopper.start()
        with pytest.raises(ConnectionLost, match="lost .*outcome is unknown") as caught:
            transport.run("sleep 20", timeout=30)
        assert isinstance(caught.value, ConnectionFailure) and caught.value.host == "lost"
        stopper.join()
        with pytest.raises(HostUnreachable):
            transport.run("true")
    finally:
        nodes.stop()


def test_transport_errors_are_upgrade_errors() -> None:
    # The CLI maps UpgradeError to an exit code and a message, never a traceback.
    for cls in (HostUnreachable, AuthenticationFailed, HostKeyMismatch, UnknownHostKey,
                ConnectionLost, FileUnreadable):
        assert issubclass(cls, UpgradeError)


def test_connection_failures_share_a_base_class_a_missing_file_does_not() -> None:
    # Callers tell "the host could not be reached or the connection broke" by type.
    for cls in (HostUnreachable, AuthenticationFailed, HostKeyMismatch, UnknownHostKey,
                ConnectionLost):
        assert issubclass(cls, ConnectionFailure)
    assert not issubclass(FileUnreadable, ConnectionFailure)
    assert issubclass(ConnectionFailure, TransportError)


# -- threads and pool ---------------------------------------------------------------


@needs_nodes
def test_transports_in_parallel_threads(lab_nodes: LabNodes) -> None:
    inventory = Inventory(
        path="<test>", deployment="lab", flavor="deb", ssh=settings(lab_nodes),
        hosts=tuple(host_of(lab_nodes, n) for n in ("node1", "node2", "node3")))
    errors: list[str] = []
    with TransportPool(inventory) as pool:
        shared = pool.get("node1")

        def work(name: str, worker: int) -> None:
            transport = pool.get(name)
            for i in range(15):
                result = transport.run(f'echo "$OCTAVIA_LAB_NODE {worker} {i}"', timeout=20)
                if result.stdout != f"{name} {worker} {i}\n":
                    errors.append(f"{name}/{worker}/{i}: {result}")

        threads = [threading.Thread(target=work, args=(name, w))
                   for w in range(2) for name in ("node1", "node2", "node3")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert pool.get("node1") is shared
        assert pool.get("node2") is not shared
        with pytest.raises(KeyError):
            pool.get("nodeX")
        conns = [pool.get(n).connection for n in ("node1", "node2", "node3")]
        assert all(c.is_connected for c in conns)
    assert not any(c.is_connected for c in conns)


@needs_nodes
def test_close_all_does_not_wait_for_a_handshake_in_progress(lab_nodes: LabNodes) -> None:
    # A refused or interrupted run closes its pool while the prefetch may
    # still be opening a connection to a host that does not answer.
    inventory = Inventory(
        path="<test>", deployment="lab", flavor="deb",
        ssh=settings(lab_nodes, connect_timeout=6),
        hosts=tuple(host_of(lab_nodes, n) for n in ("node1", "node3")))
    lab_nodes.block("node3")
    try:
        pool = TransportPool(inventory)
        pool.prefetch(["node1", "node3"])
        node1 = pool.get("node1").connection  # waits for node1's handshake only
        assert node1.is_connected
        deadline = time.monotonic() + 5
        while "node3" not in pool._opening and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "node3" in pool._opening
        started = time.monotonic()
        pool.close_all()
        assert time.monotonic() - started < 5  # not the 6 s handshake timeout
        assert not node1.is_connected
        deadline = time.monotonic() + 15
        while pool._opening and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pool._opening  # the prefetch thread gave up and left
        assert pool.get("node3")._conn is None
    finally:
        lab_nodes.unblock("node3")


def test_prefetch_of_a_host_not_in_the_inventory_leaves_nothing_behind() -> None:
    pool = TransportPool(Inventory(path="<test>", deployment="lab", flavor="deb",
                                   ssh=SshSettings(), hosts=()))
    pool.prefetch(["nosuch"])
    deadline = time.monotonic() + 5
    while pool._opening and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pool._opening
    pool.close_all()
    with pytest.raises(KeyError):
        pool.get("nosuch")


# -- local ---------------------------------------------------------------------------


def test_local_run_rc_output_env_stdin() -> None:
    local = LocalTransport()
    result = local.run('read x; echo "$x $V"; echo e >&2; exit 2', env={"V": "v'1"},
                       stdin="hé\n")
    assert (result.rc, result.stdout, result.stderr) == (2, "hé v'1\n", "e\n")
    assert local.run("cat", timeout=5).stdout == ""  # stdin is /dev/null by default
    assert local.name == "local"


def test_local_timeout_kills_the_process_group() -> None:
    marker = str(4000 + uuid.uuid4().int % 5000)
    started = time.monotonic()
    result = LocalTransport(kill_after=1).run(f"sleep {marker} & sleep {marker}; echo never",
                                              timeout=0.5)
    assert result.timed_out and "never" not in result.stdout
    assert time.monotonic() - started < 60  # the sleeps last 4000 s or more
    assert live_processes_with(f"sleep {marker}") == []


def test_local_timeout_escalates_to_sigkill() -> None:
    marker = str(9000 + uuid.uuid4().int % 900)
    result = LocalTransport(kill_after=0.5).run(
        f"trap '' TERM; sleep {marker} & sleep {marker}", timeout=0.3)
    assert result.timed_out and result.rc == 137
    assert live_processes_with(f"sleep {marker}") == []


def test_local_read_text(tmp_path: Path) -> None:
    (tmp_path / "f.conf").write_text("x = 1\n")
    assert LocalTransport().read_text(str(tmp_path / "f.conf")) == "x = 1\n"
    with pytest.raises(FileUnreadable, match="missing.conf: No such file"):
        LocalTransport().read_text(str(tmp_path / "missing.conf"))
