"""``service``: stop/start/restart/status of Octavia services through the flavor.

Only the services a host has a role for are touched, in the order listed
(without ``services``: every service the host runs, in the guide's stop
order, reversed for start and restart). With ``verify`` (default), a stop is
confirmed by ``is_active`` turning false before the next service stops; a
start or restart sends every service's command in order first and then
confirms each by ``is_active`` turning true, within ``verify_timeout``.
"""

from __future__ import annotations

import time
from typing import Any

from octavia_upgrade.commands import PlannedCommand, Prerequisite
from octavia_upgrade.model import SERVICES, Flavor, Host, Inventory, Step
from octavia_upgrade.steps.args import ServiceArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action

#: Seconds between two ``is_active`` checks while verifying (each check is one
#: command on an open connection; a state change is seen 0.1 s late on average).
VERIFY_INTERVAL = 0.2


#: Actions whose commands are all sent first, in order, and checked after: a
#: start does not wait for the check of the service started before it (the
#: order of the starts is kept). Stops stay one by one: the guide's stop order
#: means each service is down before the next one stops.
OVERLAPPED = ("start", "restart")


def host_services(args: ServiceArgs, host: Host | None) -> tuple[str, ...]:
    return args.services_on(None if host is None else host.roles)


class Service(Kind):
    name = "service"

    def default_hosts(self, step: Step, inventory: Inventory) -> tuple[Host, ...]:
        wanted = set(step.args.services or SERVICES)
        return tuple(h for h in inventory.hosts if wanted & set(h.roles))

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        a: ServiceArgs = step.args
        out: list[PlannedCommand] = []
        if a.action in OVERLAPPED and a.verify:
            return self._overlapped(a, flavor, ctx, host)
        for svc in host_services(a, host):
            unit = flavor.services[svc]
            check = action(flavor, "service_is_active", ctx, unit=unit, service=svc)
            if a.action == "status":
                out.append(PlannedCommand(f"status:{svc}", check,
                                          note="exit 0 = running"))
                continue
            out.append(PlannedCommand(f"{a.action}:{svc}",
                                      action(flavor, f"service_{a.action}", ctx, unit=unit,
                                             service=svc)))
            if a.verify:
                want = "stopped" if a.action == "stop" else "running"
                out.append(PlannedCommand(
                    f"verify:{svc}", check,
                    note=f"until {want}, every {VERIFY_INTERVAL:g}s, up to {a.verify_timeout:g}s"))
        return out

    def prerequisites(self, step: Step, flavor: Flavor, ctx: dict[str, Any],
                      host: Host | None) -> list[Prerequisite]:
        """The flavor's ``service`` checks, once for each service acted on on ``host``."""
        from octavia_upgrade.preflight import render

        return render(flavor, "service", ctx, host.name if host else "local",
                      [{"service": svc, "unit": flavor.services[svc]}
                       for svc in host_services(step.args, host)])

    @staticmethod
    def _overlapped(a: ServiceArgs, flavor: Flavor, ctx: dict[str, Any],
                    host: Host | None) -> list[PlannedCommand]:
        """Every start in the listed order, then every check: a service's start is
        not held back by the check of the one before it."""
        starts, checks = [], []
        want = "running"
        for svc in host_services(a, host):
            unit = flavor.services[svc]
            starts.append(PlannedCommand(f"{a.action}:{svc}", action(
                flavor, f"service_{a.action}", ctx, unit=unit, service=svc)))
            checks.append(PlannedCommand(
                f"verify:{svc}", action(flavor, "service_is_active", ctx, unit=unit, service=svc),
                note=f"until {want}, every {VERIFY_INTERVAL:g}s, up to {a.verify_timeout:g}s"))
        return starts + checks

    def run(self, t: TaskContext) -> Outcome:
        a: ServiceArgs = t.args
        if a.action in OVERLAPPED and any(c.key.startswith("verify:")
                                          for c in t.step.commands.get(t.host, ())):
            return self._run_overlapped(t, a)
        out: list[str] = []
        states: dict[str, str] = {}
        deadline = t.deadline()
        services = [c.key.split(":", 1)[1] for c in t.step.commands.get(t.host, ())
                    if c.key.startswith(f"{a.action}:")]
        for svc in services:
            if a.action == "status":
                res = t.run(f"status:{svc}", timeout=t.remaining(deadline))
                states[svc] = "active" if res.rc == 0 else "inactive"
                out.append(f"{svc}: {states[svc]}")
                continue
            failed = self._act(t, a, svc, deadline, out, states)
            if failed is not None:
                return failed
            if t.has(f"verify:{svc}"):
                want_active = a.action in ("start", "restart")
                state = self._wait_state(t, svc, want_active, a.verify_timeout)
                states[svc] = "active" if state else "inactive"
                if state != want_active:
                    return Outcome("failed", 1, "\n".join(out), "", {"services": states},
                                   message=f"{svc} is still "
                                           f"{'inactive' if want_active else 'active'} "
                                           f"{a.verify_timeout:.0f}s after {a.action}")
            else:
                states[svc] = "active" if a.action in ("start", "restart") else "inactive"
        evidence = [("services", {"action": a.action, "states": states})]
        down = [svc for svc, state in states.items() if state != "active"]
        if a.action == "status" and a.require_running and down:
            return Outcome("failed", 1, "\n".join(out), "", {"services": states},
                           evidence=evidence,
                           message=f"not running on {t.host}: {', '.join(down)}")
        return Outcome("succeeded", 0, "\n".join(out), "", {"services": states},
                       evidence=evidence)

    @staticmethod
    def _act(t: TaskContext, a: ServiceArgs, svc: str, deadline: float | None,
             out: list[str], states: dict[str, str]) -> Outcome | None:
        """Send ``svc``'s action command; the step's outcome when it failed, else None."""
        res = t.run(f"{a.action}:{svc}", timeout=t.remaining(deadline))
        out.append(f"$ {t.sent[-1]['sent']}\n{res.stdout}{res.stderr}".rstrip())
        if res.timed_out:
            return Outcome("timed_out", res.rc, "\n".join(out), res.stderr, {"services": states},
                           message=f"{a.action} {svc} did not finish in time; "
                                   "the command was stopped")
        if res.rc != 0:
            return Outcome("failed", res.rc, "\n".join(out), res.stderr, {"services": states},
                           message=f"{a.action} {svc} failed (rc {res.rc})")
        return None

    def _run_overlapped(self, t: TaskContext, a: ServiceArgs) -> Outcome:
        out: list[str] = []
        states: dict[str, str] = {}
        deadline = t.deadline()
        services = [c.key.split(":", 1)[1] for c in t.step.commands.get(t.host, ())
                    if c.key.startswith(f"{a.action}:")]
        for svc in services:
            failed = self._act(t, a, svc, deadline, out, states)
            if failed is not None:
                return failed
        for svc in services:
            state = self._wait_state(t, svc, True, a.verify_timeout)
            states[svc] = "active" if state else "inactive"
            if not state:
                return Outcome("failed", 1, "\n".join(out), "", {"services": states},
                               message=f"{svc} is still inactive "
                                       f"{a.verify_timeout:.0f}s after {a.action}")
        return Outcome("succeeded", 0, "\n".join(out), "", {"services": states},
                       evidence=[("services", {"action": a.action, "states": states})])

    @staticmethod
    def _wait_state(t: TaskContext, svc: str, active: bool, limit: float) -> bool:
        end = time.monotonic() + limit
        key = f"verify:{svc}"
        while True:
            res = t.run(key, timeout=30)
            state = res.rc == 0
            if state == active or time.monotonic() >= end:
                return state
            t.sleep(VERIFY_INTERVAL)


KINDS = {"service": Service()}
