"""The lab's load balancers: TCP and UDP, SINGLE and ACTIVE_STANDBY, and failovers.

A failover through the lab's real API replaces the amphorae; the amphora
emulation must follow (the new amphorae heartbeat, the health manager
records them, the load balancer is ACTIVE/ONLINE again), and a failover
whose worker hangs (``lab fault NODE stuck-failover``) must not complete
until the fault is cleared.
"""

from __future__ import annotations

import time

import pytest

from octavia_upgrade.lab import haproxy
from octavia_upgrade.lab.api import OctaviaApi

pytestmark = [pytest.mark.lab]


def _amphorae(api: OctaviaApi, lb_id: str) -> list[dict]:
    return [a for a in api.amphorae() if a.get("loadbalancer_id") == lb_id]


def test_the_lab_mixes_protocols_and_topologies(lab) -> None:  # type: ignore[no-untyped-def]
    st = lab.state()
    entries = st["loadbalancers"]
    assert [(e["protocol"], e["topology"]) for e in entries] == [
        ("HTTP", "SINGLE"), ("UDP", "ACTIVE_STANDBY"), ("TCP", "ACTIVE_STANDBY")]
    api = OctaviaApi(st["apis"][0])
    for e in entries:
        lb = api.loadbalancer(e["id"])
        assert (lb["provisioning_status"], lb["operating_status"]) == ("ACTIVE", "ONLINE")
        assert lb["vip_address"] == e["vip"]
        (listener,) = lb["listeners"]
        detail = api.get(f"/v2/lbaas/listeners/{listener['id']}")["listener"]
        assert detail["protocol"] == e["protocol"]
        amps = _amphorae(api, e["id"])
        if e["topology"] == "ACTIVE_STANDBY":
            assert sorted(a["role"] for a in amps) == ["BACKUP", "MASTER"]
        else:
            assert len(amps) == 1
        if e["served"]:  # through the lab's haproxy (HTTP, or a TCP frontend)
            assert haproxy.reachable(f"http://{e['vip']}:{st['datapath']['port']}/")
        else:
            assert e["protocol"] == "UDP"


def _health(lab, amphora_ids: set[str]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """amphora id → last heartbeat (epoch) as the health manager recorded it."""
    import pymysql

    from octavia_upgrade.lab.dbservers import MariaDBServer

    server = MariaDBServer.from_dict(lab.state()["mariadb"])
    conn = pymysql.connect(unix_socket=str(server.socket), user="root", database="octavia",
                           connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT amphora_id, UNIX_TIMESTAMP(last_update) FROM amphora_health")
            return {r[0]: float(r[1]) for r in cur.fetchall() if r[0] in amphora_ids}
    finally:
        conn.close()


def test_a_failover_completes_only_once_its_worker_runs_and_is_followed(lab) -> None:  # type: ignore[no-untyped-def]
    st = lab.state()
    entry = st["loadbalancers"][2]  # TCP, ACTIVE_STANDBY, served by haproxy
    api = OctaviaApi(st["apis"][0])
    old = {a["id"] for a in _amphorae(api, entry["id"])}
    nodes = st["nodes"]
    started = time.time()
    for node in nodes:
        lab.fault(node, "stuck-failover")
    try:
        api.request("PUT", f"/v2/lbaas/loadbalancers/{entry['id']}/failover")
        time.sleep(10)
        # a failover that never completes: nothing moves while the workers hang
        assert api.loadbalancer(entry["id"])["provisioning_status"] == "PENDING_UPDATE"
        assert {a["id"] for a in _amphorae(api, entry["id"])} >= old
    finally:
        for node in nodes:
            lab.fault(node, "clear")
    api.wait_lb(entry["id"], "ACTIVE", "ONLINE", timeout=300)
    new = {a["id"] for a in _amphorae(api, entry["id"])}
    assert len(new) == 2 and not new & old, (old, new)
    # the emulation follows: the new amphorae heartbeat and the health manager records them
    deadline = time.monotonic() + 90
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        seen = _health(lab, new)
        if set(seen) == new and min(seen.values()) > started:
            break
        time.sleep(3)
    assert set(seen) == new and min(seen.values()) > started, seen
    lb = api.wait_lb(entry["id"], "ACTIVE", "ONLINE", timeout=60)
    assert lb["operating_status"] == "ONLINE"
    assert haproxy.reachable(f"http://{entry['vip']}:{st['datapath']['port']}/")
