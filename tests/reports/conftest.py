"""Fixtures for report tests: scenario runs written through the real Store on SQLite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from reports import scenarios


def replay(store: Any, records: dict[str, Any], clock: list[datetime]) -> str:
    """Write a scenario's records through the Store API, in time order, with the
    store's clock set to each record's time. Returns the run id."""
    run = records["run"]
    clock[0] = run.started_at
    store.create_run(
        run_id=run.id, runbook_name=run.runbook_name, runbook_path=run.runbook_path,
        runbook_sha256=run.runbook_sha256, runbook_revision=run.runbook_revision,
        from_release=run.from_release, to_release=run.to_release, deployment=run.deployment,
        inventory_path=run.inventory_path, params=run.params, plan=run.plan,
        provenance=run.provenance, user=run.user, hostname=run.hostname, pid=run.pid,
        catalog_version=run.catalog_version, tool_version=run.tool_version,
        started_at=run.started_at, options=run.options)
    actions: list[tuple[datetime, int, Callable[[], Any]]] = []
    ids: dict[int, int] = {}
    for n, r in enumerate(records["results"]):
        def start(r: Any = r) -> None:
            ids[r.id] = store.record_start(run.id, r.step_id, r.host, r.attempt, r.phase)

        def end(r: Any = r) -> None:
            store.record_end(ids[r.id], r.status, r.rc, r.stdout_tail, r.stderr_tail,
                             message=r.message, commands=r.commands)
        actions.append((r.started_at, 2 * n, start))
        if r.ended_at is not None:
            actions.append((r.ended_at, 2 * n + 1, end))
    for n, e in enumerate(records["evidence"]):
        actions.append((e.recorded_at, 10**6 + n, lambda e=e: store.record_evidence(
            run.id, e.step_id, e.host, e.kind, e.data)))
    for n, a in enumerate(records["approvals"]):
        actions.append((a.approved_at, -10**6 + n, lambda a=a: store.record_approval(
            run.id, a.step_id, a.how, user=a.user)))
    for n, ev in enumerate(records["events"]):
        def event(ev: Any = ev) -> None:
            if ev.kind == "resumed":  # as `resume` does: in-flight attempts become unknown
                store.mark_in_flight_unknown(run.id)
            store.record_event(run.id, ev.kind, ev.data)
        actions.append((ev.at, 2 * 10**6 + n, event))
    actions.sort(key=lambda x: (x[0], x[1]))
    for at, _, act in actions:
        clock[0] = at
        act()
    if records["probe_samples"]:
        store.record_probe_samples(run.id, records["probe_samples"])
    if records.get("probe_series"):
        store.record_probe_series(run.id, records["probe_series"])
    if run.ended_at is not None:
        clock[0] = run.ended_at
        store.set_run_status(run.id, run.status)
    return run.id


@pytest.fixture
def store(tmp_path: Path) -> Any:
    """A real SQLite run-state store whose clock the test sets (``store.now[0]``)."""
    from octavia_upgrade.logs import Redactor
    from octavia_upgrade.state import open_store

    now = [scenarios.T0]
    s = open_store(None, tmp_path / "state", redactor=Redactor([scenarios.SECRET]))
    s.clock = lambda: now[0]
    s.now = now  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def stored(store: Any) -> Callable[[str], dict[str, Any]]:
    """``stored(name)``: write scenario ``name`` to the store and read it all back."""
    def load(name: str) -> dict[str, Any]:
        run_id = replay(store, scenarios.SCENARIOS[name](), store.now)
        return {"run": store.get_run(run_id), "results": store.results(run_id),
                "approvals": store.approvals(run_id), "evidence": store.evidence(run_id),
                "probe_samples": store.probe_samples(run_id), "events": store.events(run_id),
                "probe_series": store.probe_series(run_id)}
    return load
