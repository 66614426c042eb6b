"""``command`` (on target hosts) and ``local`` (on the operator machine)."""

from __future__ import annotations

from typing import Any

from octavia_upgrade import templating
from octavia_upgrade.commands import PlannedCommand
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import CommandArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, result_outcome


class Command(Kind):
    name = "command"

    def template_fields(self, args: Any) -> list[str]:
        return [args.command, *(str(v) for v in args.env.values())]

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        a: CommandArgs = step.args
        note = f"exit {', '.join(map(str, a.ok_rc))} = success" if a.ok_rc != (0,) else ""
        if deferred:
            return [PlannedCommand("command", a.command, render="shell", note=note,
                                   env={k: str(v) for k, v in a.env.items()})]
        return [PlannedCommand("command", templating.render_command(a.command, ctx), note=note,
                               env={k: templating.render_value(str(v), ctx)
                                    for k, v in a.env.items()})]

    def run(self, t: TaskContext) -> Outcome:
        a: CommandArgs = t.args
        res = t.run("command", timeout=t.timeout)
        out = result_outcome(res, tuple(a.ok_rc), a.capture)
        if a.evidence and "json" in out.outputs:
            out.evidence.append((a.evidence, out.outputs["json"]))
        return out


class Local(Command):
    name = "local"
    placement = "local"


KINDS = {"command": Command(), "local": Local()}
