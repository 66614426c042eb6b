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
from octavia_upgrade.commands import PlannedCommand
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import WaitArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext
from octavia_upgrade.wording import plural

#: How each probe is written in the plan (the verb before its target).
VERBS = {"http": "GET ", "tcp": "connect ", "command": ""}


class Wait(Kind):
    name = "wait"

    def template_fields(self, args: Any) -> list[str]:
        return [args.probe[1]]

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        a: WaitArgs = step.args
        kind, template = a.probe
        until = {"http": f"until HTTP {'/'.join(map(str, a.expect_status))}",
                 "tcp": "until it accepts a connection", "command": "until it exits 0"}[kind]
        note = f"{until}, every {a.interval:g}s, up to {a.timeout:g}s"
        if kind == "command":
            render = "shell" if deferred else ""
            text = template if deferred else templating.render_command(template, ctx)
        else:
            render = "text" if deferred else ""
            text = template if deferred else templating.render_value(template, ctx)
        return [PlannedCommand(kind, VERBS[kind] + text, render=render, note=note)]

    def run(self, t: TaskContext) -> Outcome:
        a: WaitArgs = t.args
        kind = a.probe[0]
        target = t.text(kind).removeprefix(VERBS[kind])
        end = time.monotonic() + a.timeout
        tries, last = 0, ""
        while True:
            tries += 1
            ok, last = self._probe(t, kind, target, a.expect_status, a.interval)
            # A command is in the step's record already, and may be long: its answer is
            # what the operator needs in the one-line message.
            what = "the command" if kind == "command" else f"{kind} {target}"
            if ok:
                return Outcome("succeeded", 0, last, "", {"tries": tries},
                               message=f"{what} healthy after {plural(tries, 'check')}")
            if time.monotonic() >= end:
                return Outcome("timed_out", None, last, "", {"tries": tries},
                               message=f"{what} not healthy after {a.timeout:.0f}s "
                                       f"({plural(tries, 'check')}): "
                                       + "; ".join(last.splitlines()))
            t.sleep(a.interval)

    @staticmethod
    def _probe(t: TaskContext, kind: str, target: str, expect: tuple[int, ...],
               interval: float) -> tuple[bool, str]:
        timeout = max(1.0, min(10.0, interval * 2))
        if kind == "command":
            res = t.run("command", timeout=max(5.0, interval * 5))
            return res.rc == 0, (res.stdout + res.stderr).strip()[-500:] or f"rc {res.rc}"
        t.record(kind)
        if kind == "http":
            try:
                with urllib.request.urlopen(target, timeout=timeout) as resp:  # noqa: S310
                    return resp.status in expect, f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:
                return exc.code in expect, f"HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                return False, str(exc)
        hostport, _, port = target.rpartition(":")
        try:
            with socket.create_connection((hostport.strip("[]"), int(port)), timeout=timeout):
                return True, "connected"
        except (OSError, ValueError) as exc:
            return False, str(exc)


KINDS = {"wait": Wait()}
