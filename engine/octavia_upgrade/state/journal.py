"""The store's record of what a run gathered: approvals, evidence, probe samples, events.

Part of :class:`~octavia_upgrade.state.store.Store`. Append-only: each call
inserts rows and commits; the readers return them in the order recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from sqlalchemy import insert, select, update

from octavia_upgrade.state.models import APPROVALS, EVENTS, EVIDENCE, PROBE_SAMPLES, PROBE_SERIES
from octavia_upgrade.state.records import (
    APPROVAL_METHODS,
    Approval,
    Event,
    Evidence,
    ProbeSample,
    ProbeSeries,
    Transition,
)
from octavia_upgrade.state.storebase import StoreBase, check
from octavia_upgrade.state.storebase import user as _user

_INSERT_EVIDENCE = insert(EVIDENCE)


class JournalStore(StoreBase):
    """Approvals, evidence, data-plane probe samples and run events."""

    def record_approval(self, run_id: str, step_id: str, how: str,
                        user: str | None = None, identity: str | None = None,
                        origin: str | None = None, comment: str | None = None) -> Approval:
        check(how, APPROVAL_METHODS, "approval method")
        approval = Approval(run_id=run_id, step_id=step_id, user=user or _user(),
                            approved_at=self.clock(), how=how, identity=identity,
                            origin=origin, comment=comment)
        self._insert(insert(APPROVALS), asdict(approval), run_id)
        return approval

    def approvals(self, run_id: str) -> list[Approval]:
        """Every decision recorded on the run (approvals, rejections, timeouts), in order."""
        a = APPROVALS.c
        q = (select(a.run_id, a.step_id, a.user, a.approved_at, a.how, a.decision, a.identity,
                    a.origin, a.comment, a.request_id)
             .where(a.run_id == run_id).order_by(a.id))
        with self._tx() as conn:
            return [Approval(*r) for r in conn.execute(q)]

    def record_evidence(self, run_id: str, step_id: str, host: str, kind: str,
                        data: Any) -> Evidence:
        evidence = Evidence(run_id=run_id, step_id=step_id, host=host, kind=kind,
                            data=self._clean(data), recorded_at=self.clock())
        # Not asdict(): it would deep-copy ``data``, which can be a large document.
        self._insert(_INSERT_EVIDENCE, {"run_id": run_id, "step_id": step_id, "host": host,
                                        "kind": kind, "data": evidence.data,
                                        "recorded_at": evidence.recorded_at}, run_id)
        return evidence

    def evidence(self, run_id: str) -> list[Evidence]:
        e = EVIDENCE.c
        q = (select(e.run_id, e.step_id, e.host, e.kind, e.data, e.recorded_at)
             .where(e.run_id == run_id).order_by(e.id))
        with self._tx() as conn:
            return [Evidence(*r) for r in conn.execute(q)]

    def record_probe_samples(self, run_id: str, samples: Iterable[ProbeSample]) -> int:
        rows = [{"run_id": run_id, "probe": p.probe, "at": p.at, "ok": p.ok,
                 "latency_ms": p.latency_ms,
                 "error": None if p.error is None else self._clean(p.error)}
                for p in samples]
        if rows:
            self._insert(insert(PROBE_SAMPLES), rows, run_id)
        return len(rows)

    def probe_samples(self, run_id: str) -> list[ProbeSample]:
        p = PROBE_SAMPLES.c
        q = (select(p.probe, p.at, p.ok, p.latency_ms, p.error)
             .where(p.run_id == run_id).order_by(p.at, p.id))
        with self._tx() as conn:
            return [ProbeSample(*r) for r in conn.execute(q)]

    def record_probe_series(self, run_id: str, series: Iterable[ProbeSeries]) -> int:
        """Write each series, replacing what was written of it before.

        A series is one probe target over one session of a run (``probe`` and
        ``started_at`` name it): the probe thread rewrites it as the run goes.
        """
        n = 0
        c = PROBE_SERIES.c
        with self._tx() as conn:
            for s in series:
                values = {"kind": s.kind, "host": s.host, "url": self._clean(s.url),
                          "ended_at": s.ended_at, "samples": s.samples,
                          "failures": s.failures, "longest_gap_ms": s.longest_gap_ms,
                          "longest_gap_start": s.longest_gap_start,
                          "latency_avg_ms": s.latency_avg_ms,
                          "latency_max_ms": s.latency_max_ms,
                          "transitions": [[t.as_list()[0], t.ok,
                                           None if t.error is None else self._clean(t.error)]
                                          for t in s.transitions],
                          "errors": {self._clean(k): v for k, v in s.errors.items()}}
                done = conn.execute(update(PROBE_SERIES).where(
                    c.run_id == run_id, c.probe == s.probe,
                    c.started_at == s.started_at).values(**values)).rowcount
                if not done:
                    conn.execute(insert(PROBE_SERIES), {"run_id": run_id, "probe": s.probe,
                                                        "started_at": s.started_at, **values})
                n += 1
        return n

    def probe_series(self, run_id: str) -> list[ProbeSeries]:
        """A run's probe series, by probe then session."""
        c = PROBE_SERIES.c
        q = (select(c.probe, c.kind, c.host, c.url, c.started_at, c.ended_at, c.samples,
                    c.failures, c.longest_gap_ms, c.longest_gap_start, c.latency_avg_ms,
                    c.latency_max_ms, c.transitions, c.errors)
             .where(c.run_id == run_id).order_by(c.probe, c.started_at, c.id))
        with self._tx() as conn:
            return [ProbeSeries(*r[:12], transitions=tuple(
                Transition(_when(t[0]), bool(t[1]), t[2]) for t in r[12] or ()),
                errors=dict(r[13] or {})) for r in conn.execute(q)]

    def record_event(self, run_id: str | None, kind: str,
                     data: dict[str, Any] | None = None) -> Event:
        event = Event(run_id=run_id, at=self.clock(), kind=kind,
                      data=self._clean(dict(data or {})))
        self._insert(insert(EVENTS), {"run_id": run_id, "at": event.at, "kind": kind,
                                      "data": event.data}, run_id)
        return event

    def events(self, run_id: str | None) -> list[Event]:
        """A run's events (``None``: events not tied to a run in this database)."""
        e = EVENTS.c
        cond = e.run_id.is_(None) if run_id is None else e.run_id == run_id
        q = select(e.run_id, e.at, e.kind, e.data).where(cond).order_by(e.at, e.id)
        with self._tx() as conn:
            return [Event(*r) for r in conn.execute(q)]



def _when(text: str) -> Any:
    from datetime import datetime

    from datetime import timezone

    at = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
