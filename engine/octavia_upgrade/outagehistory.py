"""The measured control-plane outage of recorded runs, read from the state store.

:func:`measured` gives one run's window (``show``, ``runs``); :func:`predict`
the window to expect for a hop from its earlier successful runs (the plan
report). The computing is pure (:mod:`octavia_upgrade.reports.outage`); this
module only reads the records it needs.
"""

from __future__ import annotations

from typing import Any

from octavia_upgrade.reports.model import MeasuredOutage, OutagePrediction
from octavia_upgrade.reports.outage import HISTORY_RUNS, measured_window
from octavia_upgrade.reports.outage import predict as _predict
from octavia_upgrade.statuses import RunStatus


def measured(store: Any, run: Any) -> MeasuredOutage | None:
    """``run``'s measured outage window (None when it stopped no service)."""
    plan = run.plan if isinstance(run.plan, dict) else {}
    names = {str(s.get("id")): str(s.get("name") or s.get("id"))
             for s in plan.get("steps") or () if isinstance(s, dict)}
    return measured_window(store.results(run.id), store.probe_series(run.id), names)


def earlier_windows(store: Any, from_release: str, to_release: str,
                    limit: int = HISTORY_RUNS) -> list[tuple[str, float]]:
    """(run id, seconds) of the newest successful runs of the hop with a measured window."""
    out: list[tuple[str, float]] = []
    for run in reversed(store.list_runs()):
        if (run.from_release, run.to_release, run.status) != (
                from_release, to_release, RunStatus.SUCCEEDED):
            continue
        w = measured(store, run)
        if w is not None and w.status == "measured" and w.duration is not None:
            out.append((run.id, w.duration))
            if len(out) >= limit:
                break
    return out


def predict(store: Any | None, from_release: str, to_release: str) -> OutagePrediction:
    """The window to expect for the hop (no history when there is no store)."""
    windows = earlier_windows(store, from_release, to_release) if store is not None else []
    return _predict(from_release, to_release, windows)


class RunWithOutage:
    """A recorded run and its measured outage window (``runs`` and ``show`` rows)."""

    def __init__(self, run: Any, store: Any) -> None:
        self.run = run
        self.outage = measured(store, run)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.run, name)

    def as_dict(self) -> dict[str, Any]:
        from octavia_upgrade.reports.model import plain

        return {**self.run.as_dict(), "outage": plain(self.outage)}


def outage_seconds(row: Any) -> float | None:
    """The measured window in seconds (None when there is no figure)."""
    w = getattr(row, "outage", None)
    return None if w is None else w.duration


def outage_cell(row: Any) -> str:
    """The measured outage in a table cell: ``21.0s``, or why there is no figure."""
    w = getattr(row, "outage", None)
    if w is None:
        return "-"
    if w.status == "measured" and w.duration is not None:
        return f"{w.duration:.1f}s"
    return {"open": "API still down", "api_never_down": "none seen",
            "not_probed": "not probed"}.get(w.status, w.status)
