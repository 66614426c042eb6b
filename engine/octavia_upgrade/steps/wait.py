"""``wait``: poll until an HTTP URL, a TCP port or a command is healthy.

``http`` and ``tcp`` are checked from the operator machine (where the tool
runs, as an operator would check an endpoint); ``command`` runs on each
target host.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from typing import Any

from octavia_upgrade import templating
from octavia_upgrade.model import Flavor, Host, Step, parse_duration
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext


class Wait(Kind):
    name = "wait"

    def template_fields(self, step: Step) -> list[str]:
        return [str(step.with_[k]) for k in ("command", "http", "tcp") if k in step.with_]

    def _target(self, step: Step, ctx: dict[str, Any]) -> tuple[str, str]:
        for k in ("http", "tcp"):
            if k in step.with_:
                return k, templating.render_value(str(step.with_[k]), ctx)
        return "command", templating.render_command(step.with_["command"], ctx)

    def describe(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
                 *, deferred: bool) -> list[str]:
        k, v = self._target(step, ctx) if not deferred else ("command", step.with_.get("command"))
        limit = step.with_.get("timeout", "120s")
        return [f"wait up to {limit} for {k} {v}" if k != "command" else f"until {v}  (up to {limit})"]

    def run(self, t: TaskContext) -> Outcome:
        w = t.step.with_
        limit = parse_duration(w.get("timeout", "120s"))
        interval = parse_duration(w.get("interval", "2s"))
        expect = tuple(w.get("expect_status", (200,)))
        kind, target = self._target(t.step, t.ctx)
        end = time.monotonic() + limit
        tries, last = 0, ""
        while True:
            tries += 1
            ok, last = self._probe(t, kind, target, expect, interval)
            if ok:
                return Outcome("succeeded", 0, last, "", {"tries": tries},
                               message=f"{kind} {target} healthy after {tries} check(s)")
            if time.monotonic() >= end:
                return Outcome("timed_out", None, last, "", {"tries": tries},
                               message=f"{kind} {target} not healthy after {limit:.0f}s: {last}")
            t.sleep(interval)

    @staticmethod
    def _probe(t: TaskContext, kind: str, target: str, expect: tuple[int, ...],
               interval: float) -> tuple[bool, str]:
        timeout = max(1.0, min(10.0, interval * 2))
        if kind == "http":
            try:
                with urllib.request.urlopen(target, timeout=timeout) as resp:  # noqa: S310
                    return resp.status in expect, f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:
                return exc.code in expect, f"HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                return False, str(exc)
        if kind == "tcp":
            hostport, _, port = target.rpartition(":")
            try:
                with socket.create_connection((hostport.strip("[]"), int(port)), timeout=timeout):
                    return True, "connected"
            except (OSError, ValueError) as exc:
                return False, str(exc)
        res = t.runner.run(target, timeout=max(5.0, interval * 5))
        return res.rc == 0, (res.stdout + res.stderr).strip()[-500:] or f"rc {res.rc}"


KINDS = {"wait": Wait()}
