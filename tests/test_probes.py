"""VIP probes against a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import threading
import time

from octavia_upgrade.model import Probe
from octavia_upgrade.probes import ProbeRunner, sample


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_samples_track_a_server_going_away() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    got: list = []
    runner = ProbeRunner((Probe("vip", url, interval=0.05, timeout=1.0),), got.extend,
                         flush_every=0.1).start()
    try:
        time.sleep(0.5)
        server.shutdown()
        server.server_close()
        time.sleep(0.5)
    finally:
        runner.stop()
    assert got, "no samples recorded"
    assert got[0].ok and got[0].probe == "vip" and got[0].at.tzinfo is not None
    assert not got[-1].ok and got[-1].error
    assert [s.at for s in got] == sorted(s.at for s in got)


def test_http_error_status_is_a_failure() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = sample(Probe("x", f"http://127.0.0.1:{server.server_address[1]}/missing-path"))
    finally:
        server.shutdown()
        server.server_close()
    assert not s.ok and s.error == "HTTP 404"
