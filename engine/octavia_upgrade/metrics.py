"""Prometheus metrics of recorded runs: text exposition format, and a textfile kept current.

:func:`render` builds the metrics from the state database alone (the runs,
their step results, probe samples, evidence and waiting approvals) with
prometheus_client (imported here only). :class:`TextfileWriter` writes them
for node_exporter's textfile collector while a run goes on: to a temporary
file in the same directory, then renamed over the target, so the collector
never reads half a file.

Metrics (labels ``run_id`` and ``deployment`` on each, plus those named):

* ``octavia_upgrade_run_info{runbook, from_release, to_release, status, change}`` 1
* ``octavia_upgrade_run_running`` 1 while the run is running, else 0
* ``octavia_upgrade_run_started_timestamp_seconds``, ``..._run_duration_seconds``
* ``octavia_upgrade_step_duration_seconds{step_id, host, status}`` (latest attempt)
* ``octavia_upgrade_step_attempts{step_id, host}``
* ``octavia_upgrade_outage_seconds``: control-plane downtime as the report measures it
* ``octavia_upgrade_vip_availability_ratio{probe}`` (0..1) and ``..._vip_samples{probe}``
* ``octavia_upgrade_failovers``: amphora failovers seen between the load balancer snapshots
* ``octavia_upgrade_approvals_waiting{step_id}``: 1 while the step waits for approval
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from octavia_upgrade.statuses import RunStatus

PREFIX = "octavia_upgrade"


def _runs_to_show(store: Any, run_id: str | None) -> list[Any]:
    """One run, or the newest run of each deployment plus every running one."""
    if run_id is not None:
        return [store.get_run(run_id)]
    newest: dict[str, Any] = {}
    running = []
    for r in store.list_runs():
        newest[r.deployment] = r
        if r.status == RunStatus.RUNNING:
            running.append(r)
    return list({r.id: r for r in [*newest.values(), *running]}.values())


def render(store: Any, run_id: str | None = None) -> str:
    """The metrics of ``run_id`` (default: the newest run of each deployment) as text."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    reg = CollectorRegistry()
    base = ["run_id", "deployment"]

    def gauge(name: str, doc: str, *labels: str) -> Any:
        return Gauge(f"{PREFIX}_{name}", doc, [*base, *labels], registry=reg)

    info = gauge("run_info", "A recorded run (always 1).", "runbook", "from_release",
                 "to_release", "status", "change")
    running = gauge("run_running", "1 while the run is running.")
    started = gauge("run_started_timestamp_seconds", "When the run started (Unix time).")
    duration = gauge("run_duration_seconds", "How long the run has lasted so far, or lasted.")
    step = gauge("step_duration_seconds", "Duration of the latest attempt of a step on a host.",
                 "step_id", "host", "status")
    attempts = gauge("step_attempts", "Attempts of a step on a host.", "step_id", "host")
    outage = gauge("outage_seconds", "Control-plane downtime: first service stop to last "
                   "healthy start (as the execution report measures it).")
    avail = gauge("vip_availability_ratio", "Share of VIP probe samples that succeeded.",
                  "probe")
    samples = gauge("vip_samples", "VIP probe samples taken.", "probe")
    failovers = gauge("failovers", "Amphora failovers seen between the snapshots.")
    waiting = gauge("approvals_waiting", "1 while the step waits for approval.", "step_id")
    now = time.time()
    for run in _runs_to_show(store, run_id):
        ids = (run.id, run.deployment)
        info.labels(*ids, run.runbook_name, run.from_release, run.to_release, str(run.status),
                    run.change_id or "").set(1)
        running.labels(*ids).set(1 if run.status == RunStatus.RUNNING else 0)
        started.labels(*ids).set(run.started_at.timestamp())
        end = run.ended_at.timestamp() if run.ended_at else now
        duration.labels(*ids).set(round(end - run.started_at.timestamp(), 3))
        results = store.results(run.id)
        latest: dict[tuple[str, str], Any] = {}
        for r in results:
            latest[(r.step_id, r.host)] = r
        for (sid, host), r in latest.items():
            ended = r.ended_at.timestamp() if r.ended_at else now
            step.labels(*ids, sid, host, str(r.status)).set(
                round(ended - r.started_at.timestamp(), 3))
            attempts.labels(*ids, sid, host).set(r.attempt)
        _evidence_metrics(store, run, results, ids, outage, failovers)
        for p in _probes(store.probe_samples(run.id)):
            samples.labels(*ids, p.probe).set(p.samples)
            if p.availability is not None:
                avail.labels(*ids, p.probe).set(round(p.availability / 100, 6))
        for w in store.approval_requests(run.id):
            waiting.labels(*ids, w.step_id).set(1)
    return generate_latest(reg).decode()


def _probes(samples: Sequence[Any]) -> Sequence[Any]:
    from octavia_upgrade.reports import evidence as ev

    return ev.probe_stats(samples)


def _evidence_metrics(store: Any, run: Any, results: Sequence[Any], ids: tuple[str, str],
                      outage: Any, failovers: Any) -> None:
    from octavia_upgrade.reports import evidence as ev

    evidence = store.evidence(run.id)
    down = ev.downtime(evidence, results)
    if down is not None and down.duration is not None:
        outage.labels(*ids).set(round(down.duration, 3))
    lbs = ev.loadbalancers(evidence)
    if lbs is not None:
        failovers.labels(*ids).set(len(lbs.failovers))


def write_atomically(path: Path, text: str) -> None:
    """``text`` to ``path`` through a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class TextfileWriter:
    """Keeps a node_exporter textfile current while a run goes on.

    Called with every run event (as a notifier's receiver), it only marks the
    file stale: a background thread rewrites it at most once a second, and at
    least every ``interval`` seconds so durations and availability move
    between events. The run's own threads never wait for it; errors are
    reported once and never stop the run.
    """

    def __init__(self, path: Path, store: Any, run_id: str, warn: Any,
                 interval: float = 5.0) -> None:
        self.path, self.store, self.run_id, self.warn = Path(path), store, run_id, warn
        self.interval = interval
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._warned = False
        self._thread = threading.Thread(target=self._loop, name="metrics", daemon=True)

    def start(self) -> TextfileWriter:
        self.write()
        self._thread.start()
        return self

    def __call__(self, event: Any = None) -> None:
        self._dirty.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait(self.interval)
            if self._stop.is_set():
                return
            self._dirty.clear()
            self.write()
            self._stop.wait(1.0)

    def write(self) -> None:
        with self._lock:
            try:
                write_atomically(self.path, render(self.store, self.run_id))
            except Exception as exc:  # noqa: BLE001 - metrics never fail the upgrade
                if not self._warned:
                    self._warned = True
                    self.warn(f"metrics file {self.path} not written: {exc}")

    def stop(self) -> None:
        """The final write (the run's end status), then the thread ends."""
        self._stop.set()
        self._dirty.set()
        self._thread.join(5)
        self.write()
