"""``amphora_failover``: replace the amphorae of selected load balancers through the API.

Runs once, on a health-manager host (whose health manager must be running:
a failover without one never completes). From the operator machine it
reads the load balancers through the Octavia API (``lbapi.settings``),
selects them by the step's filter, asks for an approval that lists them
(the data-plane impact stated), then fails them over: the canary first,
then ``max_concurrency`` at a time, stopping new failovers once
``max_errors`` is exceeded. Each waits for ACTIVE/ONLINE with new amphorae
within ``wait_timeout`` while its VIP is probed at 5 Hz.

The plan cannot know which load balancers will be selected: it states the
filter; the approval, the step's evidence and the report list them.

Resume: load balancers whose every amphora was created after the run
started were replaced already (by this step before it stopped): they are
reported as such and not failed over again; one still ``PENDING_UPDATE``
with such an amphora is waited for.
"""

from __future__ import annotations

import concurrent.futures as cf
from datetime import datetime, timezone
from typing import Any

from octavia_upgrade import templating
from octavia_upgrade.commands import PlannedCommand
from octavia_upgrade.lbapi.client import ApiFailure, LbApi
from octavia_upgrade.lbapi.failover import FailoverResult, fail_over
from octavia_upgrade.lbapi.rate import RateControl, concurrency, error_budget
from octavia_upgrade.lbapi.selection import Candidate, Filter, iso, parse_time, select
from octavia_upgrade.lbapi.settings import ApiSettings
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import AmphoraFailoverArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action

#: Stands for the run's start in a plan (the run's id, hence its start, is not known yet).
PLAN_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)

DEFAULT_IMPACT = ("each selected load balancer's VIP may stop answering for a few seconds "
                  "while its amphorae are replaced")


#: ``created_before: run-start``: amphorae older than this run (so older than an image
#: the run uploaded).
RUN_START = "run-start"


def build_filter(a: AmphoraFailoverArgs, ctx: dict[str, Any]) -> Filter:
    """The step's filter with its templates (``image_not``, ``created_before``) rendered."""
    image = templating.render_value(a.image_not, ctx).strip() if a.image_not else ""
    before = templating.render_value(a.created_before, ctx).strip() if a.created_before else ""
    try:
        if before == RUN_START:
            created = run_started(str(ctx["run"]["id"])) or PLAN_TIME
        else:
            created = parse_time(before) if before else None
    except ValueError:
        raise ValueError(f"created_before {before!r} is neither an ISO 8601 time "
                         f"nor {RUN_START}") from None
    return Filter(loadbalancers=tuple(a.loadbalancers), provider=a.provider or None,
                  topology=a.topology, listener_protocols=tuple(a.listener_protocols),
                  health_monitor_types=tuple(a.health_monitor_types),
                  image_not=image or None, created_before=created)


def run_started(run_id: str) -> datetime | None:
    """When the run started, from its id (``20261205-203011-ab12``, UTC)."""
    try:
        return datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def rate_words(a: AmphoraFailoverArgs) -> str:
    return (f"canary {a.canary} (one at a time), then max_concurrency {a.max_concurrency}, "
            f"max_errors {a.max_errors}; each waits for ACTIVE/ONLINE with new amphorae "
            f"up to {a.wait_timeout:g}s" + ("; VIP probed at 5 Hz" if a.probe_vip else ""))


