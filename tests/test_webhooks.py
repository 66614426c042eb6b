"""Webhooks against a real HTTP receiver on loopback that checks the HMAC."""

from __future__ import annotations

import json
import time

from webhookrecv import Receiver, closed_port_url

from octavia_upgrade.webhooks import (WebhookConfig, WebhookSender, safe_url, signature,
                                      slack_text, verify)

SECRET = "hook-s3cret"
EVENT = {"event": "approved", "at": "2026-12-05T20:00:00.000Z",
         "run": {"id": "20261205-200000-abcd", "deployment": "prod-east",
                 "change": {"id": "CHG0042", "url": None}},
         "data": {"step_id": "approve-control-plane-outage", "by": ["bob@example.org"]}}


def sender(urls: list[str], **kw: object) -> WebhookSender:
    cfg = WebhookConfig(urls=tuple(urls), secret=SECRET, **{"backoff": 0.05, **kw})  # type: ignore[arg-type]
    return WebhookSender(cfg, on_failure=failures.append)


failures: list = []


def test_events_are_posted_signed_and_the_signature_checks() -> None:
    with Receiver(SECRET) as rx:
        s = sender([rx.url])
        s.send(EVENT)
        assert s.close() == 0
    (got,) = rx.events
    assert got["event"] == "approved" and got["run"]["change"]["id"] == "CHG0042"
    assert rx.headers[0]["X-Octavia-Upgrade-Event"] == "approved"
    assert rx.headers[0]["X-Octavia-Upgrade-Signature"] == signature(SECRET, rx.raw[0])
    assert rx.bad_signatures == 0 and SECRET not in rx.raw[0].decode()
    assert verify(SECRET, rx.raw[0], rx.headers[0]["X-Octavia-Upgrade-Signature"])
    assert not verify("other", rx.raw[0], rx.headers[0]["X-Octavia-Upgrade-Signature"])


def test_a_wrong_secret_is_refused_by_the_receiver() -> None:
    with Receiver("receiver-knows-another") as rx:
        s = sender([rx.url], attempts=1)
        s.send(EVENT)
        s.close()
    assert rx.events == [] and rx.bad_signatures == 1


def test_a_failing_receiver_is_retried_with_backoff_then_delivered() -> None:
    with Receiver(SECRET, fail_first=2) as rx:
        s = sender([rx.url], attempts=4)
        s.send(EVENT)
        assert s.close() == 0
    assert rx.requests == 3 and len(rx.events) == 1 and s.failures == []


def test_unreachable_and_slow_receivers_never_block_and_are_reported() -> None:
    failures.clear()
    with Receiver(SECRET, delay=2.0) as slow:
        s = sender([closed_port_url(), slow.url], attempts=2, timeout=0.3, drain=1.0)
        started = time.monotonic()
        for _ in range(5):
            s.send(EVENT)
        assert time.monotonic() - started < 0.1  # send() only queues
        left = s.close()
        assert time.monotonic() - started < 3.0  # bounded by drain
    assert left >= 1
    reported = {(f.url, f.event) for f in failures}
    assert any(u.startswith("http://127.0.0.1:") for u, _ in reported)
    assert all("/nobody" not in u and "/hooks" not in u for u, _ in reported)  # paths hidden


def test_the_slack_format_posts_one_line_of_text() -> None:
    with Receiver(SECRET) as rx:
        s = sender([rx.url], format="slack")
        s.send(EVENT)
        s.close()
    (got,) = rx.events
    assert set(got) == {"text"}
    assert got["text"] == slack_text(EVENT)
    assert "prod-east run 20261205-200000-abcd (CHG0042): approved" in got["text"]


def test_a_url_is_reported_without_its_secrets() -> None:
    assert safe_url("https://user:pw@hooks.example.com:8443/services/T0/B0/XXX?token=t") == \
        "https://hooks.example.com:8443/…"
    assert json.dumps(safe_url("http://x/")) == '"http://x"'
