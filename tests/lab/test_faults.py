"""Each fault kind has its observable effect, and ``clear`` undoes it (``lab.faults``)."""

from __future__ import annotations

import statistics
import time

import pytest

from octavia_upgrade.errors import InvalidInput, Refused
from octavia_upgrade.lab.procs import Proc
from octavia_upgrade.lab.shell import NodeShell

pytestmark = pytest.mark.lab


def _ssh_seconds(shell: NodeShell, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.monotonic()
        assert shell.run("true", timeout=60).rc == 0
        times.append(time.monotonic() - t)
    return statistics.median(times)


def test_unreachable_makes_ssh_time_out_and_clear_restores(lab):
    shell = lab.shell("node3")
    quick = NodeShell(shell.address, shell.port, shell.key_file, shell.known_hosts,
                      connect_timeout=2)
    try:
        lab.fault("node3", "unreachable")
        t = time.monotonic()
        res = quick.run("true", timeout=30)
        assert res.rc == 255 and "timed out" in res.stderr
        assert time.monotonic() - t >= 1.5
        # The node itself still runs: only the network is gone.
        assert all(n.alive() for n in lab._nodes().running())
        assert "unreachable" in [n for n in lab.status()["nodes"] if n["name"] == "node3"][0][
            "faults"]
    finally:
        lab.fault("node3", "clear")
    assert quick.run("true").rc == 0


def test_stuck_service_ignores_stop_until_killed(lab):
    shell = lab.shell("node3")
    unit = "octavia-housekeeping"
    parts = shell.check(f"cat /run/octavia/{unit}.pid").split()
    proc = Proc(unit, int(parts[0]), int(parts[1]))
    try:
        lab.fault("node3", "stuck-service", unit)
        res = shell.run(f"OCTAVIA_LAB_STOP_TIMEOUT=2 systemctl stop {unit}")
        assert res.rc == 1 and "did not exit" in res.stderr
        assert proc.alive()
        assert shell.run(f"systemctl is-active {unit}").rc == 0
    finally:
        lab.fault("node3", "clear")
    # Thawed, it gets the stop it was asked for meanwhile, and stops.
    deadline = time.monotonic() + 30
    while proc.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not proc.alive()
    assert shell.run(f"systemctl start {unit}").rc == 0
    assert shell.run(f"systemctl is-active {unit}").rc == 0


def test_stuck_service_is_killed_by_systemctl_kill(lab):
    shell = lab.shell("node2")
    unit = "octavia-driver-agent"
    parts = shell.check(f"cat /run/octavia/{unit}.pid").split()
    proc = Proc(unit, int(parts[0]), int(parts[1]))
    try:
        lab.fault("node2", "stuck-service", unit)
        assert shell.run(f"OCTAVIA_LAB_STOP_TIMEOUT=1 systemctl stop {unit}").rc == 1
        assert shell.run(f"systemctl kill -s KILL {unit}").rc == 0
        deadline = time.monotonic() + 10
        while proc.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not proc.alive()
    finally:
        lab.fault("node2", "clear")
    assert shell.run(f"systemctl start {unit}").rc == 0


def test_fail_migration_fails_upgrade_head_until_cleared(lab):
    shell = lab.shell("node1")
    manage = "/opt/octavia/venv/bin/octavia-db-manage --config-file /etc/octavia/octavia.conf"
    before = shell.check(f"{manage} current").strip().splitlines()[-1]
    try:
        lab.fault("node1", "fail-migration")
        res = shell.run(f"{manage} upgrade head")
        assert res.rc != 0
        assert "fault injected" in res.stdout + res.stderr
        # Other commands of the same tool still work: only the upgrade fails.
        assert shell.check(f"{manage} current").strip().splitlines()[-1] == before
    finally:
        lab.fault("node1", "clear")
    assert shell.run(f"{manage} upgrade head").rc == 0


def test_slow_adds_measurable_latency_to_new_ssh_connections(lab):
    shell = lab.shell("node2")
    base = _ssh_seconds(shell)
    try:
        lab.fault("node2", "slow", "100ms")
        slow = _ssh_seconds(shell)
    finally:
        lab.fault("node2", "clear")
    # An SSH login takes several round trips, each 2 x 100 ms slower now.
    assert slow - base >= 0.4, (base, slow)
    assert _ssh_seconds(shell) < slow - 0.3


def test_disk_full_makes_writes_fail_with_enospc(lab):
    shell = lab.shell("node2")
    shell.check("echo before > /var/log/octavia/lab-probe.txt")
    try:
        lab.fault("node2", "disk-full")
        res = shell.run("echo x > /var/log/octavia/new-file.txt")
        assert res.rc != 0 and "No space left on device" in res.stderr
        # Existing files are still readable; other nodes are not affected.
        assert shell.check("cat /var/log/octavia/lab-probe.txt").strip() == "before"
        assert lab.shell("node3").run("echo x > /var/log/octavia/new-file.txt").rc == 0
    finally:
        lab.fault("node2", "clear")
    assert shell.run("echo x >> /var/log/octavia/lab-probe.txt").rc == 0


def test_bad_fault_requests_are_refused_clearly(lab):
    with pytest.raises(InvalidInput, match="unknown fault"):
        lab.fault("node1", "meteor")
    with pytest.raises(InvalidInput, match="no running lab node"):
        lab.fault("node9", "slow")
    with pytest.raises(InvalidInput, match="unknown unit"):
        lab.fault("node1", "stuck-service", "octavia-nope")
    with pytest.raises(InvalidInput, match="must be between"):
        lab.fault("node1", "slow", "20s")
    with pytest.raises(InvalidInput, match="unknown mode 'sideways'"):
        lab.fault("node1", "fail-migration", "sideways")
    lab.fault("node1", "fail-migration")
    try:
        with pytest.raises(Refused, match="already has"):
            lab.fault("node1", "fail-migration")
    finally:
        lab.fault("node1", "clear")
