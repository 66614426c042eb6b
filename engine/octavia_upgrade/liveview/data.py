"""What the live page shows, as JSON-ready data read from the state database.

Only what an observer needs: runs, their steps' status and timing per host,
the current step, waiting approvals and who may give them, decisions, run
events, the control-plane API's state and VIP availability. Never the
parameters, the plan, the commands sent or their output.
"""

from __future__ import annotations

from typing import Any

from octavia_upgrade.state import isoformat
from octavia_upgrade.statuses import ResultStatus, RunStatus


def runs(store: Any) -> list[dict[str, Any]]:
    """Every run, newest first."""
    out = []
    for r in reversed(store.list_runs()):
        out.append({"id": r.id, "runbook": r.runbook_name, "deployment": r.deployment,
                    "from": r.from_release, "to": r.to_release, "status": str(r.status),
                    "started": isoformat(r.started_at), "ended": isoformat(r.ended_at),
                    "change": r.change_id, "paused_by": r.paused_by})
    return out


def run_detail(store: Any, run_id: str) -> dict[str, Any]:
    """One run's live view (InvalidInput when unknown)."""
    from octavia_upgrade.reports import evidence as ev

    run = store.get_run(run_id)
    results = store.results(run_id)
    latest: dict[tuple[str, str], Any] = {}
    for r in results:
        latest[(r.step_id, r.host)] = r
    order = _step_order(run)
    steps: dict[str, dict[str, Any]] = {}
    for (sid, host), r in sorted(latest.items(), key=lambda kv: (order.get(kv[0][0], 1e9),
                                                                  kv[1].started_at)):
        s = steps.setdefault(sid, {"id": sid, "phase": r.phase, "hosts": [],
                                   "started": isoformat(r.started_at)})
        s["hosts"].append({"host": r.host, "status": str(r.status), "attempt": r.attempt,
                           "started": isoformat(r.started_at), "ended": isoformat(r.ended_at),
                           "duration": r.duration, "message": r.message.splitlines()[0]
                           if r.message else ""})
    for s in steps.values():
        states = {h["status"] for h in s["hosts"]}
        s["status"] = (ResultStatus.RUNNING.value if ResultStatus.RUNNING in states else
                       next((x for x in ("failed", "timed_out", "unreachable", "unknown")
                             if x in states), sorted(states)[0] if states else ""))
    current = [s["id"] for s in steps.values() if s["status"] == ResultStatus.RUNNING]
    waiting = [{"step_id": w.step_id, "message": w.message, "since": isoformat(w.requested_at),
                "who_may_approve": w.who_may_approve(), "expires": isoformat(w.expires_at),
                "data_plane_impact": w.data_plane_impact}
               for w in store.approval_requests(run_id)]
    decisions = [{"step_id": a.step_id, "decision": a.decision, "by": a.identity or a.user,
                  "how": a.how, "from": a.origin, "at": isoformat(a.approved_at),
                  "comment": a.comment} for a in store.approvals(run_id)]
    events = [{"at": isoformat(e.at), "kind": e.kind,
               "details": ", ".join(f"{k}={v}" for k, v in e.data.items()
                                    if isinstance(v, (str, int, float, bool)))}
              for e in store.events(run_id)]
    down = ev.downtime(store.evidence(run_id), results)
    api = _api_state(run, down)
    probes = [{"probe": p.probe, "availability": p.availability, "samples": p.samples,
               "failures": p.failures, "last": p.last_at}
              for p in ev.probe_stats(store.probe_samples(run_id))]
    return {"run": {"id": run.id, "runbook": run.runbook_name, "deployment": run.deployment,
                    "from": run.from_release, "to": run.to_release, "status": str(run.status),
                    "started": isoformat(run.started_at), "ended": isoformat(run.ended_at),
                    "duration": run.duration, "operator": f"{run.user}@{run.hostname}",
                    "change": {"id": run.change_id, "url": run.change_url},
                    "paused": None if run.paused_by is None else {
                        "by": run.paused_by, "since": isoformat(run.paused_at)}},
            "current": current, "steps": list(steps.values()), "waiting": waiting,
            "decisions": decisions, "events": events, "api": api, "probes": probes}


def _api_state(run: Any, down: Any) -> dict[str, Any]:
    if down is None:
        return {"state": "up", "text": "no service stopped"}
    if down.open:
        state = "down" if run.status == RunStatus.RUNNING else "unknown"
        return {"state": state, "since": down.start,
                "text": f"stopped since {down.start} ({down.first_stop})"}
    return {"state": "up", "text": f"back at {down.end} after {down.duration:.0f}s"
            if down.duration is not None else "back up"}


def _step_order(run: Any) -> dict[str, int]:
    plan = run.plan if isinstance(run.plan, dict) else {}
    return {str(s.get("id")): i for i, s in enumerate(plan.get("steps") or ())
            if isinstance(s, dict)}
