"""The store's approval requests, decisions by identity, and pause requests.

Part of :class:`~octavia_upgrade.state.store.Store`. A run that reaches an
approval step opens a request and polls it; ``approve``/``reject`` from any
process on the same database add one decision each. A unique index on
(request, identity) makes a second decision of the same identity fail, also
when two machines race: exactly one counts. Every refusal here records
nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exc, func, insert, select, update

from octavia_upgrade.errors import ApprovalRefused
from octavia_upgrade.state.models import APPROVAL_REQUESTS, APPROVALS, EVENTS, RUNS
from octavia_upgrade.state.records import (
    APPROVAL_METHODS,
    DECISIONS,
    FINAL_RUN_STATUSES,
    Approval,
    ApprovalRequest,
    isoformat,
)
from octavia_upgrade.state.storebase import StoreBase, check

_APPROVAL_COLUMNS = ("run_id", "step_id", "user", "approved_at", "how", "decision",
                     "identity", "origin", "comment", "request_id")


def approval_row(r: Any) -> Approval:
    return Approval(*(getattr(r, c) for c in _APPROVAL_COLUMNS))


def _short_user(identity: str) -> str:
    """The ``user`` column (64 characters): the login part of ``user@host``."""
    return identity.split("@", 1)[0][:64] or identity[:64]


class ApprovalStore(StoreBase):
    """Approval requests, decisions by identity, pause and continue."""

    # -- the waiting run's side ---------------------------------------------

    def open_request(self, run_id: str, step_id: str, *, message: str,
                     data_plane_impact: str | None, required: int, four_eyes: bool,
                     outage_gate: bool, operator: str, expires_at: datetime | None,
                     on_expiry: str | None) -> ApprovalRequest:
        """Record that ``run_id`` waits at ``step_id``; an older wait there is abandoned."""
        now = self.clock()
        r = APPROVAL_REQUESTS.c
        values = {"run_id": run_id, "step_id": step_id, "message": self._clean(message),
                  "data_plane_impact": self._clean(data_plane_impact),
                  "required": max(1, int(required)), "four_eyes": bool(four_eyes),
                  "outage_gate": bool(outage_gate), "operator": operator[:255],
                  "requested_at": now, "expires_at": expires_at, "on_expiry": on_expiry,
                  "status": "waiting", "resolved_at": None}
        try:
            with self._tx() as conn:
                conn.execute(update(APPROVAL_REQUESTS)
                             .where(r.run_id == run_id, r.step_id == step_id,
                                    r.status == "waiting")
                             .values(status="abandoned", resolved_at=now))
                new_id = conn.execute(insert(APPROVAL_REQUESTS), values).inserted_primary_key[0]
        except exc.IntegrityError:
            raise ApprovalRefused(f"no run {run_id!r} in the state database {self.url}") \
                from None
        return ApprovalRequest(id=int(new_id), **{k: v for k, v in values.items()})

    def decisions(self, request_id: int) -> list[Approval]:
        """The decisions recorded on one request, in order (the waiting run polls this)."""
        a = APPROVALS.c
        q = (select(*(getattr(a, c) for c in _APPROVAL_COLUMNS))
             .where(a.request_id == request_id).order_by(a.id))
        with self._tx() as conn:
            return [approval_row(r) for r in conn.execute(q)]

    def resolve_request(self, request_id: int, status: str) -> bool:
        """Close a waiting request as ``status``; False when it was no longer waiting."""
        r = APPROVAL_REQUESTS.c
        with self._tx() as conn:
            n = conn.execute(update(APPROVAL_REQUESTS)
                             .where(r.id == request_id, r.status == "waiting")
                             .values(status=status, resolved_at=self.clock())).rowcount
        return bool(n)

    def abandon_requests(self, run_id: str) -> int:
        """Close every request the run still waits at (the run is ending); how many."""
        r = APPROVAL_REQUESTS.c
        with self._tx() as conn:
            return int(conn.execute(update(APPROVAL_REQUESTS)
                                    .where(r.run_id == run_id, r.status == "waiting")
                                    .values(status="abandoned", resolved_at=self.clock()))
                       .rowcount or 0)

    def record_expiry(self, request: ApprovalRequest, outcome: str) -> Approval:
        """The request's timeout passed: recorded as a decision of nobody (``timeout``)."""
        row = {"run_id": request.run_id, "step_id": request.step_id, "user": "timeout",
               "approved_at": self.clock(), "how": "timeout", "decision": "expired",
               "identity": None, "origin": None, "request_id": request.id,
               "comment": f"no decision by {isoformat(request.expires_at)}; declared "
                          f"outcome: {outcome}"}
        with self._tx() as conn:
            conn.execute(insert(APPROVALS), row)
        return Approval(**row)

    # -- any terminal's side --------------------------------------------------

    def approval_requests(self, run_id: str | None = None,
                          waiting_only: bool = True) -> list[ApprovalRequest]:
        """Requests (by default those still waiting), oldest first, with who approved."""
        r = APPROVAL_REQUESTS.c
        q = select(APPROVAL_REQUESTS).order_by(r.requested_at, r.id)
        if run_id is not None:
            q = q.where(r.run_id == run_id)
        if waiting_only:
            q = q.where(r.status == "waiting")
        a = APPROVALS.c
        with self._tx() as conn:
            rows = list(conn.execute(q))
            ids = [row.id for row in rows]
            approved: dict[int, list[str]] = {}
            if ids:
                for v in conn.execute(select(a.request_id, a.identity)
                                      .where(a.request_id.in_(ids), a.decision == "approved")
                                      .order_by(a.id)):
                    approved.setdefault(v.request_id, []).append(v.identity)
        return [ApprovalRequest(**{k: row._mapping[k] for k in row._mapping.keys()},
                                approved_by=tuple(approved.get(row.id, ())))
                for row in rows]

    def decide(self, run_id: str, step_id: str, *, decision: str, identity: str,
               origin: str, how: str = "cli", comment: str | None = None) -> Approval:
        """Record one identity's decision on the step ``run_id`` waits at.

        Raises:
            InvalidInput: no such run.
            ApprovalRefused: the step is not waiting; the identity is the
                operator and the step requires four eyes; it already decided.
        """
        check(decision, DECISIONS, "decision")
        check(how, APPROVAL_METHODS, "approval method")
        run = self.get_run(run_id)  # type: ignore[attr-defined]  # InvalidInput when unknown
        if run.status in FINAL_RUN_STATUSES:
            raise ApprovalRefused(f"run {run_id} is {run.status}: it waits for nothing; "
                                  "nothing was recorded")
        waiting = self.approval_requests(run_id)
        request = next((w for w in waiting if w.step_id == step_id), None)
        if request is None:
            now = ", ".join(w.step_id for w in waiting) or "none"
            raise ApprovalRefused(f"step {step_id!r} of run {run_id} is not waiting for an "
                                  f"approval (waiting now: {now}); nothing was recorded")
        if request.four_eyes and identity == request.operator:
            raise ApprovalRefused(f"step {step_id} of run {run_id} requires four eyes: "
                                  f"{identity} started the run and may not decide on it; "
                                  "nothing was recorded")
        if identity in request.approved_by:
            raise ApprovalRefused(f"{identity} has already approved step {step_id} of run "
                                  f"{run_id}; a second approval by the same identity does "
                                  "not count; nothing was recorded")
        row = {"run_id": run_id, "step_id": step_id, "user": _short_user(identity),
               "approved_at": self.clock(), "how": how, "decision": decision,
               "identity": identity[:255], "origin": origin[:255],
               "comment": None if comment is None else self._clean(comment),
               "request_id": request.id}
        try:
            with self._tx() as conn:
                conn.execute(insert(APPROVALS), row)
        except exc.IntegrityError:
            raise ApprovalRefused(f"{identity} has already decided on step {step_id} of run "
                                  f"{run_id}; only one decision per identity counts; nothing "
                                  "more was recorded") from None
        return Approval(**row)

    # -- pause and continue ---------------------------------------------------

    def request_pause(self, run_id: str, identity: str) -> None:
        """Ask a running run to stop before its next step (recorded with who asked)."""
        run = self.get_run(run_id)  # type: ignore[attr-defined]
        if run.status in FINAL_RUN_STATUSES:
            raise ApprovalRefused(f"run {run_id} is {run.status}, not running: there is "
                                  "nothing to pause")
        if run.paused_by is not None:
            raise ApprovalRefused(f"run {run_id} is already paused by {run.paused_by} (since "
                                  f"{isoformat(run.paused_at)}); `continue {run_id}` "
                                  "lets it go on")
        now = self.clock()
        with self._tx() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id)
                         .values(paused_by=identity[:255], paused_at=now))
            conn.execute(insert(EVENTS), {"run_id": run_id, "at": now, "kind": "pause-requested",
                                          "data": {"by": identity}})

    def request_continue(self, run_id: str, identity: str) -> str:
        """Let a paused run go on; returns who had paused it."""
        run = self.get_run(run_id)  # type: ignore[attr-defined]
        if run.paused_by is None:
            raise ApprovalRefused(f"run {run_id} is not paused; nothing was changed")
        now = self.clock()
        with self._tx() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id)
                         .values(paused_by=None, paused_at=None))
            conn.execute(insert(EVENTS), {"run_id": run_id, "at": now, "kind": "continued",
                                          "data": {"by": identity, "paused_by": run.paused_by}})
        return str(run.paused_by)

    def paused_by(self, run_id: str) -> str | None:
        """Who paused the run (None: not paused); one cheap query, polled between steps."""
        with self._tx() as conn:
            return conn.execute(select(RUNS.c.paused_by).where(RUNS.c.id == run_id)).scalar()

    def count_waiting(self) -> int:
        with self._tx() as conn:
            return int(conn.execute(select(func.count()).select_from(APPROVAL_REQUESTS)
                                    .where(APPROVAL_REQUESTS.c.status == "waiting")).scalar()
                       or 0)
