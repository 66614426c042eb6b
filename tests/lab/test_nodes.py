"""Lab nodes: real sshd per node, private mount namespaces, stop by PID, blocking."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from octavia_upgrade.lab.nodes import (
    LabNodeError,
    LabNodes,
    NodeSpec,
    RunningNode,
    default_specs,
    unavailable_reason,
)

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None,
                       reason=f"lab sshd nodes unavailable: {unavailable_reason()}"),
]


def ssh(nodes: LabNodes, node: RunningNode, command: str,
        timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """Run ``command`` on ``node`` with the OpenSSH client and strict host-key checking."""
    return subprocess.run(
        ["ssh", "-F", "none", "-i", str(nodes.client_key), "-p", str(node.port),
         "-o", f"UserKnownHostsFile={nodes.known_hosts}", "-o", "StrictHostKeyChecking=yes",
         "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", f"root@{node.address}", command],
        capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def own_lab(tmp_path: Path) -> Iterator[LabNodes]:
    """A LabNodes of the test's own, stopped by PID at the end whatever happens."""
    nodes = LabNodes(tmp_path / "lab")
    try:
        yield nodes
    finally:
        nodes.stop()


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _namespace_pids(mnt_ns: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/mnt") == mnt_ns:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_session_nodes_accept_ssh_with_strict_host_keys(lab_nodes: LabNodes) -> None:
    for node in lab_nodes.running():
        done = ssh(lab_nodes, node, 'echo "$OCTAVIA_LAB_NODE"; id -u')
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [node.name, "0"]


def test_known_hosts_lists_every_node_key(lab_nodes: LabNodes) -> None:
    lines = lab_nodes.known_hosts.read_text().splitlines()
    for node in lab_nodes.running():
        name = node.address if node.port == 22 else f"[{node.address}]:{node.port}"
        assert f"{name} {node.host_key}" in lines


def test_namespaces_isolate_bound_files(own_lab: LabNodes, tmp_path: Path) -> None:
    specs = default_specs(2, net="127.42.101")
    sources = {}
    for spec in specs:
        src = tmp_path / f"{spec.name}-etc"
        src.mkdir()
        sources[spec.name] = src
    specs = [NodeSpec(s.name, s.address, s.port, binds={"/etc/octavia": str(sources[s.name])})
             for s in specs]
    a, b = own_lab.start(specs)

    done = ssh(own_lab, a, "echo secret-of-a > /etc/octavia/octavia.conf && "
                           "cat /etc/octavia/octavia.conf")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "secret-of-a\n"

    seen_by_b = ssh(own_lab, b, "ls -A /etc/octavia")
    assert seen_by_b.returncode == 0, seen_by_b.stderr
    assert seen_by_b.stdout == ""
    assert not Path("/etc/octavia/octavia.conf").exists()
    # The file landed in node A's own source directory, nowhere else.
    assert (sources["node1"] / "octavia.conf").read_text() == "secret-of-a\n"
    assert list(sources["node2"].iterdir()) == []


def test_bind_over_existing_host_file_leaves_it_untouched(own_lab: LabNodes,
                                                          tmp_path: Path) -> None:
    host_file = tmp_path / "host-tool"
    host_file.write_text("host version\n")
    stand_in = tmp_path / "stand-in"
    stand_in.write_text("node version\n")
    (spec,) = default_specs(1, net="127.42.102")
    (node,) = own_lab.start([NodeSpec(spec.name, spec.address, spec.port,
                                      binds={str(host_file): str(stand_in)})])
    done = ssh(own_lab, node, f"cat {host_file}")
    assert done.stdout == "node version\n"
    assert host_file.read_text() == "host version\n"


def test_stop_leaves_no_process_of_the_node(own_lab: LabNodes) -> None:
    (node,) = own_lab.start(default_specs(1, net="127.42.103"))
    # A session left open on the node: sshd forks a child for it, which
    # survives a plain SIGTERM of the listener.
    client = subprocess.Popen(
        ["ssh", "-F", "none", "-i", str(own_lab.client_key), "-p", str(node.port),
         "-o", f"UserKnownHostsFile={own_lab.known_hosts}", "-o", "BatchMode=yes",
         f"root@{node.address}", "sleep 300"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while len(_namespace_pids(node.mnt_ns)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        inside = _namespace_pids(node.mnt_ns)
        assert node.pid in inside
        assert len(inside) >= 3, "sshd, its session child and sleep should be in the namespace"

        own_lab.stop()

        assert all(_gone(pid) for pid in inside), [p for p in inside if not _gone(p)]
        assert [p for p in _namespace_pids(node.mnt_ns) if not _gone(p)] == []
        assert own_lab.running() == []
        client.wait(timeout=10)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()


def test_start_stop_twice_is_safe(own_lab: LabNodes) -> None:
    specs = default_specs(2, net="127.42.104")
    first = own_lab.start(specs)
    own_lab.stop()
    own_lab.stop()
    assert all(_gone(n.pid) for n in first)

    second = own_lab.start(specs)
    assert {n.pid for n in second}.isdisjoint({n.pid for n in first})
    for node in second:
        assert ssh(own_lab, node, "true").returncode == 0
    own_lab.stop()
    assert all(_gone(n.pid) for n in second)


def test_starting_a_running_node_again_is_refused(own_lab: LabNodes) -> None:
    specs = default_specs(1, net="127.42.105")
    own_lab.start(specs)
    with pytest.raises(LabNodeError, match="already running"):
        own_lab.start(specs)


def test_stop_from_a_new_process_after_a_crash(tmp_path: Path) -> None:
    base = tmp_path / "lab"
    nodes = LabNodes(base)
    try:
        started = nodes.start(default_specs(2, net="127.42.106"))
        # Another process (``lab down`` after the test runner died) knows
        # nothing but the directory.
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from octavia_upgrade.lab.nodes import LabNodes; "
                              "LabNodes(sys.argv[1]).stop()", str(base)],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "engine")})
        assert done.returncode == 0, done.stderr
        for node in started:
            nodes._reap(node.pid)  # we are still their parent: collect the zombies
            assert _gone(node.pid)
    finally:
        nodes.stop()


