"""The control-plane outage as the operator feels it, from the run's records.

Pure functions over the state store's records (or mappings with the same
keys). The window opens at the first stop command sent to an Octavia
service (the time each command was first sent, recorded with the attempt)
and closes at the first moment, at or after the first start command that
follows, the API probes saw the API answer on every API host. Step boundaries are not used for its end: a start step ends
when its services run, but the API answers only later.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from octavia_upgrade.reports.evidence import field
from octavia_upgrade.reports.model import (
    AvailabilityRow,
    MeasuredOutage,
    OutagePrediction,
    ProbeStats,
    Segment,
    WindowStep,
    to_datetime,
)

#: How a stop command's key starts (the ``service`` kind's ``stop:<service>``).
STOP_KEY = "stop:"
#: How the keys of the commands that start services again start.
START_KEYS = ("start:", "restart:")
#: Earlier runs a plan report's prediction looks at, at most (newest first).
HISTORY_RUNS = 10


def iso_ms(value: datetime | None) -> str | None:
    """``2026-12-05T20:41:07.412Z``: a window's edges, to the millisecond."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def first_stop(results: Iterable[Any]) -> tuple[datetime, str] | None:
    """When the first stop command was sent to an Octavia service, and where.

    From the time recorded with each command; for attempts recorded without
    it, the attempt's start (its first command is its stop).
    """
    found: list[tuple[datetime, str]] = []
    for r in results:
        where = f"{field(r, 'step_id')} on {field(r, 'host')}" if field(r, "host") else str(
            field(r, "step_id"))
        for c in field(r, "commands") or ():
            if not isinstance(c, Mapping) or not str(c.get("key", "")).startswith(STOP_KEY):
                continue
            at = to_datetime(c.get("at")) or to_datetime(field(r, "started_at"))
            if at is not None:
                found.append((at, where))
    return min(found, key=lambda f: f[0]) if found else None


def _transitions(series: Iterable[Any]) -> dict[str, list[tuple[datetime, bool]]]:
    """Per API probe (one per host), its changes of state over every session, in order."""
    out: dict[str, list[tuple[datetime, bool]]] = {}
    for s in series:
        if field(s, "kind") != "api":
            continue
        rows = out.setdefault(str(field(s, "host") or field(s, "probe")), [])
        for t in field(s, "transitions") or ():
            at, ok = (t[0], t[1]) if isinstance(t, (list, tuple)) else (field(t, "at"),
                                                                      field(t, "ok"))
            when = to_datetime(at)
            if when is not None:
                rows.append((when, bool(ok)))
    for rows in out.values():
        rows.sort(key=lambda r: r[0])
    return out


def _state_at(rows: Sequence[tuple[datetime, bool]], at: datetime) -> bool:
    """Whether the probe last saw the API answer at ``at`` (unknown = not answering)."""
    state = False
    for when, ok in rows:
        if when > at:
            break
        state = ok
    return state


def first_start(results: Iterable[Any], after: datetime) -> datetime | None:
    """When the first start (or restart) command after ``after`` was sent."""
    found = []
    for r in results:
        for c in field(r, "commands") or ():
            if not isinstance(c, Mapping) or not str(c.get("key", "")).startswith(START_KEYS):
                continue
            at = to_datetime(c.get("at")) or to_datetime(field(r, "started_at"))
            if at is not None and at > after:
                found.append(at)
    return min(found) if found else None


