"""Steps that run on the operator's side: ``approval``, ``assert`` and ``sleep``."""

from __future__ import annotations

from typing import Any

from octavia_upgrade import templating
from octavia_upgrade.commands import PlannedCommand
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import ApprovalArgs, AssertArgs, SleepArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext

APPROVAL_PREFIX = "APPROVAL: "


class Approval(Kind):
    name = "approval"
    placement = "local"

    def template_fields(self, args: Any) -> list[str]:
        return [args.message]

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        message = step.args.message.strip()
        human = "an operator at a terminal only: --yes never gives it" \
            if step.args.requires_human else ""
        if deferred:
            return [PlannedCommand("approval", APPROVAL_PREFIX + message, render="text",
                                   note="; ".join(filter(None, (
                                       "the message is completed with earlier steps' outputs",
                                       human))))]
        return [PlannedCommand("approval", APPROVAL_PREFIX
                               + templating.render_value(message, ctx).strip(), note=human)]

    def run(self, t: TaskContext) -> Outcome:
        a: ApprovalArgs = t.args
        msg = t.record("approval").removeprefix(APPROVAL_PREFIX).strip()
        impact = t.step.data_plane_impact or a.data_plane_impact
        approved = t.approver(t.step, msg, impact)
        return Outcome("succeeded", 0, f"approved by {approved.user} ({approved.how})", "",
                       {"approved_by": approved.user, "how": approved.how},
                       evidence=[("approval", {"user": approved.user, "how": approved.how,
                                               "at": approved.at, "message": msg,
                                               "data_plane_impact": impact,
                                               "decisions": list(approved.decisions)})])


class Assert(Kind):
    name = "assert"
    placement = "local"

    def template_fields(self, args: Any) -> list[str]:
        return [str(args.that)]

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        return [PlannedCommand("assert", f"assert {step.args.that}",
                               note="evaluated when the step runs")]

    def run(self, t: TaskContext) -> Outcome:
        a: AssertArgs = t.args
        t.record("assert")
        ok = bool(templating.evaluate(str(a.that), t.ctx))
        if ok:
            return Outcome("succeeded", 0, "assertion holds", "", {"value": True})
        msg = templating.render_value(a.message, t.ctx)
        return Outcome("failed", 1, "", "", {"value": False}, message=f"{msg} ({a.that})")


class Sleep(Kind):
    name = "sleep"
    placement = "local"

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        return [PlannedCommand("sleep", f"sleep {step.args.duration:g}s")]

    def run(self, t: TaskContext) -> Outcome:
        t.record("sleep")
        t.sleep(t.args.duration)
        return Outcome("succeeded", 0)


KINDS = {"approval": Approval(), "assert": Assert(), "sleep": Sleep()}
