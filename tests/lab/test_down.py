"""``lab down`` leaves no process, mount or listening port behind (``lab.core``).

Runs after every other test of the session (marker ``lab_down_last``) because
it takes the shared lab down; the fixture's own finalizer is then a no-op,
which also shows that ``down`` is safe to run twice.
"""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from octavia_upgrade.lab.faults import nat_table
from octavia_upgrade.lab.procs import Proc

pytestmark = [pytest.mark.lab, pytest.mark.lab_down_last]


def _listening() -> set[tuple[str, int, str]]:
    """(address, port, proto) of every listening TCP / bound UDP IPv4 socket."""
    out = set()
    for proto, path, state in (("tcp", "/proc/net/tcp", "0A"), ("udp", "/proc/net/udp", "07")):
        with open(path, encoding="ascii") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] != state:
                    continue
                addr_hex, port_hex = fields[1].split(":")
                addr = socket.inet_ntoa(bytes.fromhex(addr_hex)[::-1])
                out.add((addr, int(port_hex, 16), proto))
    return out


def _namespace_pids(mnt_ns: str) -> list[Proc]:
    procs = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/mnt") == mnt_ns:
                    procs.append(Proc.of("in-node", int(entry)))
            except OSError:
                continue
    return procs


def test_down_leaves_no_process_mount_or_port(lab):
    st = lab.state()
    nodes = lab._nodes().running()
    procs = [*lab._recorded_procs(st), *lab._service_procs(st),
             *(Proc(n.name, n.pid, n.started) for n in nodes)]
    for n in nodes:
        procs.extend(_namespace_pids(n.mnt_ns))
    assert len(procs) > 15 and all(p.alive() for p in lab._recorded_procs(st))
    node_addrs = {n.address for n in nodes}
    dp = st["datapath"]
    lab_addrs = node_addrs | {dp["vip"], *(a for a, _ in dp["members"])}
    infra_ports = {st["mariadb"]["port"], st["rabbitmq"]["port"],
                   st["rabbitmq"]["dist_port"], st["rabbitmq"]["epmd_port"]}

    def ours(sockets):
        return {s for s in sockets
                if s[0] in lab_addrs or (s[0] == "127.0.0.1" and s[1] in infra_ports)}

    before = ours(_listening())
    # Sanity: the check does see the lab's sockets while it is up.
    assert ("127.0.0.1", st["mariadb"]["port"], "tcp") in before
    assert any(s[2] == "udp" and s[1] == 5555 for s in before)
    assert sum(1 for s in before if s[1] == 9876) == len(nodes)

    lab_dir = str(lab.dir)
    nodes_table = lab._nodes().nft_table
    left = lab.down()
    assert left == []
    assert [p for p in procs if p.alive()] == []
    with open("/proc/mounts", encoding="utf-8") as f:
        assert lab_dir not in f.read()
    assert ours(_listening()) == set()
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert nodes_table not in tables and nat_table(lab.dir) not in tables
    assert not lab.dir.exists()
    # Safe to run twice.
    assert lab.down(quiet=True) == []
