"""Data-plane probes: sample load balancer VIP URLs throughout a run.

The upgrade guide expects no data-plane disruption from a cold upgrade; the
probes measure it. A background thread polls each inventory probe at its
interval and hands samples to a callback (the state store) in small batches.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone

from octavia_upgrade.model import Probe
from octavia_upgrade.state.records import ProbeSample as Sample


def sample(probe: Probe) -> Sample:
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


class ProbeRunner:
    """Samples every probe until stopped; flushes samples every ``flush_every`` seconds."""

    def __init__(self, probes: tuple[Probe, ...], sink: Callable[[list[Sample]], None],
                 flush_every: float = 2.0) -> None:
        self.probes = probes
        self.sink = sink
        self.flush_every = flush_every
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._buf: list[Sample] = []
        self._lock = threading.Lock()

    def start(self) -> ProbeRunner:
        for p in self.probes:
            th = threading.Thread(target=self._loop, args=(p,), name=f"probe-{p.name}", daemon=True)
            th.start()
            self._threads.append(th)
        if self.probes:
            th = threading.Thread(target=self._flusher, name="probe-flush", daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def stop(self) -> None:
        self._stop.set()
        for th in self._threads:
            th.join(timeout=10)
        self._flush()

    def _loop(self, probe: Probe) -> None:
        while not self._stop.is_set():
            s = sample(probe)
            with self._lock:
                self._buf.append(s)
            self._stop.wait(probe.interval)

    def _flusher(self) -> None:
        while not self._stop.wait(self.flush_every):
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            batch, self._buf = self._buf, []
        if batch:
            self.sink(batch)
