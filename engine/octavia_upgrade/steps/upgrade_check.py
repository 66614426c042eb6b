"""``upgrade_check``: ``octavia-status upgrade check`` with every exit code its own outcome.

0 success, 1 warning, 2 failure, 255 error (the command itself crashed). Each
non-zero outcome has a policy: ``continue``, ``approve`` (an operator must
accept it; ``known_error`` explains a known cause) or ``fail``. A crash is
never treated as success.
"""

from __future__ import annotations

from typing import Any

from octavia_upgrade.commands import PlannedCommand
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import UpgradeCheckArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action

OUTCOMES = {0: "success", 1: "warning", 2: "failure", 255: "error"}


class UpgradeCheck(Kind):
    name = "upgrade_check"
    placement = "once"
    once_role = "api"

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        a: UpgradeCheckArgs = step.args
        note = (f"warning: {a.on_warning}, failure: {a.on_failure}, "
                f"error (255): {a.on_error}")
        if a.code == "staged":
            if not ctx["vars"].get("staged_code_runs"):
                # deb, rdo, devstack: staged code is downloaded, not runnable; the
                # shipped runbooks then check after the install (upgrade-check-target).
                return [PlannedCommand("unsupported", f"(not run: flavor {flavor.name} cannot "
                                       "run staged code, vars.staged_code_runs is not true)")]
            if "code" not in flavor.actions.get("octavia_status", ""):
                raise InvalidInput(
                    f"flavor {flavor.name!r} ({flavor.path}): octavia_status does not use "
                    f"`code`, so {step.id!r} (code: staged) would check the running code, not "
                    f"the staged one; make it run the staged code when code == 'staged'")
            note = "with the staged code, before anything stops; " + note
        return [PlannedCommand("check", action(flavor, "octavia_status", ctx,
                                               args="upgrade check", code=a.code), note=note)]

    def run(self, t: TaskContext) -> Outcome:
        a: UpgradeCheckArgs = t.args
        if t.has("unsupported"):
            t.record("unsupported")
            return Outcome("failed", message=f"{t.planned('unsupported').text[1:-1]}; run it "
                                             "after the install (code: installed)")
        res = t.run("check", timeout=t.timeout)
        if res.timed_out:
            return Outcome("timed_out", res.rc, res.stdout, res.stderr,
                           message="octavia-status did not finish in time")
        outcome = OUTCOMES.get(res.rc if res.rc is not None else 255, "error")
        info = {"rc": res.rc, "outcome": outcome}
        out = Outcome("succeeded", res.rc, res.stdout, res.stderr, dict(info),
                      evidence=[("upgrade_check", {**info, "output": res.stdout[-4000:]})])
        if outcome == "success":
            return out
        policy = a.policy(outcome)
        detail = (res.stderr.strip().splitlines() or res.stdout.strip().splitlines() or [""])[-1]
        if policy == "continue":
            out.message = f"octavia-status reported {outcome} (rc {res.rc}); continuing by policy"
            return out
        if policy == "approve":
            msg = (f"octavia-status upgrade check ended with {outcome} (rc {res.rc}): {detail}"
                   + (f"\n{a.known_error}" if a.known_error else ""))
            approval = t.approver(t.step, msg, None)
            out.message = f"{outcome} (rc {res.rc}) accepted by {approval.user} ({approval.how})"
            out.outputs["approved_by"] = approval.user
            return out
        out.status = "failed"
        out.message = f"octavia-status upgrade check: {outcome} (rc {res.rc}): {detail}"
        return out


KINDS = {"upgrade_check": UpgradeCheck()}
