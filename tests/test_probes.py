"""Probes against real HTTP servers on loopback: VIP and API availability, the
longest gap, and the compact record (transitions and counts, not samples)."""

from __future__ import annotations

import http.server
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from octavia_upgrade.model import Host, Inventory, Probe
from octavia_upgrade.probes import ProbeRunner, api_targets, sample, vip_targets
from octavia_upgrade.probeseries import ProbeTarget, Tally
from octavia_upgrade.state import open_store


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class _Server:
    """An HTTP server on a fixed loopback address and port that can be stopped
    and started again, as a service restart does."""

    def __init__(self, address: str = "127.0.0.1", port: int = 0) -> None:
        self.address, self.port = address, port
        self.httpd: http.server.ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = http.server.ThreadingHTTPServer((self.address, self.port), _Quiet)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.httpd is not None
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}/"


def test_a_stopped_and_restarted_server_gives_its_gap_in_ms() -> None:
    server = _Server("127.0.0.1")
    got: list = []
    target = ProbeTarget("vip", "vip", server.url, interval=0.05, timeout=0.5)
    runner = ProbeRunner((target,), got.append, flush_every=0.1).start()
    try:
        time.sleep(0.4)
        stopped = time.monotonic()
        server.stop()
        time.sleep(0.6)
        server.start()
        down = time.monotonic() - stopped
        time.sleep(0.4)
    finally:
        runner.stop()
        server.stop()
    [series] = got[-1]
    assert series.probe == "vip" and series.kind == "vip" and series.host is None
    # Up, down, up again: three transitions, whatever the number of samples.
    assert [t.ok for t in series.transitions] == [True, False, True]
    assert series.samples > 20 and 0 < series.failures < series.samples
    # The gap is what the probe saw of the outage: at most the outage plus one
    # interval, at least the outage minus one interval.
    assert down * 1000 - 150 <= series.longest_gap_ms <= down * 1000 + 150
    assert series.longest_gap_start == series.transitions[1].at
    assert series.errors and sum(series.errors.values()) == series.failures
    assert series.latency_avg_ms is not None and series.latency_max_ms is not None


def test_vip_is_sampled_at_5_hz_by_default_and_a_short_gap_is_seen() -> None:
    server = _Server("127.0.0.2")
    [target] = vip_targets((Probe("vip", server.url),))
    assert target.interval <= 0.2
    got: list = []
    runner = ProbeRunner((target,), got.append, flush_every=0.2).start()
    try:
        time.sleep(1.0)
        server.stop()
        time.sleep(0.5)   # half a second: a 1 Hz probe would likely miss it
        server.start()
        time.sleep(1.0)
    finally:
        runner.stop()
        server.stop()
    [series] = got[-1]
    assert series.samples >= 10  # 2.5 s at 5 Hz
    assert [t.ok for t in series.transitions] == [True, False, True]
    assert 200 <= series.longest_gap_ms <= 800


def test_api_probe_per_api_host_and_a_slow_target_does_not_hold_the_others() -> None:
    fast = _Server("127.0.0.3")
    hosts = (Host("node1", "127.0.0.3", roles=("api", "worker")),
             Host("node2", "127.0.0.4", roles=("api",)),
             Host("node3", "127.0.0.5", roles=("worker",)))
    inv = Inventory(path=Path("inv.yaml"), deployment="d", flavor="deb", hosts=hosts)
    targets = api_targets(inv, {"api_scheme": "http", "api_port": fast.port})
    assert [(t.name, t.host, t.url) for t in targets] == [
        ("api@node1", "node1", f"http://127.0.0.3:{fast.port}/"),
        ("api@node2", "node2", f"http://127.0.0.4:{fast.port}/")]
    got: list = []
    runner = ProbeRunner(targets, got.append, flush_every=0.2).start()
    try:
        time.sleep(1.0)
    finally:
        runner.stop()
        fast.stop()
    by = {s.probe: s for s in got[-1]}
    assert by["api@node1"].failures == 0 and by["api@node1"].samples >= 4
    assert by["api@node2"].failures == by["api@node2"].samples >= 1
    assert [t.ok for t in by["api@node2"].transitions] == [False]


