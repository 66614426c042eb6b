"""The lab's load balancers: what ``lab up --loadbalancers N`` creates, and how.

The first is the one every lab has: ``lab-lb1``, an HTTP listener on the
haproxy VIP, SINGLE topology. The others mix what the amphora data plane
offers, deterministically, so a lab of N is always the same lab:

====  ========  ==============
 i    listener  topology
====  ========  ==============
 2    UDP       ACTIVE_STANDBY
 3    TCP       ACTIVE_STANDBY
 4    UDP       SINGLE
 5    TCP       SINGLE
 ...  (repeats every four)
====  ========  ==============

Each is created through the real API with a listener, a pool, the two lab
members and a health monitor (``UDP-CONNECT`` for UDP, ``TCP`` for TCP).
A TCP load balancer's VIP is served by the lab's haproxy (a TCP frontend to
the same members); haproxy has no UDP, so a UDP VIP exists only in Octavia.
ACTIVE_STANDBY comes from an Octavia flavor (``loadbalancer_topology``),
created once. Standard library only, like :mod:`octavia_upgrade.lab.api`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from octavia_upgrade.lab.api import LAB_SUBNET, OctaviaApi

#: At most this many load balancers in one lab (VIPs .210 … .248 of the lab's /24).
MAX_LOADBALANCERS = 40
#: The extra load balancers' VIPs: ``NET.(VIP_BASE + i)``.
VIP_BASE = 208
#: Listener port of the UDP load balancers (no data path behind them).
UDP_PORT = 5353

FLAVOR_NAME = "lab-active-standby"


@dataclass(frozen=True)
class LbSpec:
    index: int
    name: str
    protocol: str  # HTTP | TCP | UDP
    topology: str  # SINGLE | ACTIVE_STANDBY
    vip: str

    @property
    def served(self) -> bool:
        """Whether the lab's haproxy serves this VIP (not for UDP)."""
        return self.protocol != "UDP"


def specs(net: str, count: int, first_vip: str) -> list[LbSpec]:
    """The ``count`` load balancers of a lab on ``net`` (pure)."""
    out = [LbSpec(1, "lab-lb1", "HTTP", "SINGLE", first_vip)]
    for i in range(2, count + 1):
        protocol = "UDP" if i % 2 == 0 else "TCP"
        topology = "ACTIVE_STANDBY" if ((i - 2) // 2) % 2 == 0 else "SINGLE"
        out.append(LbSpec(i, f"lab-lb{i}", protocol, topology, f"{net}.{VIP_BASE + i}"))
    return out


def active_standby_flavor(api: OctaviaApi) -> str:
    """Id of the lab's ACTIVE_STANDBY Octavia flavor (created the first time)."""
    for flavor in api.get("/v2/lbaas/flavors")["flavors"]:
        if flavor["name"] == FLAVOR_NAME:
            return str(flavor["id"])
    profile = api.post("/v2/lbaas/flavorprofiles", {"flavorprofile": {
        "name": FLAVOR_NAME, "provider_name": "amphora",
        "flavor_data": json.dumps({"loadbalancer_topology": "ACTIVE_STANDBY"})}})
    flavor = api.post("/v2/lbaas/flavors", {"flavor": {
        "name": FLAVOR_NAME, "flavor_profile_id": profile["flavorprofile"]["id"],
        "enabled": True}})
    return str(flavor["flavor"]["id"])


def create(api: OctaviaApi, spec: LbSpec, members: list[tuple[str, int]], port: int,
           timeout: float = 180.0) -> dict[str, Any]:
    """Create one TCP or UDP load balancer of ``spec``; return it once ACTIVE."""
    body: dict[str, Any] = {"name": spec.name, "vip_subnet_id": LAB_SUBNET,
                            "vip_address": spec.vip, "provider": "amphora"}
    if spec.topology == "ACTIVE_STANDBY":
        body["flavor_id"] = active_standby_flavor(api)
    lb_id = api.post("/v2/lbaas/loadbalancers", {"loadbalancer": body})["loadbalancer"]["id"]
    api.wait_lb(lb_id, timeout=timeout)
    listen_port = UDP_PORT if spec.protocol == "UDP" else port
    listener = api.post("/v2/lbaas/listeners", {"listener": {
        "name": f"{spec.name}-{spec.protocol.lower()}", "protocol": spec.protocol,
        "protocol_port": listen_port, "loadbalancer_id": lb_id}})["listener"]
    api.wait_lb(lb_id, timeout=timeout)
    pool = api.post("/v2/lbaas/pools", {"pool": {
        "name": f"{spec.name}-pool", "protocol": spec.protocol,
        "lb_algorithm": "ROUND_ROBIN", "listener_id": listener["id"]}})["pool"]
    api.wait_lb(lb_id, timeout=timeout)
    for i, (address, mport) in enumerate(members, 1):
        api.post(f"/v2/lbaas/pools/{pool['id']}/members", {"member": {
            "name": f"{spec.name}-member{i}", "address": address,
            "protocol_port": UDP_PORT if spec.protocol == "UDP" else mport,
            "subnet_id": LAB_SUBNET}})
        api.wait_lb(lb_id, timeout=timeout)
    api.post("/v2/lbaas/healthmonitors", {"healthmonitor": {
        "name": f"{spec.name}-hm", "pool_id": pool["id"],
        "type": "UDP-CONNECT" if spec.protocol == "UDP" else "TCP",
        "delay": 5, "timeout": 3, "max_retries": 3}})
    return api.wait_lb(lb_id, timeout=timeout)
