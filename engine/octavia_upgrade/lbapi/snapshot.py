"""Every load-balancer object with its statuses, and what changed between two snapshots.

Grenade checks an upgrade by comparing the resources it created before with
what the API shows after. A snapshot here is every load balancer, listener,
pool, member, health monitor and L7 policy the API lists, each with its
provisioning and operating status; :func:`compare` lists each object whose
status changed, that disappeared or that appeared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from octavia_upgrade.lbapi.client import LbApi

TYPES = ("loadbalancer", "listener", "pool", "member", "healthmonitor", "l7policy")


def _obj(kind: str, r: Mapping[str, Any], parent: str | None = None) -> dict[str, Any]:
    return {"type": kind, "id": str(r.get("id")), "name": r.get("name") or None,
            "parent": parent, "provisioning_status": r.get("provisioning_status"),
            "operating_status": r.get("operating_status")}


def take(api: LbApi) -> list[dict[str, Any]]:
    """Every object the API lists, load balancers first, members under their pool."""
    out = [_obj("loadbalancer", lb) for lb in api.loadbalancers()]
    out += [_obj("listener", x) for x in api.listeners()]
    pools = api.pools()
    out += [_obj("pool", p) for p in pools]
    for p in pools:
        out += [_obj("member", m, str(p.get("id"))) for m in api.members(str(p.get("id")))]
    out += [_obj("healthmonitor", h) for h in api.health_monitors()]
    out += [_obj("l7policy", p) for p in api.l7_policies()]
    return out


@dataclass(frozen=True)
class Change:
    type: str
    id: str
    name: str | None
    #: changed | disappeared | appeared
    change: str
    before: str | None  # "PROVISIONING/OPERATING"
    after: str | None

    def describe(self) -> str:
        what = f"{self.type} {self.name + ' ' if self.name else ''}{self.id}"
        if self.change == "changed":
            return f"{what}: {self.before} → {self.after}"
        if self.change == "disappeared":
            return f"{what} disappeared (was {self.before})"
        return f"{what} appeared ({self.after})"


def _status(o: Mapping[str, Any]) -> str:
    return f"{o.get('provisioning_status') or '-'}/{o.get('operating_status') or '-'}"


def compare(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]],
            ignore: Iterable[str] = ()) -> list[Change]:
    """Objects that changed status, disappeared or appeared (``ignore``: ids left out)."""
    skip = set(ignore)
    b = {(str(o.get("type")), str(o.get("id"))): o for o in before}
    a = {(str(o.get("type")), str(o.get("id"))): o for o in after}
    out = []
    for key, o in b.items():
        if key[1] in skip:
            continue
        if key not in a:
            out.append(Change(key[0], key[1], o.get("name"), "disappeared", _status(o), None))
        elif _status(a[key]) != _status(o):
            out.append(Change(key[0], key[1], o.get("name"), "changed", _status(o),
                              _status(a[key])))
    for key, o in a.items():
        if key not in b and key[1] not in skip:
            out.append(Change(key[0], key[1], o.get("name"), "appeared", None, _status(o)))
    order = {t: i for i, t in enumerate(TYPES)}
    return sorted(out, key=lambda c: (order.get(c.type, 99), c.change, c.id))
