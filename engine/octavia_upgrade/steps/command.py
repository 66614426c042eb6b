"""``command`` (on target hosts) and ``local`` (on the operator machine)."""

from __future__ import annotations

from typing import Any

from octavia_upgrade import templating
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, result_outcome


class Command(Kind):
    name = "command"

    def describe(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
                 *, deferred: bool) -> list[str]:
        if deferred:
            return [step.with_["command"]]
        return [templating.render_command(step.with_["command"], ctx)]

    def run(self, t: TaskContext) -> Outcome:
        w = t.step.with_
        cmd = templating.render_command(w["command"], t.ctx)
        env = {k: templating.render_value(str(v), t.ctx) for k, v in (w.get("env") or {}).items()}
        res = t.runner.run(cmd, timeout=t.timeout, env=env or None)
        out = result_outcome(res, tuple(w.get("ok_rc", (0,))), w.get("capture", "text"))
        if w.get("evidence") and "json" in out.outputs:
            out.evidence.append((w["evidence"], out.outputs["json"]))
        return out


class Local(Command):
    name = "local"
    placement = "local"


KINDS = {"command": Command(), "local": Local()}