class AmphoraFailover(Kind):
    name = "amphora_failover"
    placement = "once"
    once_role = "health-manager"

    def template_fields(self, args: Any) -> list[str]:
        return [t for t in (args.image_not, args.created_before) if t]

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        a: AmphoraFailoverArgs = step.args
        api = ApiSettings.from_vars(ctx.get("vars") or {})
        if deferred:
            words = ["filter completed with earlier steps' outputs when the step runs"]
        else:
            words = [w.replace(f"before {iso(PLAN_TIME)}", "before this run started")
                     for w in build_filter(a, ctx).describe()]
        check = action(flavor, "service_is_active", ctx,
                       unit=flavor.services["health-manager"], service="health-manager")
        return [
            PlannedCommand("status:health-manager", check,
                           note="exit 0 = running; failovers are refused otherwise"),
            PlannedCommand("select", "select load balancers through the Octavia API ("
                           f"{api.describe()}): " + "; ".join(words),
                           note="which load balancers match is known only when the step "
                                "runs: the approval and the report list them"),
            PlannedCommand("approval", "APPROVAL: fail over the selected load balancers",
                           note="lists every selected load balancer; the data-plane "
                                "impact is stated"),
            PlannedCommand("failover", "POST /v2/lbaas/loadbalancers/{id}/failover per "
                           "selected load balancer: " + rate_words(a)),
        ]

    def run(self, t: TaskContext) -> Outcome:
        a: AmphoraFailoverArgs = t.args
        res = t.run("status:health-manager", timeout=60)
        if res.rc != 0:
            return Outcome("failed", res.rc, res.stdout, res.stderr, message=(
                f"the health manager is not running on {t.host}: failovers refused "
                "(a failover never completes without a health manager)"))
        try:
            flt = build_filter(a, t.ctx)
            concurrency(a.max_concurrency, 1), error_budget(a.max_errors, 1)
        except ValueError as exc:
            return Outcome("failed", 2, message=f"invalid arguments: {exc}")
        api = LbApi(ApiSettings.from_vars(t.ctx.get("vars") or {}))
        t.record("select")
        try:
            return self._run(t, a, api, flt)
        except ApiFailure as exc:
            return Outcome("failed", 1, message=str(exc))

    def _run(self, t: TaskContext, a: AmphoraFailoverArgs, api: LbApi, flt: Filter) -> Outcome:
        since = run_started(str(t.ctx["run"]["id"]))
        lbs = api.loadbalancers()
        listeners = api.listeners()
        need_pools = bool(a.health_monitor_types)
        cands = select(flt, lbs, api.amphorae(), listeners,
                       api.pools() if need_pools else (),
                       api.health_monitors() if need_pools else (), fresh_since=since)
        summary: dict[str, Any] = {
            "filter": flt.describe(), "api": api.settings.describe(),
            "selected": [{"id": c.id, "name": c.name, "why": list(c.reasons)} for c in cands],
            "rate": {"canary": a.canary, "max_concurrency": str(a.max_concurrency),
                     "max_errors": str(a.max_errors), "wait_timeout": a.wait_timeout}}
        if not cands:
            msg = "no load balancer matches the filter: " + "; ".join(flt.describe())
            out = Outcome("failed" if a.fail_if_none else "succeeded", 1 if a.fail_if_none else 0,
                          msg, "", {"selected": 0, "succeeded": 0, "failed": 0},
                          message=msg if a.fail_if_none else "")
            out.evidence.append(("amphora_failover", {**summary, "results": [],
                                                      "totals": _totals([])}))
            return out
        active = [c for c in cands if c.provisioning_status == "ACTIVE"]
        fresh = [c for c in active if c.fresh]
        todo = [c for c in active if not c.fresh]
        # Not ACTIVE with an amphora created during this run, or not ACTIVE when this
        # step runs again after it was in flight as the run stopped (the worker may not
        # have begun the failover it was asked for): a failover this step requested
        # before it stopped. Waited for, never requested again.
        resumed = bool(t.ctx.get("rerun_unknown"))
        in_flight = [c for c in cands if c.provisioning_status.startswith("PENDING_")
                     and (c.touched or resumed)]
        blocked = [c for c in cands if c not in active and c not in in_flight]
        if blocked:
            names = ", ".join(f"{c.name or c.id} ({c.provisioning_status})" for c in blocked)
            msg = (f"refused: selected load balancer(s) not ACTIVE: {names}; nothing was failed "
                   "over (run again once they are ACTIVE)")
            out = Outcome("failed", 1, "", "", message=msg)
            out.evidence.append(("amphora_failover", {**summary, "refused": msg,
                                                      "results": [], "totals": _totals([])}))
            return out
        lines = [f"- {c.name or '(no name)'} {c.id}: {', '.join(c.reasons)}"
                 + (" [already replaced in this run]" if c.fresh else "") for c in cands]
        t.record("approval")
        impact = t.step.data_plane_impact or DEFAULT_IMPACT
        approved = t.approver(t.step, (
            f"Fail over {len(todo)} load balancer(s) through the Octavia API "
            f"({rate_words(a)}):\n" + "\n".join(lines)), impact)
        t.record("failover")
        by_id = {str(lb.get("id")): lb for lb in lbs}
        results = [FailoverResult(c.id, c.name, "already", old_amphorae=c.amphorae,
                                  new_amphorae=c.amphorae, resumed=True,
                                  error="every amphora was created after the run started: "
                                        "replaced earlier in this run, not failed over again")
                   for c in fresh]
        results += self._execute(t, a, api, in_flight, todo, by_id, listeners)
        if t.cancel.is_set():
            raise KeyboardInterrupt
        totals = _totals(results)
        evidence = {**summary, "results": [r.as_dict() for r in results], "totals": totals,
                    "approved_by": approved.user, "data_plane_impact": impact}
        failed = [r for r in results if r.status == "failed"]
        text = _text(results, totals)
        outputs = {"selected": len(cands), "succeeded": totals["succeeded"],
                   "failed": totals["failed"], "loadbalancers": [r.id for r in results]}
        if not failed and not totals["not_started"]:
            out = Outcome("succeeded", 0, text, "", outputs)
        elif not totals["not_started"] and len(failed) <= error_budget(a.max_errors, len(todo)):
            out = Outcome("succeeded", 0, text, "", outputs, message=(
                f"{len(failed)} failover(s) failed, within max_errors {a.max_errors}"))
        else:
            why = ("the canary failed" if any(r.canary and r.status == "failed" for r in results)
                   else f"{len(failed)} failover(s) failed, more than max_errors {a.max_errors}")
            out = Outcome("failed", 1, text, "", outputs, message=(
                f"{why}; {totals['not_started']} load balancer(s) not failed over"))
        out.evidence.append(("amphora_failover", evidence))
        return out

    def _execute(self, t: TaskContext, a: AmphoraFailoverArgs, api: LbApi,
                 in_flight: list[Candidate], todo: list[Candidate],
                 by_id: dict[str, Any], listeners: list[dict[str, Any]]) -> list[FailoverResult]:
        probe_urls = [str(u) for u in t.ctx.get("probe_urls") or ()]
        common = {"timeout": a.wait_timeout, "probe_vip": a.probe_vip,
                  "probe_urls": probe_urls, "cancel": t.cancel}
        results = [fail_over(api, c, by_id[c.id], listeners, in_flight=True, **common)
                   for c in in_flight]
        rate = RateControl(len(todo), a.canary, a.max_concurrency, a.max_errors)
        queue = list(todo)
        running: dict[cf.Future[FailoverResult], Candidate] = {}
        with cf.ThreadPoolExecutor(max_workers=rate.limit, thread_name_prefix="failover") as pool:
            while queue or running:
                while queue and not t.cancel.is_set() and rate.may_start(len(running)):
                    c = queue.pop(0)
                    canary = rate.started < rate.canary
                    rate.start()
                    running[pool.submit(fail_over, api, c, by_id[c.id], listeners,
                                        canary=canary, **common)] = c
                if not running:
                    break
                done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    running.pop(fut)
                    r = fut.result()
                    rate.finish(r.ok)
                    results.append(r)
        results += [FailoverResult(c.id, c.name, "not_started", old_amphorae=c.amphorae,
                                   error="not started: " + (
                                       "the canary failed" if rate.canary_failed else
                                       "max_errors exceeded" if rate.exceeded else
                                       "interrupted")) for c in queue]
        return results


