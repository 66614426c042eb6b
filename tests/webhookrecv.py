"""A real HTTP receiver on loopback that checks each request's HMAC signature."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from octavia_upgrade.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, verify


class Receiver:
    """``url`` takes POSTs; ``events`` are the bodies whose signature checked out.

    ``fail_first``: answer 500 to that many requests first; ``delay``: seconds
    to wait before answering each request.
    """

    def __init__(self, secret: str, *, fail_first: int = 0, delay: float = 0.0) -> None:
        self.secret, self.fail_first, self.delay = secret, fail_first, delay
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.requests = 0
        self.headers: list[dict[str, str]] = []
        self.raw: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests += 1
                if outer.delay:
                    time.sleep(outer.delay)
                outer.raw.append(body)
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                if not verify(outer.secret, body, self.headers.get(SIGNATURE_HEADER)):
                    outer.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                outer.headers.append({k: self.headers.get(k, "") for k in (
                    EVENT_HEADER, DELIVERY_HEADER, SIGNATURE_HEADER)})
                outer.events.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/upgrade"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kinds(self) -> list[str]:
        return [e.get("event", "") for e in self.events]


def closed_port_url() -> str:
    """A loopback URL nobody listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nobody"
