"""Events out: JSON POSTs signed with HMAC-SHA256, retried with backoff, in the background.

A :class:`WebhookSender` owns one daemon thread and a queue: :meth:`send`
never blocks and never raises, so a slow, failing or unreachable receiver
cannot hold up or fail an upgrade. Each delivery is retried with
exponential backoff; one that still fails is handed to ``on_failure`` (the
run records and shows it). :meth:`close` gives the queue a bounded time to
drain, then reports what was left undelivered.

Every request carries::

    Content-Type: application/json
    X-Octavia-Upgrade-Event: <event name>
    X-Octavia-Upgrade-Delivery: <unique id of this event>
    X-Octavia-Upgrade-Signature: sha256=<hex HMAC-SHA256 of the body, keyed by the secret>

A receiver recomputes the HMAC of the raw body with the shared secret and
compares it in constant time (``hmac.compare_digest``). The ``slack``
format posts ``{"text": ...}`` (a Slack incoming webhook, or anything that
takes the same), signed the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "X-Octavia-Upgrade-Signature"
EVENT_HEADER = "X-Octavia-Upgrade-Event"
DELIVERY_HEADER = "X-Octavia-Upgrade-Delivery"
FORMATS = ("json", "slack")


def signature(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` (constant-time comparison)."""
    return header is not None and hmac.compare_digest(signature(secret, body), header)


@dataclass(frozen=True)
class WebhookConfig:
    urls: tuple[str, ...]
    secret: str | None = None
    format: str = "json"
    timeout: float = 5.0
    attempts: int = 5
    backoff: float = 1.0
    #: Seconds the end of a run waits for undelivered events.
    drain: float = 10.0


@dataclass(frozen=True)
class Failure:
    url: str
    event: str
    error: str
    attempts: int


def slack_text(event: dict[str, Any]) -> str:
    """One line for a chat channel."""
    run = event.get("run") or {}
    data = event.get("data") or {}
    change = (run.get("change") or {}).get("id")
    head = f"[octavia-upgrade] {run.get('deployment', '?')} run {run.get('id', '?')}"
    if change:
        head += f" ({change})"
    details = ", ".join(f"{k}: {v}" for k, v in data.items()
                        if v not in (None, "", [], {}) and not isinstance(v, dict))
    return f"{head}: {event.get('event')}" + (f" ({details})" if details else "")


class WebhookSender:
    """Delivers events to every configured URL from one background thread."""

    def __init__(self, config: WebhookConfig,
                 on_failure: Callable[[Failure], None] | None = None,
                 opener: Callable[..., Any] | None = None) -> None:
        self.config = config
        self.on_failure = on_failure or (lambda f: None)
        self._open = opener or urllib.request.urlopen
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stop = threading.Event()
        self.delivered = 0
        self.failures: list[Failure] = []
        self._thread = threading.Thread(target=self._work, name="webhooks", daemon=True)
        self._thread.start()

    def send(self, event: dict[str, Any]) -> None:
        """Queue ``event`` (a JSON-ready mapping with ``event``); returns at once."""
        self._queue.put(dict(event, delivery=str(uuid.uuid4())))

    def close(self) -> int:
        """Wait up to ``drain`` seconds for the queue; the number of events left undelivered."""
        self._queue.put(None)
        self._thread.join(self.config.drain)
        self._stop.set()
        left = 0
        while not self._queue.empty():
            if self._queue.get_nowait() is not None:
                left += 1
        return left + (1 if self._thread.is_alive() else 0)

    def _work(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            for url in self.config.urls:
                self._deliver(url, event)

    def _body(self, event: dict[str, Any]) -> bytes:
        doc: Any = event if self.config.format == "json" else {"text": slack_text(event)}
        return json.dumps(doc, sort_keys=True, default=str).encode()

    def _deliver(self, url: str, event: dict[str, Any]) -> None:
        body = self._body(event)
        headers = {"Content-Type": "application/json", EVENT_HEADER: str(event["event"]),
                   DELIVERY_HEADER: str(event["delivery"]),
                   "User-Agent": "octavia-upgrade-webhooks"}
        if self.config.secret:
            headers[SIGNATURE_HEADER] = signature(self.config.secret, body)
        error = ""
        for attempt in range(1, self.config.attempts + 1):
            try:
                req = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with self._open(req, timeout=self.config.timeout) as resp:
                    status = getattr(resp, "status", 200)
                if 200 <= status < 300:
                    self.delivered += 1
                    return
                error = f"HTTP {status}"
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                error = str(getattr(exc, "reason", exc))
            if attempt < self.config.attempts:
                if self._stop.wait(self.config.backoff * 2 ** (attempt - 1)):
                    break
        failure = Failure(url=safe_url(url), event=str(event["event"]), error=error,
                          attempts=attempt)
        self.failures.append(failure)
        try:
            self.on_failure(failure)
        except Exception:  # noqa: BLE001 - reporting a failed delivery must not kill the thread
            pass


def safe_url(url: str) -> str:
    """The URL without credentials, path or query: any of them may hold a token
    (a Slack incoming webhook's path is its secret)."""
    from urllib.parse import urlsplit

    try:
        p = urlsplit(url)
        host = p.hostname or ""
        port = f":{p.port}" if p.port else ""
        return f"{p.scheme}://{host}{port}" + ("/…" if p.path not in ("", "/") else "")
    except ValueError:
        return "<invalid URL>"


def from_settings(settings: Any) -> WebhookConfig | None:
    """The ``[webhooks]`` configuration, or None when no URL is configured."""
    urls: Sequence[str] = tuple(getattr(settings, "webhooks_urls", ()) or ())
    if not urls:
        return None
    return WebhookConfig(urls=tuple(urls), secret=getattr(settings, "webhooks_secret", None),
                         format=getattr(settings, "webhooks_format", "json"),
                         timeout=getattr(settings, "webhooks_timeout", 5.0),
                         attempts=getattr(settings, "webhooks_attempts", 5),
                         backoff=getattr(settings, "webhooks_backoff", 1.0),
                         drain=getattr(settings, "webhooks_drain", 10.0))


__all__ = ["DELIVERY_HEADER", "EVENT_HEADER", "FORMATS", "Failure", "SIGNATURE_HEADER",
           "WebhookConfig", "WebhookSender", "from_settings", "safe_url", "signature",
           "slack_text", "verify"]
