"""A stand-in Octavia v2 API on a loopback port, for tests of the API client's edges.

It answers what a real API answers to the calls the engine makes (version
discovery, lists, show, failover), from data the test sets, and records
every request. Answers can be replaced by an error (status + Octavia's
``faultstring`` body) to test how failures are reported.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OctaviaStub:
    def __init__(self) -> None:
        self.loadbalancers: list[dict[str, Any]] = []
        self.amphorae: list[dict[str, Any]] = []
        self.listeners: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        #: (status, faultstring) answered to every /v2 request when set.
        self.error: tuple[int, str] | None = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                path = self.path.split("?")[0].rstrip("/")
                stub.requests.append((method, path))
                if path in ("", "/v2") and method == "GET":
                    return self._send(200, {"versions": [{
                        "id": "v2.0", "status": "CURRENT",
                        "links": [{"href": f"http://{self.headers['Host']}/v2", "rel": "self"}]}]})
                if stub.error:
                    code, text = stub.error
                    return self._send(code, {"faultcode": "Client", "faultstring": text,
                                             "debuginfo": None})
                lists = {"/v2/lbaas/loadbalancers": "loadbalancers",
                         "/v2/octavia/amphorae": "amphorae", "/v2/lbaas/listeners": "listeners"}
                if method == "GET" and path in lists:
                    return self._send(200, {lists[path]: getattr(stub, lists[path])})
                if method == "GET" and path.startswith("/v2/lbaas/loadbalancers/"):
                    lb_id = path.rsplit("/", 1)[1]
                    for lb in stub.loadbalancers:
                        if lb["id"] == lb_id:
                            return self._send(200, {"loadbalancer": lb})
                if method == "PUT" and path.endswith("/failover"):
                    self.send_response(202)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return self._send(404, {"faultcode": "Client", "faultstring": "not found"})

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_PUT(self) -> None:  # noqa: N802
                self._handle("PUT")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> OctaviaStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
