"""The live page's HTTP server: the page, its JSON and the metrics; GET only, no secrets.

Each request opens nothing new: one store serves them all (SQLAlchemy's
pool is thread-safe) and every answer is read from the state database as it
is now, so the page shows what any run, in any process or on any machine
sharing the database, has recorded.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

from octavia_upgrade.errors import InvalidInput

_RUN = re.compile(r"^/api/runs/([0-9A-Za-z_.-]{1,64})$")
_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                       "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"}


def page() -> bytes:
    return files("octavia_upgrade.liveview").joinpath("page.html").read_bytes()


def make_server(store: Any, host: str, port: int, redact: Any = None) -> ThreadingHTTPServer:
    """A server (not yet serving) bound to ``host:port`` (port 0: any free one)."""
    from octavia_upgrade.liveview import data

    redact = redact or (lambda v: v)
    body_of_page = page()

    class Handler(BaseHTTPRequestHandler):
        server_version = "octavia-upgrade"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            try:
                if path in ("/", "/index.html"):
                    self._send(200, body_of_page, "text/html; charset=utf-8")
                elif path == "/api/runs":
                    self._json(200, data.runs(store))
                elif (m := _RUN.match(path)) is not None:
                    self._json(200, data.run_detail(store, m.group(1)))
                elif path == "/metrics":
                    from octavia_upgrade.metrics import render

                    self._send(200, redact(render(store)).encode(),
                               "text/plain; version=0.0.4; charset=utf-8")
                else:
                    self._json(404, {"error": "not found"})
            except InvalidInput as exc:
                self._json(404, {"error": str(exc)})
            except Exception as exc:  # noqa: BLE001 - one bad request never stops the server
                self._json(500, {"error": type(exc).__name__})

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def _refuse(self) -> None:
            self._json(405, {"error": "read-only: approvals and changes stay in the CLI"})

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

        def _json(self, code: int, doc: Any) -> None:
            self._send(code, json.dumps(redact(doc), default=str).encode(),
                       "application/json")

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in _HEADERS.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)