def test_non_loopback_address_is_refused(own_lab: LabNodes) -> None:
    with pytest.raises(LabNodeError, match="not a loopback"):
        own_lab.start([NodeSpec("far", "192.0.2.10")])
    assert own_lab.running() == []


def test_blocked_node_times_out_and_comes_back(own_lab: LabNodes) -> None:
    (node,) = own_lab.start(default_specs(1, net="127.42.107"))
    own_lab.block(node.name)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            socket.create_connection((node.address, node.port), timeout=1.5).close()
        # A timeout, not a refusal: the node left the network, its sshd runs on.
        assert time.monotonic() - started >= 1.4
        assert node.alive()
        assert own_lab.blocked() == [node.name]
    finally:
        own_lab.unblock(node.name)
    assert own_lab.blocked() == []
    assert ssh(own_lab, node, "true").returncode == 0


def test_inventory_data_describes_the_nodes(lab_nodes: LabNodes) -> None:
    data = lab_nodes.inventory_data({"node1": ["api", "db-migrate"], "node2": ["worker"]},
                                    flavor="venv", deployment="lab", vars={"x": 1})
    assert data["kind"] == "Inventory"
    assert data["flavor"] == "venv" and data["deployment"] == "lab"
    assert data["ssh"]["known_hosts"] == str(lab_nodes.known_hosts)
    assert list(data["hosts"]) == ["node1", "node2"]
    node1 = lab_nodes.node("node1")
    assert data["hosts"]["node1"] == {
        "address": node1.address, "port": node1.port, "user": "root",
        "key_file": str(lab_nodes.client_key), "roles": ["api", "db-migrate"]}
    with pytest.raises(LabNodeError, match="nodeX"):
        lab_nodes.inventory_data({"nodeX": []}, flavor="venv", deployment="lab", vars={})


@pytest.mark.slow
def test_twenty_nodes_start_and_stop(own_lab: LabNodes, capsys: pytest.CaptureFixture[str]) -> None:
    started_at = time.monotonic()
    running = own_lab.start(default_specs(20, net="127.42.108"))
    elapsed = time.monotonic() - started_at
    rss_kib = 0
    for node in running:
        with open(f"/proc/{node.pid}/status", encoding="utf-8") as f:
            rss_kib += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with capsys.disabled():
        print(f"\n20 lab nodes started in {elapsed:.2f}s; sshd RSS total {rss_kib // 1024} MiB")
    assert len({n.pid for n in running}) == 20
    assert ssh(own_lab, running[-1], "echo $OCTAVIA_LAB_NODE").stdout == "node20\n"
    own_lab.stop()
    assert all(_gone(n.pid) for n in running)


def test_sigterm_of_sshd_is_detected_as_dead(own_lab: LabNodes) -> None:
    (node,) = own_lab.start(default_specs(1, net="127.42.109"))
    os.kill(node.pid, signal.SIGTERM)
    own_lab._reap(node.pid)
    assert not node.alive()
    own_lab.stop()