def test_http_error_status_is_a_failure() -> None:
    server = _Server("127.0.0.1")
    try:
        s = sample(Probe("x", server.url + "missing-path"))
    finally:
        server.stop()
    assert not s.ok and s.error == "HTTP 404"


def test_a_failing_sink_never_stops_the_probes() -> None:
    errors: list = []

    def sink(batch: list) -> None:
        raise OSError("disk full")

    runner = ProbeRunner((ProbeTarget("x", "vip", "http://127.0.0.1:9/", 0.05, 0.2),), sink,
                         flush_every=0.05, on_error=errors.append).start()
    time.sleep(0.3)
    runner.stop()
    assert errors and runner.series()[0].samples >= 3


def test_the_tally_keeps_transitions_not_samples() -> None:
    t0 = datetime(2026, 12, 5, 20, 0, tzinfo=timezone.utc)
    tally = Tally(ProbeTarget("api@n1", "api", "http://x/", 0.2, 1.0, host="n1"))
    for i in range(3000):  # 10 minutes at 5 Hz, down from 100 s to 112.4 s
        down = 500 <= i < 562
        tally.add(t0 + timedelta(seconds=i * 0.2), not down, 3.0, "refused" if down else None)
    s = tally.series()
    assert s is not None and s.samples == 3000 and s.failures == 62
    assert [(t.ok, (t.at - t0).total_seconds()) for t in s.transitions] == [
        (True, 0.0), (False, 100.0), (True, 112.4)]
    assert s.longest_gap_ms == 12400.0 and s.longest_gap_start == t0 + timedelta(seconds=100)
    assert s.errors == {"refused": 62}


def test_a_gap_still_open_counts_to_the_last_sample() -> None:
    t0 = datetime(2026, 12, 5, 20, 0, tzinfo=timezone.utc)
    tally = Tally(ProbeTarget("v", "vip", "http://x/", 0.2, 1.0))
    for i, ok in enumerate([True, False, False, False]):
        tally.add(t0 + timedelta(seconds=i), ok)
    s = tally.series()
    assert s is not None and s.longest_gap_ms == 2000.0
    assert s.longest_gap_start == t0 + timedelta(seconds=1)


def test_series_are_rewritten_in_place_in_the_state_database(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    store.create_run(run_id="r1", runbook_name="a-to-b", runbook_path="/x.yaml",
                     runbook_sha256="0" * 64, runbook_revision=1, from_release="dalmatian",
                     to_release="epoxy", deployment="d", inventory_path=None, user="u",
                     hostname="h", pid=1, params={}, plan=None, provenance={})
    t0 = datetime(2026, 12, 5, 20, 0, tzinfo=timezone.utc)
    tally = Tally(ProbeTarget("api@n1", "api", "http://x/", 0.2, 1.0, host="n1"))
    for i in range(10):
        tally.add(t0 + timedelta(seconds=i * 0.2), i < 5, 1.0, None if i < 5 else "refused")
        store.record_probe_series("r1", [tally.series()])
    [back] = store.probe_series("r1")
    assert back == tally.series()
    store.close()


def test_the_inventory_turns_the_api_probe_off_or_tunes_it(tmp_path: Path) -> None:
    from octavia_upgrade.inventory import load_inventory

    base = ("apiVersion: octavia-upgrade/v1\nkind: Inventory\ndeployment: d\nflavor: deb\n"
            "hosts:\n  n1: {address: 127.0.0.9, roles: [api, db-migrate]}\n")
    params = {"api_scheme": "https", "api_port": 443}
    for extra, want in (("", [(0.2, 1.0)]), ("api_probe: false\n", []),
                        ("api_probe: {interval: 500ms, timeout: 2s}\n", [(0.5, 2.0)])):
        path = tmp_path / "inv.yaml"
        path.write_text(base + extra)
        targets = api_targets(load_inventory(path), params)
        assert [(t.interval, t.timeout) for t in targets] == want
        assert all(t.url == "https://127.0.0.9:443/" for t in targets)
