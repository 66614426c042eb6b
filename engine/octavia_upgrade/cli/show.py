"""``octavia-upgrade show RUN_ID``: one run as recorded, step by step."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from octavia_upgrade.cli.output import Column, add_row_format, emit, render_one, select, table
from octavia_upgrade.outagehistory import outage_cell, outage_seconds
from octavia_upgrade.statuses import ResultStatus

HELP = "show one run: summary, latest result per step and host, approvals, events"
DESCRIPTION = """\
Show what the state database recorded for RUN_ID: who ran which runbook
where and when, how the run was started (version detection, --limit, --yes,
parameters given), how each host is reached (SSH login, sudo, bastions, as
planned), the control-plane outage as measured (first stop command sent to
an Octavia service → the API answering on every API host, from the API
probes), the latest attempt of every (step, host) with status, exit code and
duration, the approvals given, and the run's events (resumed,
interrupted, lock broken, ...). With -v, the commands sent and the recorded
output of steps that did not succeed. -f json adds every attempt (with the
commands it sent) and the recorded evidence. Secrets were masked before they
were stored.

-f value|csv and -c COLUMN print the run's fields as OpenStackClient's `show`
commands do: `octavia-upgrade show RUN_ID -f value -c status` prints its status.
"""


def _time(value: Any) -> str | None:
    from octavia_upgrade.state import isoformat

    return isoformat(value) or None


#: The run's fields (``-c``); ``-f json``/``yaml`` without ``-c`` print the whole record.
COLUMNS = (
    Column("id", lambda r: r.id),
    Column("status", lambda r: str(r.status)),
    Column("runbook", lambda r: r.runbook_name),
    Column("revision", lambda r: r.runbook_revision),
    Column("runbook_path", lambda r: r.runbook_path),
    Column("runbook_sha256", lambda r: r.runbook_sha256),
    Column("from", lambda r: r.from_release),
    Column("to", lambda r: r.to_release),
    Column("deployment", lambda r: r.deployment),
    Column("inventory", lambda r: r.inventory_path),
    Column("user", lambda r: r.user),
    Column("hostname", lambda r: r.hostname),
    Column("pid", lambda r: r.pid),
    Column("started", lambda r: _time(r.started_at)),
    Column("ended", lambda r: _time(r.ended_at)),
    Column("duration", lambda r: r.duration),
    # First stop command → the API answering on every API host (the probes).
    Column("outage", outage_seconds, outage_cell),
    Column("tool_version", lambda r: r.tool_version),
    Column("catalog_version", lambda r: r.catalog_version),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", metavar="RUN_ID", help="a run id from `octavia-upgrade runs`")
    add_row_format(p, COLUMNS)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    return f"{int(value // 60)}m{int(value % 60):02d}s"


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.cli.common import open_store, raise_no_state
    from octavia_upgrade.logs import Redactor

    select(COLUMNS, args.columns)
    settings, store = open_store(args, create=False)
    if store is None:
        raise_no_state(settings, args.run_id)
    try:
        from octavia_upgrade.outagehistory import RunWithOutage

        run_ = RunWithOutage(store.get_run(args.run_id), store)
        latest = list(store.latest_results(run_.id).values())
        attempts = store.results(run_.id)
        approvals = store.approvals(run_.id)
        waiting = store.approval_requests(run_.id)
        events = store.events(run_.id)
        evidence = store.evidence(run_.id)
        lock = store.get_lock(run_.deployment)
    finally:
        store.close()
    holds_lock = lock is not None and lock.run_id == run_.id
    redactor = Redactor(settings.secret_values())

    from octavia_upgrade.reports.model import plain

    def document() -> dict[str, Any]:
        doc: dict[str, Any] = redactor.redact({
            "run": run_.run.as_dict(), "outage": plain(run_.outage),
            "results": [r.as_dict() for r in latest],
            "attempts": [r.as_dict() for r in attempts],
            "approvals": [a.as_dict() for a in approvals],
            "waiting": [w.as_dict() for w in waiting],
            "events": [e.as_dict() for e in events],
            "evidence": [e.as_dict() for e in evidence],
            "lock": lock.as_dict() if holds_lock and lock else None,
            "hosts": list(_planned_hosts(run_)),
        })
        # The redactor masks whole values under keys such as ``key``: the
        # commands sent are redacted string by string instead.
        for name, records in (("results", latest), ("attempts", attempts)):
            for data, record in zip(doc[name], records, strict=True):
                data["commands"] = [{k: redactor.redact_text(str(v)) for k, v in c.items()}
                                    for c in record.commands]
        return doc

    emit(redactor.redact_text(render_one(
        run_, COLUMNS, args.format, args.columns, document=document,
        table_text=lambda: _text(run_, latest, approvals, events, holds_lock, lock,
                                 args.verbose, waiting))))
    return 0


def _planned_hosts(run_: Any) -> list[Any]:
    """The host entries of the plan stored with the run (none when it stored no plan)."""
    plan = run_.plan if isinstance(run_.plan, dict) else {}
    return [h for h in plan.get("hosts") or () if isinstance(h, dict)]


def _hosts_text(run_: Any) -> list[str]:
    """How each host is reached (login, sudo, bastions), from the plan stored with the run."""
    from octavia_upgrade import hostaccess

    hosts = _planned_hosts(run_)
    if not hosts:
        return ["hosts: not recorded (the run stored no plan)"]
    return ["hosts (how each is reached, as planned)",
            table(["host", "login", "privileges", "route"],
                  [[h.get("name"), hostaccess.login(h), hostaccess.privileges(h),
                    hostaccess.route(h)] for h in hosts])]


def _text(run_: Any, latest: list[Any], approvals: list[Any], events: list[Any],
          holds_lock: bool, lock: Any, verbose: int,
          waiting: Sequence[Any] = ()) -> str:
    from octavia_upgrade.reports.model import plain
    from octavia_upgrade.reports.text import outage_text, run_options
    from octavia_upgrade.state import isoformat

    out = [
        f"run         {run_.id}",
        f"status      {run_.status}",
        f"runbook     {run_.runbook_name} revision {run_.runbook_revision} "
        f"({run_.runbook_path}, sha256 {run_.runbook_sha256[:12]})",
        f"upgrade     {run_.from_release} → {run_.to_release}",
        f"deployment  {run_.deployment}" + (f" (inventory {run_.inventory_path})"
                                           if run_.inventory_path else ""),
        f"operator    {run_.user} on {run_.hostname}, pid {run_.pid}",
        f"options     {run_options(run_.options)}",
        f"started     {isoformat(run_.started_at)}",
        f"ended       {isoformat(run_.ended_at) or '-'}"
        + (f" ({_seconds(run_.duration)})" if run_.duration is not None else ""),
        f"tool        octavia-upgrade {run_.tool_version or '?'}, "
        f"catalog {run_.catalog_version or '?'}",
        f"outage      {outage_text(plain(run_.outage))}",
    ]
    if run_.change_id:
        out.insert(2, f"change      {run_.change_id}"
                   + (f" ({run_.change_url})" if run_.change_url else ""))
    if run_.paused_by:
        out.insert(2, f"paused      by {run_.paused_by} since {isoformat(run_.paused_at)} "
                      "(before its next step; `continue` lets it go on)")
    if holds_lock:
        out.append(f"lock        this run holds the lock of {run_.deployment} "
                   f"(pid {lock.pid} on {lock.hostname})")
    out += ["", *_hosts_text(run_)]
    if latest:
        rows = [[r.step_id, r.host or "-", r.phase, r.attempt, r.status,
                 "-" if r.rc is None else r.rc, isoformat(r.started_at), _seconds(r.duration),
                 r.message.splitlines()[0] if r.message else ""] for r in latest]
        out += ["", "steps (latest attempt per step and host)",
                table(["step", "host", "phase", "attempt", "status", "rc", "started",
                       "duration", "message"], rows)]
    else:
        out += ["", "no steps recorded"]
    if waiting:
        out += ["", "waiting for approval", table(["step", "since", "who may approve",
                                                   "expires"], [
            [w.step_id, isoformat(w.requested_at), w.who_may_approve(),
             isoformat(w.expires_at) or "-"] for w in waiting])]
    if approvals:
        out += ["", "approvals", table(["step", "decision", "by", "how", "from", "at",
                                        "comment"], [
            [a.step_id, a.decision, a.identity or a.user, a.how, a.origin or "-",
             isoformat(a.approved_at), a.comment or ""] for a in approvals])]
    if events:
        out += ["", "events", table(["at", "event", "details"], [
            [isoformat(e.at), e.kind,
             ", ".join(f"{k}={v}" for k, v in e.data.items() if not isinstance(v, dict))]
            for e in events])]
    if verbose:
        for r in latest:
            if r.status != ResultStatus.SUCCEEDED and (r.stdout_tail or r.stderr_tail
                                                       or r.commands):
                out += ["", f"output of {r.step_id} on {r.host or '-'} "
                            f"(attempt {r.attempt}, {r.status})"]
                out += [f"  $ {c['sent']}" for c in r.commands]
                out += [f"  | {line}" for line in r.stdout_tail.splitlines()]
                out += [f"  ! {line}" for line in r.stderr_tail.splitlines()]
    return "\n".join(out)
