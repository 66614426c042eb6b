"""One load balancer's failover through the API: requested, waited for, measured.

Done means the load balancer is ``ACTIVE``/``ONLINE`` again and every live
amphora is ``ALLOCATED`` with at least one amphora id that was not there
before. ``ERROR`` or the timeout end it as failed. A load balancer already
``PENDING_UPDATE`` from this run (a failover in flight when an earlier
attempt stopped) is waited for, never failed over a second time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from octavia_upgrade.lbapi.client import ApiFailure, LbApi
from octavia_upgrade.lbapi.selection import GONE, Candidate
from octavia_upgrade.lbapi.vipprobe import VipProbe, connects, target

#: Seconds between two status reads while waiting.
POLL = 1.0


@dataclass
class FailoverResult:
    id: str
    name: str
    #: succeeded | failed | already (replaced earlier in this run) | not_started
    status: str
    canary: bool = False
    old_amphorae: tuple[str, ...] = ()
    new_amphorae: tuple[str, ...] = ()
    started_at: str | None = None
    duration: float | None = None
    vip: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    resumed: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "already")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "status": self.status, "canary": self.canary,
                "old_amphorae": list(self.old_amphorae), "new_amphorae": list(self.new_amphorae),
                "started_at": self.started_at, "duration": self.duration, "vip": self.vip,
                "error": self.error, "resumed": self.resumed}


def _live(amps: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [a for a in amps if str(a.get("status") or "").upper() not in GONE]


def fail_over(api: LbApi, cand: Candidate, lb: Mapping[str, Any],
              listeners: Iterable[Mapping[str, Any]], *, timeout: float, probe_vip: bool,
              probe_urls: Iterable[str] = (), cancel: threading.Event | None = None,
              canary: bool = False, in_flight: bool = False) -> FailoverResult:
    """Fail ``cand`` over (or, ``in_flight``, wait for the failover already running)."""
    cancel = cancel or threading.Event()
    res = FailoverResult(cand.id, cand.name, "failed", canary=canary,
                         old_amphorae=cand.amphorae, resumed=in_flight)
    probe = None
    where = target(lb, listeners, probe_urls) if probe_vip else None
    if not probe_vip:
        res.vip = {"probed": False, "note": "probe_vip: false"}
    elif where is None:
        res.vip = {"probed": False, "note": "no VIP address or TCP listener to probe"}
    elif not connects(*where):
        res.vip = {"probed": False, "target": f"{where[0]}:{where[1]}",
                   "note": "VIP not reachable from the operator machine before the failover"}
    else:
        probe = VipProbe(*where).start()
    start = time.monotonic()
    res.started_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")
    try:
        if not in_flight:
            api.failover(cand.id)
        res.status, res.new_amphorae, res.error = _wait(api, cand, timeout, cancel)
    except ApiFailure as exc:
        res.status, res.error = "failed", str(exc)
    finally:
        res.duration = round(time.monotonic() - start, 3)
        if probe is not None:
            res.vip = {"probed": True, **probe.stop().as_dict()}
    return res


def _wait(api: LbApi, cand: Candidate, timeout: float,
          cancel: threading.Event) -> tuple[str, tuple[str, ...], str]:
    deadline = time.monotonic() + timeout
    old = set(cand.amphorae)
    state = "not read"
    while True:
        lb = api.loadbalancer(cand.id)
        prov, oper = str(lb.get("provisioning_status")), str(lb.get("operating_status"))
        amps = _live(api.amphorae(cand.id))
        ids = tuple(sorted(str(a.get("id")) for a in amps))
        state = (f"{prov}/{oper}, amphorae "
                 + (", ".join(f"{str(a.get('id'))[:8]} {a.get('status')}" for a in amps)
                    or "none"))
        if prov == "ERROR":
            return "failed", ids, f"load balancer went to ERROR ({state})"
        replaced = bool(set(ids) - old) or not old
        if prov == "ACTIVE" and oper == "ONLINE" and replaced and amps and all(
                str(a.get("status")) == "ALLOCATED" for a in amps):
            return "succeeded", ids, ""
        if time.monotonic() >= deadline:
            return "failed", ids, f"not ACTIVE/ONLINE with new amphorae after {timeout:g}s ({state})"
        if cancel.wait(min(POLL, max(0.05, deadline - time.monotonic()))):
            return "failed", ids, f"interrupted while waiting ({state})"
