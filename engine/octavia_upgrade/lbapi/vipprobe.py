"""A load balancer VIP's availability while its amphorae are replaced.

A background thread opens a TCP connection to the VIP every 200 ms (5 Hz)
and records whether it succeeded; :meth:`VipProbe.stats` gives the
availability and the longest gap (first failed sample → next good one). A
VIP the operator machine cannot reach before the failover is not probed,
and the evidence says so instead of counting it as an outage.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: Seconds between two samples (5 Hz).
INTERVAL = 0.2
#: A connection slower than this counts as a failed sample.
CONNECT_TIMEOUT = 0.5
#: Listener protocols a TCP connection can probe.
TCP_PROTOCOLS = ("TCP", "HTTP", "HTTPS", "TERMINATED_HTTPS", "PROXY")


def connects(address: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def target(lb: Mapping[str, Any], listeners: Iterable[Mapping[str, Any]],
           probe_urls: Iterable[str] = ()) -> tuple[str, int] | None:
    """Where to probe ``lb``'s VIP: an inventory probe on its address, else a TCP listener."""
    vip = str(lb.get("vip_address") or "")
    if not vip:
        return None
    for url in probe_urls:
        parts = urlsplit(url)
        if parts.hostname == vip:
            return vip, parts.port or (443 if parts.scheme == "https" else 80)
    ids = {str(x.get("id")) if isinstance(x, Mapping) else str(x) for x in lb.get("listeners") or ()}
    for ls in listeners:
        if str(ls.get("id")) in ids and str(ls.get("protocol") or "").upper() in TCP_PROTOCOLS:
            return vip, int(ls.get("protocol_port") or 0)
    return None


@dataclass(frozen=True)
class VipStats:
    target: str
    samples: int
    failures: int
    availability: float | None  # percent
    longest_gap: float  # seconds

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "samples": self.samples, "failures": self.failures,
                "availability": self.availability, "longest_gap": self.longest_gap}


def summarize(target_text: str, samples: list[tuple[float, bool]]) -> VipStats:
    """Availability and longest gap of ``(monotonic time, ok)`` samples in order."""
    n = len(samples)
    fails = sum(1 for _, ok in samples if not ok)
    gap, start = 0.0, None
    for at, ok in samples:
        if not ok and start is None:
            start = at
        elif ok and start is not None:
            gap, start = max(gap, at - start), None
    if start is not None:  # still failing at the end: until the last sample
        gap = max(gap, samples[-1][0] - start + INTERVAL)
    return VipStats(target_text, n, fails, round(100.0 * (n - fails) / n, 2) if n else None,
                    round(gap, 3))


class VipProbe:
    """Samples ``address:port`` at 5 Hz from :meth:`start` to :meth:`stop`."""

    def __init__(self, address: str, port: int, interval: float = INTERVAL) -> None:
        self.address, self.port, self.interval = address, port, interval
        self.samples: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"vip-probe-{address}:{port}")

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            at = time.monotonic()
            self.samples.append((at, connects(self.address, self.port,
                                              min(CONNECT_TIMEOUT, self.interval * 2.5))))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> VipProbe:
        self._thread.start()
        return self

    def stop(self) -> VipStats:
        self._stop.set()
        self._thread.join(timeout=5)
        return summarize(f"{self.address}:{self.port}", list(self.samples))