def _api_back(start: datetime, restart: datetime | None,
              api: Mapping[str, list[tuple[datetime, bool]]]
              ) -> tuple[str, datetime | None, str | None]:
    """(status, when, host): when the API answered on every host again.

    With a start command after the first stop (``restart``), the first moment
    at or after it when every host answers: a probe that failed once while
    the services were still being stopped does not end the window. Without
    one (the run ended before its start), the first moment every host
    answers after one was last seen not answering.
    """
    state = {h: _state_at(rows, start) for h, rows in api.items()}
    changes = sorted((when, h, ok) for h, rows in api.items() for when, ok in rows
                     if when > start)
    down = not all(state.values())
    if restart is not None:
        before = [c for c in changes if c[0] <= restart]
        for _when, host, ok in before:
            state[host] = ok
            down |= not all(state.values())
        if all(state.values()):
            # Answering when the start command went out: it never stopped, or
            # was back already.
            return ("measured", restart, None) if down else ("api_never_down", None, None)
        for when, host, ok in changes[len(before):]:
            state[host] = ok
            if all(state.values()):
                return "measured", when, host
        return "open", None, None
    end: tuple[datetime, str] | None = None
    for when, host, ok in changes:
        state[host] = ok
        if not all(state.values()):
            down, end = True, None
        elif down and end is None:
            end = (when, host)
    if not down:
        return "api_never_down", None, None
    return ("measured", end[0], end[1]) if end else ("open", None, None)


