"""Grenade-style checks through the Octavia API: ``lb_snapshot`` and ``canary``.

``lb_snapshot`` records every load balancer, listener, pool, member, health
monitor and L7 policy with its provisioning and operating status; the
execution report compares a run's first and last snapshots and lists each
object that changed status, disappeared or appeared as a deviation. Take one
before the outage and one once the API is back.

``canary`` creates a load balancer with a listener, a pool and a member,
waits for ACTIVE/ONLINE, and deletes it (cascade) whatever happened: the
control plane builds new load balancers after the upgrade. Its objects are
left out of the snapshot comparison.

Both run on the operator machine, through the API named in the inventory
(``lbapi.settings``).
"""

from __future__ import annotations

import time
from typing import Any

from octavia_upgrade import templating
from octavia_upgrade.commands import PlannedCommand
from octavia_upgrade.lbapi.client import ApiFailure, LbApi
from octavia_upgrade.lbapi.settings import ApiSettings
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import CanaryArgs, LbSnapshotArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext

#: Seconds between two status reads.
POLL = 1.0


def _api(ctx: dict[str, Any]) -> LbApi:
    return LbApi(ApiSettings.from_vars(ctx.get("vars") or {}))


class LbSnapshot(Kind):
    name = "lb_snapshot"
    placement = "local"

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        api = ApiSettings.from_vars(ctx.get("vars") or {})
        return [PlannedCommand("snapshot", f"list load balancers, listeners, pools, members, "
                               f"health monitors and L7 policies ({api.describe()})",
                               note=f"recorded as the {step.args.label!r} snapshot")]

    def run(self, t: TaskContext) -> Outcome:
        from octavia_upgrade.lbapi import snapshot

        a: LbSnapshotArgs = t.args
        t.record("snapshot")
        try:
            objects = snapshot.take(_api(t.ctx))
        except ApiFailure as exc:
            return Outcome("failed", 1, message=str(exc))
        counts: dict[str, int] = {}
        for o in objects:
            counts[o["type"]] = counts.get(o["type"], 0) + 1
        text = ", ".join(f"{n} {k}(s)" for k, n in counts.items()) or "no objects"
        out = Outcome("succeeded", 0, f"{a.label}: {text}", "", {"counts": counts})
        out.evidence.append(("lb_objects", {"label": a.label, "objects": objects,
                                            "counts": counts}))
        return out


class Canary(Kind):
    name = "canary"
    placement = "local"

    def template_fields(self, args: Any) -> list[str]:
        return [args.vip_subnet_id]

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        a: CanaryArgs = step.args
        api = ApiSettings.from_vars(ctx.get("vars") or {})
        subnet = a.vip_subnet_id if deferred else templating.render_value(a.vip_subnet_id, ctx)
        return [
            PlannedCommand("create", f"create load balancer octavia-upgrade-canary-<run id> "
                           f"({a.provider}, VIP subnet {subnet}) with a {a.protocol} listener "
                           f"on port {a.port}, a pool and member {a.member_address}:"
                           f"{a.member_port} ({api.describe()})",
                           note=f"each stage waits for ACTIVE, up to {a.wait_timeout:g}s"),
            PlannedCommand("wait", "wait for the load balancer ACTIVE/ONLINE"),
            PlannedCommand("delete", "delete the load balancer (cascade) and wait until gone",
                           note="always, also when a stage failed"),
        ]

    def run(self, t: TaskContext) -> Outcome:
        a: CanaryArgs = t.args
        api = _api(t.ctx)
        name = f"octavia-upgrade-canary-{t.ctx['run']['id']}"
        subnet = templating.render_value(a.vip_subnet_id, t.ctx).strip()
        times: dict[str, float] = {}
        start = time.monotonic()
        lb_id, error = None, ""
        t.record("create")
        try:
            lb = api.create("load_balancer", name=name, vip_subnet_id=subnet,
                            provider=a.provider)
            lb_id = str(lb["id"])
            self._active(t, api, lb_id, a, times, "loadbalancer", start)
            ls = api.create("listener", name=name, protocol=a.protocol,
                            protocol_port=a.port, load_balancer_id=lb_id)
            self._active(t, api, lb_id, a, times, "listener", start)
            pool = api.create("pool", name=name, protocol=a.protocol,
                              lb_algorithm="ROUND_ROBIN", listener_id=ls["id"])
            self._active(t, api, lb_id, a, times, "pool", start)
            api.create_member(str(pool["id"]), name=name, address=a.member_address,
                              protocol_port=a.member_port, subnet_id=subnet)
            self._active(t, api, lb_id, a, times, "member", start)
            t.record("wait")
            self._active(t, api, lb_id, a, times, "online", start, online=True)
        except (ApiFailure, TimeoutError) as exc:
            error = str(exc)
        deleted = False
        if lb_id:
            t.record("delete")
            try:
                deleted = self._delete(t, api, lb_id, a)
                times["deleted"] = round(time.monotonic() - start, 3)
            except (ApiFailure, TimeoutError) as exc:
                error = error or f"canary {lb_id} not deleted: {exc}"
        info = {"name": name, "id": lb_id, "seconds": times, "deleted": deleted,
                "error": error}
        ok = not error and deleted
        text = (f"canary {name} {lb_id}: ACTIVE/ONLINE after {times.get('online', '-')}s, "
                f"deleted: {'yes' if deleted else 'NO'}" + (f"; {error}" if error else ""))
        out = Outcome("succeeded" if ok else "failed", 0 if ok else 1, text, "",
                      {"id": lb_id, "online_after": times.get("online")},
                      message="" if ok else (error or f"canary {lb_id} was not deleted"))
        out.evidence.append(("canary", info))
        return out

    @staticmethod
    def _active(t: TaskContext, api: LbApi, lb_id: str, a: CanaryArgs,
                times: dict[str, float], stage: str, start: float,
                online: bool = False) -> None:
        deadline = time.monotonic() + a.wait_timeout
        while True:
            lb = api.loadbalancer(lb_id)
            prov, oper = lb.get("provisioning_status"), lb.get("operating_status")
            if prov == "ERROR":
                raise TimeoutError(f"canary {lb_id} went to ERROR after the {stage}")
            if prov == "ACTIVE" and (not online or oper == "ONLINE"):
                times[stage] = round(time.monotonic() - start, 3)
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"canary {lb_id} is {prov}/{oper} {a.wait_timeout:g}s after "
                                   f"the {stage}, expected ACTIVE" + ("/ONLINE" if online else ""))
            t.sleep(POLL)

    @staticmethod
    def _delete(t: TaskContext, api: LbApi, lb_id: str, a: CanaryArgs) -> bool:
        deadline = time.monotonic() + a.wait_timeout
        while True:
            prov = None
            try:
                prov = api.loadbalancer(lb_id).get("provisioning_status")
            except ApiFailure as exc:
                if "HTTP 404" in str(exc):
                    return True
                raise
            if prov == "DELETED":
                return True
            if prov in ("ACTIVE", "ERROR"):
                api.delete_loadbalancer(lb_id)
            if time.monotonic() > deadline:
                raise TimeoutError(f"still {prov} after {a.wait_timeout:g}s")
            t.sleep(POLL)


KINDS = {"lb_snapshot": LbSnapshot(), "canary": Canary()}
