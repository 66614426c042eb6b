"""A probe target's samples folded into a compact series as they come.

Pure: :class:`Tally` takes samples (time, ok, latency, error) one by one and
keeps only what the reports need: counts, latency, errors, the longest gap
(first failing sample → next good one, in ms) and the samples where the
state changed. A run of hours at 5 Hz stays a handful of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from octavia_upgrade.state.records import ProbeSeries, Transition

#: Transitions kept per series; a flapping target beyond it keeps its counts
#: and longest gap, and the last transition is always its current state.
MAX_TRANSITIONS = 5000


@dataclass(frozen=True)
class ProbeTarget:
    """What to sample: a VIP (``kind`` ``vip``) or the API on one host (``api``)."""

    name: str
    kind: str
    url: str
    interval: float
    timeout: float
    host: str | None = None


@dataclass
class Tally:
    """Folds one target's samples into a :class:`ProbeSeries`."""

    target: ProbeTarget
    samples: int = 0
    failures: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    transitions: list[Transition] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    longest_gap_ms: float = 0.0
    longest_gap_start: datetime | None = None
    gap_open: datetime | None = None
    latency_sum: float = 0.0
    latency_n: int = 0
    latency_max: float | None = None

    def add(self, at: datetime, ok: bool, latency_ms: float | None = None,
            error: str | None = None) -> None:
        if self.started_at is None:
            self.started_at = at
        self.ended_at = at
        self.samples += 1
        last = self.transitions[-1] if self.transitions else None
        if last is None or last.ok != ok:
            change = Transition(at, ok, None if ok else (error or "failed"))
            if len(self.transitions) >= MAX_TRANSITIONS:
                self.transitions[-1] = change
            else:
                self.transitions.append(change)
        if ok:
            if latency_ms is not None:
                self.latency_sum += latency_ms
                self.latency_n += 1
                self.latency_max = max(self.latency_max or 0.0, latency_ms)
            if self.gap_open is not None:
                self._gap(self.gap_open, at)
                self.gap_open = None
            return
        self.failures += 1
        err = error or "failed"
        self.errors[err] = self.errors.get(err, 0) + 1
        if self.gap_open is None:
            self.gap_open = at

    def _gap(self, start: datetime, end: datetime) -> None:
        ms = round((end - start).total_seconds() * 1000, 1)
        if self.longest_gap_start is None or ms > self.longest_gap_ms:
            self.longest_gap_ms, self.longest_gap_start = ms, start

    def series(self) -> ProbeSeries | None:
        """The series so far (``None`` before the first sample). A gap still
        open counts up to the last sample."""
        if self.started_at is None or self.ended_at is None:
            return None
        gap, gap_start = self.longest_gap_ms, self.longest_gap_start
        if self.gap_open is not None:
            ms = round((self.ended_at - self.gap_open).total_seconds() * 1000, 1)
            if ms >= gap:
                gap, gap_start = ms, self.gap_open
        if not self.failures:
            gap_start = None
        return ProbeSeries(
            probe=self.target.name, kind=self.target.kind, host=self.target.host,
            url=self.target.url, started_at=self.started_at, ended_at=self.ended_at,
            samples=self.samples, failures=self.failures, longest_gap_ms=gap,
            longest_gap_start=gap_start,
            latency_avg_ms=round(self.latency_sum / self.latency_n, 1) if self.latency_n
            else None,
            latency_max_ms=None if self.latency_max is None else round(self.latency_max, 1),
            transitions=tuple(self.transitions), errors=dict(self.errors))
