"""``service``: stop/start/restart/status of Octavia services through the flavor.

Only the services a host has a role for are touched, in the order listed.
With ``verify`` (default), a stop is confirmed by ``is_active`` turning false
and a start by it turning true, within ``verify_timeout``.
"""

from __future__ import annotations

import time
from typing import Any

from octavia_upgrade.model import Flavor, Host, Inventory, Step, parse_duration
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action


def host_services(step: Step, host: Host | None) -> list[str]:
    wanted = list(step.with_.get("services") or ())
    if host is None:
        return wanted
    return [s for s in wanted if s in host.roles]


class Service(Kind):
    name = "service"

    def default_hosts(self, step: Step, inventory: Inventory) -> tuple[Host, ...]:
        wanted = set(step.with_.get("services") or ())
        return tuple(h for h in inventory.hosts if wanted & set(h.roles))

    def describe(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
                 *, deferred: bool) -> list[str]:
        act = step.with_["action"]
        name = "service_is_active" if act == "status" else f"service_{act}"
        return [action(flavor, name, ctx, unit=flavor.services[s], service=s)
                for s in host_services(step, host)]

    def run(self, t: TaskContext) -> Outcome:
        w = t.step.with_
        act = w["action"]
        verify = bool(w.get("verify", True)) and act != "status"
        verify_timeout = parse_duration(w.get("verify_timeout", "60s"))
        out: list[str] = []
        states: dict[str, str] = {}
        deadline = t.deadline()
        for svc in host_services(t.step, t.host):
            unit = t.flavor.services[svc]
            if act == "status":
                cmd = action(t.flavor, "service_is_active", t.ctx, unit=unit, service=svc)
                res = t.runner.run(cmd, timeout=t.remaining(deadline))
                states[svc] = "active" if res.rc == 0 else "inactive"
                out.append(f"{unit}: {states[svc]}")
                continue
            cmd = action(t.flavor, f"service_{act}", t.ctx, unit=unit, service=svc)
            res = t.runner.run(cmd, timeout=t.remaining(deadline))
            out.append(f"$ {cmd}\n{res.stdout}{res.stderr}".rstrip())
            if res.timed_out:
                return Outcome("timed_out", res.rc, "\n".join(out), res.stderr,
                               {"services": states},
                               message=f"{act} {unit} did not finish in time; the command was stopped")
            if res.rc != 0:
                return Outcome("failed", res.rc, "\n".join(out), res.stderr, {"services": states},
                               message=f"{act} {unit} failed (rc {res.rc})")
            if verify:
                want_active = act in ("start", "restart")
                state = self._wait_state(t, unit, svc, want_active, verify_timeout)
                states[svc] = "active" if state else "inactive"
                if state != want_active:
                    return Outcome("failed", 1, "\n".join(out), "", {"services": states},
                                   message=f"{unit} is still {'inactive' if want_active else 'active'}"
                                           f" {verify_timeout:.0f}s after {act}")
            else:
                states[svc] = "active" if act in ("start", "restart") else "inactive"
        return Outcome("succeeded", 0, "\n".join(out), "", {"services": states},
                       evidence=[("services", {"action": act, "states": states})])

    @staticmethod
    def _wait_state(t: TaskContext, unit: str, svc: str, active: bool, limit: float) -> bool:
        cmd = action(t.flavor, "service_is_active", t.ctx, unit=unit, service=svc)
        end = time.monotonic() + limit
        while True:
            res = t.runner.run(cmd, timeout=30)
            state = res.rc == 0
            if state == active or time.monotonic() >= end:
                return state
            t.sleep(0.5)


KINDS = {"service": Service()}