def _totals(results: list[FailoverResult]) -> dict[str, Any]:
    done = [r for r in results if r.status in ("succeeded", "failed")]
    probed = [r.vip for r in done if r.vip.get("probed")]
    return {
        "selected": len(results),
        "succeeded": sum(1 for r in results if r.status == "succeeded"),
        "failed": sum(1 for r in results if r.status == "failed"),
        "already": sum(1 for r in results if r.status == "already"),
        "not_started": sum(1 for r in results if r.status == "not_started"),
        "longest_duration": max((r.duration or 0.0 for r in done), default=None),
        "vip_probed": len(probed),
        "min_availability": min((float(v["availability"]) for v in probed
                                 if v.get("availability") is not None), default=None),
        "longest_gap": max((float(v["longest_gap"]) for v in probed), default=None),
    }


def _text(results: list[FailoverResult], totals: dict[str, Any]) -> str:
    rows = []
    for r in results:
        vip = r.vip
        vip_text = (f"VIP {vip['availability']}% up, longest gap {vip['longest_gap']}s"
                    if vip.get("probed") else f"VIP not probed ({vip.get('note', '')})")
        rows.append(f"{r.status:11} {r.name or r.id} {r.id}: "
                    f"{','.join(a[:8] for a in r.old_amphorae) or '-'} -> "
                    f"{','.join(a[:8] for a in r.new_amphorae) or '-'}"
                    + (f" in {r.duration:g}s" if r.duration is not None else "")
                    + f"; {vip_text}" + (f"; {r.error}" if r.error else ""))
    rows.append(f"{totals['succeeded']} succeeded, {totals['failed']} failed, "
                f"{totals['already']} already replaced, {totals['not_started']} not started")
    return "\n".join(rows)


KINDS = {"amphora_failover": AmphoraFailover()}