def _busy(results: Iterable[Any], start: datetime, end: datetime,
          names: Mapping[str, str]) -> tuple[tuple[WindowStep, ...], float]:
    """Seconds of [start, end] each step was running on some host, in the order the
    steps began, and the seconds no step was running."""
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for r in results:
        a, b = to_datetime(field(r, "started_at")), to_datetime(field(r, "ended_at")) or end
        if a is None or b <= start or a >= end:
            continue
        spans.setdefault(str(field(r, "step_id")), []).append((max(a, start), min(b, end)))

    def union(items: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
        merged: list[tuple[datetime, datetime]] = []
        for a, b in sorted(items):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    steps = []
    for sid, items in sorted(spans.items(), key=lambda kv: min(a for a, _ in kv[1])):
        total = sum((b - a).total_seconds() for a, b in union(items))
        steps.append(WindowStep(id=sid, name=names.get(sid, sid), seconds=round(total, 3)))
    covered = sum((b - a).total_seconds()
                  for a, b in union([x for items in spans.values() for x in items]))
    return tuple(steps), round(max((end - start).total_seconds() - covered, 0.0), 3)


def measured_window(results: Sequence[Any], series: Sequence[Any],
                    names: Mapping[str, str] | None = None) -> MeasuredOutage | None:
    """The measured outage of one run (None when no Octavia service was stopped).

    ``results``: every attempt of the run; ``series``: its probe series
    (:class:`~octavia_upgrade.state.records.ProbeSeries`); ``names``: step id →
    name, for the breakdown.
    """
    stop = first_stop(results)
    if stop is None:
        return None
    start, where = stop
    api = _transitions(series)
    hosts = tuple(sorted(api))
    if not api:
        return MeasuredOutage(status="not_probed", start=iso_ms(start), end=None,
                              duration=None, first_stop=where, api_hosts=(),
                              last_answering=None, steps=(), between_steps=None)
    status, end, host = _api_back(start, first_start(results, start), api)
    if end is None:
        return MeasuredOutage(status=status, start=iso_ms(start), end=None, duration=None,
                              first_stop=where, api_hosts=hosts, last_answering=None,
                              steps=(), between_steps=None)
    steps, between = _busy(results, start, end, names or {})
    return MeasuredOutage(status=status, start=iso_ms(start), end=iso_ms(end),
                          duration=round((end - start).total_seconds(), 3), first_stop=where,
                          api_hosts=hosts, last_answering=host, steps=steps,
                          between_steps=between)


def availability(series: Sequence[Any], origin: datetime | None,
                 span: float) -> tuple[AvailabilityRow, ...]:
    """Each probe target's answering/failing stretches as offsets from ``origin``:
    VIPs first, then the API per host."""
    if origin is None:
        return ()
    by: dict[tuple[str, str], list[Any]] = {}
    for s in series:
        by.setdefault((str(field(s, "kind")), str(field(s, "probe"))), []).append(s)
    rows = []
    for (kind, probe), items in sorted(by.items(), key=lambda kv: (kv[0][0] != "vip", kv[0][1])):
        segs: list[Segment] = []
        for s in sorted(items, key=lambda s: to_datetime(field(s, "started_at")) or origin):
            trans = [(to_datetime(t[0] if isinstance(t, (list, tuple)) else field(t, "at")),
                      bool(t[1] if isinstance(t, (list, tuple)) else field(t, "ok")))
                     for t in field(s, "transitions") or ()]
            end = to_datetime(field(s, "ended_at"))
            for i, (at, ok) in enumerate(trans):
                nxt = trans[i + 1][0] if i + 1 < len(trans) else end
                if at is None or nxt is None:
                    continue
                a = max((at - origin).total_seconds(), 0.0)
                b = min((nxt - origin).total_seconds(), span)
                if b > a:
                    segs.append(Segment(start=round(a, 3), duration=round(b - a, 3), ok=ok))
        rows.append(AvailabilityRow(probe=probe, kind=kind, segments=tuple(segs)))
    return tuple(rows)


def series_stats(series: Sequence[Any]) -> tuple[ProbeStats, ...]:
    """Per probe target, its sessions' series added up."""
    by: dict[str, list[Any]] = {}
    for s in series:
        by.setdefault(str(field(s, "probe")), []).append(s)
    out = []
    for name in sorted(by, key=lambda n: (field(by[n][0], "kind") != "vip", n)):
        items = sorted(by[name], key=lambda s: str(iso_ms(to_datetime(field(s, "started_at")))))
        n = sum(int(field(s, "samples") or 0) for s in items)
        fails = sum(int(field(s, "failures") or 0) for s in items)
        worst = max(items, key=lambda s: float(field(s, "longest_gap_ms") or 0.0))
        gap_ms = float(field(worst, "longest_gap_ms") or 0.0)
        lat = [(float(field(s, "latency_avg_ms")),
                int(field(s, "samples")) - int(field(s, "failures")))
               for s in items if field(s, "latency_avg_ms") is not None]
        weight = sum(w for _, w in lat)
        maxes = [float(field(s, "latency_max_ms")) for s in items
                 if field(s, "latency_max_ms") is not None]
        errors: dict[str, int] = {}
        for s in items:
            for k, v in (field(s, "errors") or {}).items():
                errors[k] = errors.get(k, 0) + int(v)
        from octavia_upgrade.reports.model import iso

        out.append(ProbeStats(
            probe=name, kind=str(field(items[0], "kind")), samples=n, failures=fails,
            availability=round(100.0 * (n - fails) / n, 3) if n else None,
            longest_gap=round(gap_ms / 1000, 3), longest_gap_ms=round(gap_ms, 1),
            longest_gap_start=iso_ms(to_datetime(field(worst, "longest_gap_start"))),
            first_at=iso(field(items[0], "started_at")), last_at=iso(field(items[-1], "ended_at")),
            latency_avg_ms=round(sum(a * w for a, w in lat) / weight, 1) if weight else None,
            latency_max_ms=round(max(maxes), 1) if maxes else None,
            errors=tuple(f"{k} (×{v})" for k, v in sorted(errors.items(),
                                                          key=lambda kv: -kv[1])[:5])))
    return tuple(out)


def predict(from_release: str, to_release: str,
            windows: Sequence[tuple[str, float]]) -> OutagePrediction:
    """The outage to expect from earlier runs' measured windows (``(run id,
    seconds)``, newest first): median and spread, or a note that there is none."""
    hop = f"{from_release} → {to_release}"
    if not windows:
        return OutagePrediction(from_release=from_release, to_release=to_release, runs=0,
                                median=None, low=None, high=None, run_ids=(),
                                note=f"no earlier successful run of {hop} with a measured "
                                     "window in the state database: no prediction")
    values = [w for _, w in windows]
    med = round(statistics.median(values), 1)
    note = (f"median of {len(values)} earlier successful run(s) of {hop}: {med:g}s "
            f"(spread {min(values):.1f}–{max(values):.1f}s)")
    if len(values) < 3:
        note += "; fewer than 3 runs, a rough figure"
    return OutagePrediction(from_release=from_release, to_release=to_release,
                            runs=len(values), median=med, low=round(min(values), 1),
                            high=round(max(values), 1), run_ids=tuple(r for r, _ in windows),
                            note=note)
