"""Probes: sample load balancer VIPs and each host's Octavia API throughout a run.

The upgrade guide expects no data-plane disruption from a cold upgrade and
an API outage while the services are down; the probes measure both, as the
operator feels them. One thread per target samples it on a fixed cadence
(a slow answer never delays the engine: the threads share nothing with it
but a lock-protected tally); a flusher thread hands each target's compact
series (:mod:`octavia_upgrade.probeseries`) to a callback (the state store)
every ``flush_every`` seconds and once more at the end.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from octavia_upgrade.model import Inventory, Probe
from octavia_upgrade.probeseries import ProbeTarget, Tally
from octavia_upgrade.state.records import ProbeSample as Sample
from octavia_upgrade.state.records import ProbeSeries



def sample(probe: Probe | ProbeTarget) -> Sample:
    """One GET of the target's URL: ok on an HTTP status below 400."""
    t0 = time.monotonic()
    at = datetime.now(timezone.utc)
    try:
        with urllib.request.urlopen(probe.url, timeout=probe.timeout) as resp:  # noqa: S310
            resp.read(1024)
            ok, err = 200 <= resp.status < 400, None if resp.status < 400 else f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        ok, err = False, f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        ok, err = False, str(exc)[:200]
    return Sample(probe.name, at, ok, (time.monotonic() - t0) * 1000, err)


def vip_targets(probes: Iterable[Probe]) -> tuple[ProbeTarget, ...]:
    """The inventory's VIP probes (5 Hz unless the inventory says otherwise)."""
    return tuple(ProbeTarget(p.name, "vip", p.url, p.interval, p.timeout) for p in probes)


def api_url(address: str, scheme: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}:{port}/"


def api_targets(inventory: Inventory, params: Mapping[str, Any]) -> tuple[ProbeTarget, ...]:
    """A GET on the Octavia API of every ``api`` host, as ``wait-api`` polls it
    (the runbook's ``api_scheme`` and ``api_port``; http and 9876 by default),
    at the inventory's ``api_probe`` interval; none with ``api_probe: false``."""
    if inventory.api_probe is None:
        return ()
    scheme = str(params.get("api_scheme") or "http")
    port = int(params.get("api_port") or 9876)
    return tuple(ProbeTarget(f"api@{h.name}", "api", api_url(h.address, scheme, port),
                             inventory.api_probe.interval, inventory.api_probe.timeout,
                             host=h.name)
                 for h in inventory.hosts if "api" in h.roles)


class ProbeRunner:
    """Samples every target until stopped; flushes the series every ``flush_every`` s."""

    def __init__(self, targets: Iterable[ProbeTarget],
                 sink: Callable[[list[ProbeSeries]], None], flush_every: float = 2.0,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        self.targets = tuple(targets)
        self.sink = sink
        self.flush_every = flush_every
        self.on_error = on_error
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._tallies = {t.name: Tally(t) for t in self.targets}
        self._lock = threading.Lock()

    def start(self) -> ProbeRunner:
        for t in self.targets:
            th = threading.Thread(target=self._loop, args=(t,), name=f"probe-{t.name}",
                                  daemon=True)
            th.start()
            self._threads.append(th)
        if self.targets:
            th = threading.Thread(target=self._flusher, name="probe-flush", daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def stop(self) -> None:
        self._stop.set()
        for th in self._threads:
            th.join(timeout=10)
        self._flush()

    def series(self) -> list[ProbeSeries]:
        """Every target's series so far."""
        with self._lock:
            found = [t.series() for t in self._tallies.values()]
        return [s for s in found if s is not None]

    def _loop(self, target: ProbeTarget) -> None:
        # A fixed cadence: the next sample is due one interval after the
        # previous one was due, not after it answered (a slot missed while a
        # request hung is skipped, not made up for).
        due = time.monotonic()
        while not self._stop.is_set():
            s = sample(target)
            with self._lock:
                self._tallies[target.name].add(s.at, s.ok, s.latency_ms, s.error)
            due += target.interval
            now = time.monotonic()
            if due < now:
                due = now
            self._stop.wait(due - now)

    def _flusher(self) -> None:
        while not self._stop.wait(self.flush_every):
            self._flush()

    def _flush(self) -> None:
        batch = self.series()
        if not batch:
            return
        try:
            self.sink(batch)
        except Exception as exc:  # noqa: BLE001 - a probe must never stop the run
            if self.on_error is not None:
                self.on_error(exc)
