"""The measured outage window, from recorded data written through the real store:
first stop command → the API answering on every API host."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from octavia_upgrade.probeseries import ProbeTarget, Tally
from octavia_upgrade.reports import execution_report, render
from octavia_upgrade.reports.outage import measured_window
from octavia_upgrade.state import open_store

T0 = datetime(2026, 12, 5, 20, 0, tzinfo=timezone.utc)


def at(sec: float) -> datetime:
    return T0 + timedelta(seconds=sec)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = open_store(None, tmp_path / "state")
    now = [T0]
    s.clock = lambda: now[0]
    s.now = now  # type: ignore[attr-defined]
    yield s
    s.close()


def _run(store: Any, run_id: str = "r1") -> str:
    store.create_run(run_id=run_id, runbook_name="dalmatian-to-epoxy", runbook_path="/rb.yaml",
                     runbook_sha256="0" * 64, runbook_revision=1, from_release="dalmatian",
                     to_release="epoxy", deployment="lab", inventory_path=None, user="u",
                     hostname="h", pid=1, params={}, plan=None, provenance={}, started_at=T0)
    return run_id


def _attempt(store: Any, run_id: str, step: str, host: str, start: float, end: float,
             commands: list[dict[str, Any]]) -> None:
    store.now[0] = at(start)
    rid = store.record_start(run_id, step, host, 1)
    store.now[0] = at(end)
    store.record_end(rid, "succeeded", 0, commands=commands)


def _cmd(key: str, sec: float | None) -> dict[str, Any]:
    c: dict[str, Any] = {"key": key, "planned": key, "sent": key}
    if sec is not None:
        c["at"] = at(sec).isoformat()
    return c


def _api(host: str, until: float, down: tuple[float, float] | None, since: float = 0.0) -> Any:
    tally = Tally(ProbeTarget(f"api@{host}", "api", f"http://{host}:9876/", 0.2, 1.0, host=host))
    t = since
    while t <= until + 1e-9:
        ok = not (down and down[0] <= t < down[1])
        tally.add(at(t), ok, 3.0 if ok else None, None if ok else "refused")
        t = round(t + 0.2, 3)
    return tally.series()


def _cold_upgrade(store: Any, run_id: str = "r1") -> None:
    """Stops on two nodes (the first command 0.4 s into its attempt), packages,
    a start, and a wait step whose poll saw the API only later."""
    _run(store, run_id)
    _attempt(store, run_id, "stop-housekeeping", "n1", 10.0, 11.0,
             [_cmd("stop:housekeeping", 10.4), _cmd("verify:housekeeping", 10.5)])
    _attempt(store, run_id, "stop-housekeeping", "n2", 10.0, 11.5,
             [_cmd("stop:housekeeping", 10.6)])
    _attempt(store, run_id, "stop-api", "n1", 11.5, 12.5, [_cmd("stop:api", 11.6)])
    _attempt(store, run_id, "stop-api", "n2", 11.5, 13.0, [_cmd("stop:api", 11.7)])
    _attempt(store, run_id, "upgrade-packages", "n1", 13.0, 22.0, [_cmd("upgrade", 13.1)])
    _attempt(store, run_id, "upgrade-packages", "n2", 13.0, 23.0, [_cmd("upgrade", 13.1)])
    _attempt(store, run_id, "start-services", "n1", 24.0, 28.0, [_cmd("start:api", 24.1)])
    _attempt(store, run_id, "start-services", "n2", 24.0, 29.0, [_cmd("start:api", 24.1)])
    _attempt(store, run_id, "wait-api", "n1", 29.0, 36.0, [_cmd("http", 29.0)])


def test_window_runs_from_the_first_stop_command_to_the_api_on_every_host(store: Any) -> None:
    _cold_upgrade(store)
    store.record_probe_series("r1", [_api("n1", 40, (12.0, 30.2)), _api("n2", 40, (12.2, 31.4))])
    w = measured_window(store.results("r1"), store.probe_series("r1"))
    assert w is not None and w.status == "measured"
    # The command's own time, not its attempt's start (10.0).
    assert w.start == "2026-12-05T20:00:10.400Z" and w.first_stop == "stop-housekeeping on n1"
    # n2 answered last, at 31.4 s: not when start-services (29 s) or wait-api (36 s) ended.
    assert w.end == "2026-12-05T20:00:31.400Z" and w.duration == 21.0
    assert w.last_answering == "n2" and w.api_hosts == ("n1", "n2")
    spent = {s.id: s.seconds for s in w.steps}
    assert spent == {"stop-housekeeping": 1.1, "stop-api": 1.5, "upgrade-packages": 10.0,
                     "start-services": 5.0, "wait-api": 2.4}
    # 13→... covered: 10.4-11.5, 11.5-13, 13-23, 24-29, 29-31.4; idle 23-24.
    assert w.between_steps == 1.0


def test_an_api_still_down_at_the_end_leaves_the_window_open(store: Any) -> None:
    _cold_upgrade(store)
    store.record_probe_series("r1", [_api("n1", 40, (12.0, 30.2)), _api("n2", 40, (12.2, 99))])
    w = measured_window(store.results("r1"), store.probe_series("r1"))
    assert w is not None and (w.status, w.end, w.duration) == ("open", None, None)


def test_no_api_probe_means_not_measured_and_the_report_says_so(store: Any) -> None:
    _cold_upgrade(store)
    w = measured_window(store.results("r1"), store.probe_series("r1"))
    assert w is not None and w.status == "not_probed" and w.end is None
    text = render(execution_report(store.get_run("r1"), store.results("r1")), "markdown")
    assert "not measured: the API was not probed" in text
    assert "the outage window's end is not measured" in text


def test_an_api_that_never_went_down(store: Any) -> None:
    _cold_upgrade(store)
    store.record_probe_series("r1", [_api("n1", 40, None), _api("n2", 40, None)])
    w = measured_window(store.results("r1"), store.probe_series("r1"))
    assert w is not None and w.status == "api_never_down"


def test_a_run_that_stopped_nothing_has_no_window(store: Any) -> None:
    _run(store)
    _attempt(store, "r1", "db-revision-before", "n1", 1, 2, [_cmd("current", 1.1)])
    assert measured_window(store.results("r1"), ()) is None


def test_a_resumed_run_whose_probes_restarted_inside_the_window(store: Any) -> None:
    """The first session's probes ended at 15 s (a crash); the resumed session's
    began at 25 s with the API still down: unknown counts as not answering."""
    _cold_upgrade(store)
    store.record_probe_series("r1", [_api("n1", 15, (12.0, 99)), _api("n2", 15, (12.2, 99)),
                                     _api("n1", 40, (0, 30.2), since=25),
                                     _api("n2", 40, (0, 27.0), since=25)])
    w = measured_window(store.results("r1"), store.probe_series("r1"))
    assert w is not None and w.status == "measured" and w.end == "2026-12-05T20:00:30.200Z"


def test_attempts_recorded_without_command_times_use_the_attempt_start(store: Any) -> None:
    _run(store)
    _attempt(store, "r1", "stop-api", "n1", 10.0, 11.0, [_cmd("stop:api", None)])
    store.record_probe_series("r1", [_api("n1", 20, (10.5, 15.0))])
    w = measured_window(store.results("r1"), store.probe_series("r1"))
    assert w is not None and w.start == "2026-12-05T20:00:10.000Z" and w.duration == 5.0


def test_json_and_html_give_the_window_and_draw_both_availabilities(store: Any) -> None:
    _cold_upgrade(store)
    vip = Tally(ProbeTarget("web-vip", "vip", "http://vip/", 0.2, 1.0))
    for i in range(201):
        vip.add(at(i * 0.2), not 100 <= i < 103, 2.0)
    store.record_probe_series("r1", [_api("n1", 40, (12.0, 30.2)), _api("n2", 40, (12.2, 31.4)),
                                     vip.series()])
    store.now[0] = at(40)
    store.set_run_status("r1", "succeeded")
    records = {"run": store.get_run("r1"), "results": store.results("r1"),
               "probe_series": store.probe_series("r1")}
    doc = json.loads(render(execution_report(**records), "json"))
    assert doc["outage"]["status"] == "measured" and doc["outage"]["duration"] == 21.0
    assert doc["timeline"]["outage_start"] == 10.4 and doc["timeline"]["outage_end"] == 31.4
    [vip_stats] = [p for p in doc["probes"] if p["kind"] == "vip"]
    assert vip_stats["longest_gap_ms"] == 600.0 and vip_stats["failures"] == 3
    rows = {r["probe"]: r for r in doc["timeline"]["availability"]}
    assert [s["ok"] for s in rows["web-vip"]["segments"]] == [True, False, True]
    html = render(execution_report(**records), "html")
    assert html.count('data-status="not-answering"') == 3  # the VIP's gap, each API's outage
    assert "VIP availability · web-vip" in html and "API availability · api@n2" in html
    assert "control-plane outage (first stop → API answering): 21.0s" in html
    md = render(execution_report(**records), "markdown")
    assert ("| Data plane: web-vip | 98.507% available (201 samples, 3 failed, "
            "longest gap 600 ms) |") in md


def test_a_probe_failing_once_while_services_stop_does_not_end_the_window(store: Any) -> None:
    """A GET that timed out at 10.6 s on a loaded machine (the API was still up,
    and stopped only at 11.6 s) is not the outage: the window ends when the API
    answered on every host after the start command."""
    _cold_upgrade(store)
    n1 = _api("n1", 40, (12.0, 30.2))
    blip = Tally(ProbeTarget("api@n2", "api", "http://n2:9876/", 0.2, 1.0, host="n2"))
    t = 0.0
    while t <= 40:
        ok = not (10.6 <= t < 11.0 or 12.2 <= t < 31.4)
        blip.add(at(t), ok, 3.0 if ok else None, None if ok else "timed out")
        t = round(t + 0.2, 3)
    store.record_probe_series("r1", [n1, blip.series()])
    w = measured_window(store.results("r1"), store.probe_series("r1"))
    assert w is not None and w.status == "measured"
    assert w.end == "2026-12-05T20:00:31.400Z" and w.duration == 21.0
