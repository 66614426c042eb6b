"""Which load balancers an ``amphora_failover`` filter selects: pure, over API records.

The filters combine with AND; a list filter matches when any of its values
does (``listener_protocols: [UDP, TERMINATED_HTTPS]``: a load balancer with a
UDP *or* a TLS-terminated listener). Amphora filters (``image_not``,
``created_before``) match when any live amphora of the load balancer does.
Topology is read from the amphorae's roles (``STANDALONE`` → ``SINGLE``,
``MASTER``/``BACKUP`` → ``ACTIVE_STANDBY``), since the API does not state it.

The Octavia API does not expose the amphora agent's version; amphorae built
before an agent change are selected by ``image_not`` (the new image) or
``created_before`` (when the new image was uploaded) instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

#: Amphorae in these states no longer serve and are ignored.
GONE = ("DELETED", "ERROR", "PENDING_DELETE")


@dataclass(frozen=True)
class Filter:
    loadbalancers: tuple[str, ...] = ()
    provider: str | None = None
    topology: str | None = None
    listener_protocols: tuple[str, ...] = ()
    health_monitor_types: tuple[str, ...] = ()
    image_not: str | None = None
    created_before: datetime | None = None

    def describe(self) -> list[str]:
        """The filter in words, one criterion per item (for plans and reports)."""
        out = []
        if self.loadbalancers:
            out.append("load balancer id in " + ", ".join(self.loadbalancers))
        if self.provider:
            out.append(f"provider {self.provider}")
        if self.topology:
            out.append(f"topology {self.topology}")
        if self.listener_protocols:
            out.append("a listener of protocol " + " or ".join(self.listener_protocols))
        if self.health_monitor_types:
            out.append("a health monitor of type " + " or ".join(self.health_monitor_types))
        if self.image_not:
            out.append(f"an amphora whose image is not {self.image_not}")
        if self.created_before:
            out.append(f"an amphora created before {iso(self.created_before)}")
        return out or ["every load balancer"]


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    provisioning_status: str
    operating_status: str
    amphorae: tuple[str, ...]
    #: True when every amphora was created at or after ``fresh_since`` (already replaced).
    fresh: bool = False
    #: True when some amphora was created at or after ``fresh_since`` (a failover began).
    touched: bool = False
    reasons: tuple[str, ...] = field(default=())


def parse_time(value: Any) -> datetime | None:
    """An API or operator time (``2026-12-05T20:26:34``, ``...Z``, ``+00:00``) in UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def topology_of(amphorae: Sequence[Mapping[str, Any]]) -> str | None:
    roles = {str(a.get("role") or "").upper() for a in amphorae}
    if roles & {"MASTER", "BACKUP"}:
        return "ACTIVE_STANDBY"
    if "STANDALONE" in roles:
        return "SINGLE"
    return None


def _ids(items: Any) -> list[str]:
    return [str(i.get("id")) if isinstance(i, Mapping) else str(i) for i in items or ()]


def select(flt: Filter, lbs: Iterable[Mapping[str, Any]], amphorae: Iterable[Mapping[str, Any]],
           listeners: Iterable[Mapping[str, Any]] = (), pools: Iterable[Mapping[str, Any]] = (),
           monitors: Iterable[Mapping[str, Any]] = (),
           fresh_since: datetime | None = None) -> list[Candidate]:
    """The load balancers ``flt`` selects, in the API's order."""
    amps_of: dict[str, list[Mapping[str, Any]]] = {}
    for a in amphorae:
        if str(a.get("status") or "").upper() in GONE or not a.get("loadbalancer_id"):
            continue
        amps_of.setdefault(str(a["loadbalancer_id"]), []).append(a)
    protocol = {str(x.get("id")): str(x.get("protocol") or "").upper() for x in listeners}
    hm_type = {str(x.get("id")): str(x.get("type") or "").upper() for x in monitors}
    hm_of_pool = {str(p.get("id")): str(p.get("health_monitor_id") or "") for p in pools}
    wanted_protocols = {p.upper() for p in flt.listener_protocols}
    wanted_hm = {t.upper() for t in flt.health_monitor_types}
    out = []
    for lb in lbs:
        lb_id = str(lb.get("id"))
        amps = amps_of.get(lb_id, [])
        reasons: list[str] = []
        if flt.loadbalancers and lb_id not in flt.loadbalancers and \
                str(lb.get("name")) not in flt.loadbalancers:
            continue
        if flt.provider and str(lb.get("provider") or "") != flt.provider:
            continue
        if flt.topology:
            if topology_of(amps) != flt.topology.upper():
                continue
            reasons.append(f"topology {flt.topology.upper()}")
        if wanted_protocols:
            found = sorted({protocol.get(i, "") for i in _ids(lb.get("listeners"))}
                           & wanted_protocols)
            if not found:
                continue
            reasons.append("listener " + "/".join(found))
        if wanted_hm:
            found = sorted({hm_type.get(hm_of_pool.get(p, ""), "")
                            for p in _ids(lb.get("pools"))} & wanted_hm)
            if not found:
                continue
            reasons.append("health monitor " + "/".join(found))
        if flt.image_not:
            old = [a for a in amps if str(a.get("image_id") or "") != flt.image_not]
            if not old:
                continue
            reasons.append(f"{len(old)} amphora(e) not on image {flt.image_not}")
        if flt.created_before:
            limit = flt.created_before
            old = [a for a in amps if (parse_time(a.get("created_at")) or limit) < limit]
            if not old:
                continue
            reasons.append(f"{len(old)} amphora(e) created before {iso(limit)}")
        created = [parse_time(a.get("created_at")) for a in amps]
        new = [c is not None and fresh_since is not None and c >= fresh_since for c in created]
        fresh, touched = bool(new) and all(new), any(new)
        out.append(Candidate(
            id=lb_id, name=str(lb.get("name") or ""),
            provisioning_status=str(lb.get("provisioning_status") or ""),
            operating_status=str(lb.get("operating_status") or ""),
            amphorae=tuple(sorted(str(a.get("id")) for a in amps)), fresh=fresh, touched=touched,
            reasons=tuple(reasons) or ("listed" if flt.loadbalancers else "matches",)))
    return out
