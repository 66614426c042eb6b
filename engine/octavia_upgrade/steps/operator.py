"""Steps that run on the operator's side: ``approval``, ``assert`` and ``sleep``."""

from __future__ import annotations

from typing import Any

from octavia_upgrade import templating
from octavia_upgrade.model import Flavor, Host, Step, parse_duration
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext


class Approval(Kind):
    name = "approval"
    placement = "local"

    def describe(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
                 *, deferred: bool) -> list[str]:
        return [f"APPROVAL: {templating.render_value(step.with_['message'], ctx).strip()}"]

    def run(self, t: TaskContext) -> Outcome:
        msg = templating.render_value(t.step.with_["message"], t.ctx).strip()
        impact = t.step.data_plane_impact or t.step.with_.get("data_plane_impact")
        a = t.approver(t.step, msg, impact)
        return Outcome("succeeded", 0, f"approved by {a.user} ({a.how})", "",
                       {"approved_by": a.user, "how": a.how},
                       evidence=[("approval", {"user": a.user, "how": a.how, "at": a.at,
                                               "message": msg, "data_plane_impact": impact})])


class Assert(Kind):
    name = "assert"
    placement = "local"

    def template_fields(self, step: Step) -> list[str]:
        return [str(step.with_["that"])]

    def describe(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
                 *, deferred: bool) -> list[str]:
        return [f"assert {step.with_['that']}"]

    def run(self, t: TaskContext) -> Outcome:
        ok = bool(templating.evaluate(str(t.step.with_["that"]), t.ctx))
        if ok:
            return Outcome("succeeded", 0, "assertion holds", "", {"value": True})
        msg = templating.render_value(t.step.with_.get("message", "assertion failed"), t.ctx)
        return Outcome("failed", 1, "", "", {"value": False},
                       message=f"{msg} ({t.step.with_['that']})")


class Sleep(Kind):
    name = "sleep"
    placement = "local"

    def describe(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
                 *, deferred: bool) -> list[str]:
        return [f"sleep {step.with_['duration']}"]

    def run(self, t: TaskContext) -> Outcome:
        t.sleep(parse_duration(t.step.with_["duration"]))
        return Outcome("succeeded", 0)


KINDS = {"approval": Approval(), "assert": Assert(), "sleep": Sleep()}
