"""A small client for the real Octavia v2 API of a lab node (``noauth``).

With ``auth_strategy = noauth`` the API takes the project from the
``X-Project-Id`` header. The lab uses it the way Octavia's Grenade job does:
create a load balancer with a listener, a pool, two members and a health
monitor before an upgrade, then check them (and create another) afterwards.
Standard library only: the lab needs nothing else to talk to the API.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

PROJECT = "lab"

#: Any UUID works as the VIP subnet with the no-op network driver.
LAB_SUBNET = "8f3c5b9e-3d7a-4b0e-9a57-1ab0c1a0b001"


class ApiError(RuntimeError):
    """The API answered with an error or not at all."""


@dataclass(frozen=True)
class OctaviaApi:
    base_url: str
    project: str = PROJECT
    timeout: float = 10.0

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base_url.rstrip("/") + path, data=data, method=method,
            headers={"X-Project-Id": self.project, "Accept": "application/json",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise ApiError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        except OSError as exc:
            raise ApiError(f"{method} {path}: {exc}") from None
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    # -- reads --------------------------------------------------------------------

    def ready(self) -> bool:
        """True when ``GET /`` (version discovery) answers."""
        try:
            self.get("/")
        except ApiError:
            return False
        return True

    def loadbalancers(self) -> list[dict[str, Any]]:
        return list(self.get("/v2/lbaas/loadbalancers")["loadbalancers"])

    def loadbalancer(self, lb_id: str) -> dict[str, Any]:
        return dict(self.get(f"/v2/lbaas/loadbalancers/{lb_id}")["loadbalancer"])

    def amphorae(self) -> list[dict[str, Any]]:
        return list(self.get("/v2/octavia/amphorae")["amphorae"])

    def status_tree(self, lb_id: str) -> dict[str, Any]:
        return dict(self.get(f"/v2/lbaas/loadbalancers/{lb_id}/status")["statuses"])

    # -- writes -------------------------------------------------------------------

    def wait_lb(self, lb_id: str, provisioning: str = "ACTIVE", operating: str | None = None,
                timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the LB reaches ``provisioning`` (and ``operating`` if given).

        Raises:
            ApiError: the LB went to ERROR or the wait timed out.
        """
        deadline = time.monotonic() + timeout
        lb: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                lb = self.loadbalancer(lb_id)
            except ApiError:
                time.sleep(1)
                continue
            if lb["provisioning_status"] == "ERROR":
                raise ApiError(f"load balancer {lb_id} went to ERROR")
            if lb["provisioning_status"] == provisioning and (
                    operating is None or lb["operating_status"] == operating):
                return lb
            time.sleep(0.5)
        raise ApiError(f"load balancer {lb_id} is {lb.get('provisioning_status')}/"
                       f"{lb.get('operating_status')} after {timeout:.0f}s, expected "
                       f"{provisioning}/{operating or 'any'}")

    def create_full_lb(self, name: str, vip_address: str, members: list[tuple[str, int]],
                       port: int = 80, timeout: float = 180.0) -> dict[str, Any]:
        """A load balancer like Grenade's: listener, pool, members, HTTP health monitor.

        Each child is created once the LB is ACTIVE again (the API refuses
        changes while it is PENDING_UPDATE). Returns the ACTIVE load balancer.
        """
        lb = self.post("/v2/lbaas/loadbalancers", {"loadbalancer": {
            "name": name, "vip_subnet_id": LAB_SUBNET, "vip_address": vip_address,
            "provider": "amphora"}})["loadbalancer"]
        lb_id = lb["id"]
        self.wait_lb(lb_id, timeout=timeout)
        listener = self.post("/v2/lbaas/listeners", {"listener": {
            "name": f"{name}-http", "protocol": "HTTP", "protocol_port": port,
            "loadbalancer_id": lb_id}})["listener"]
        self.wait_lb(lb_id, timeout=timeout)
        pool = self.post("/v2/lbaas/pools", {"pool": {
            "name": f"{name}-pool", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "listener_id": listener["id"]}})["pool"]
        self.wait_lb(lb_id, timeout=timeout)
        for i, (address, mport) in enumerate(members, 1):
            self.post(f"/v2/lbaas/pools/{pool['id']}/members", {"member": {
                "name": f"{name}-member{i}", "address": address, "protocol_port": mport,
                "subnet_id": LAB_SUBNET}})
            self.wait_lb(lb_id, timeout=timeout)
        self.post("/v2/lbaas/healthmonitors", {"healthmonitor": {
            "name": f"{name}-hm", "pool_id": pool["id"], "type": "HTTP", "delay": 5,
            "timeout": 3, "max_retries": 3, "http_method": "GET", "url_path": "/",
            "expected_codes": "200"}})
        return self.wait_lb(lb_id, timeout=timeout)
