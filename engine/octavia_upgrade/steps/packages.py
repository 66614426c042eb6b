"""``packages``: upgrade Octavia and octavia-lib to the target release via the flavor."""

from __future__ import annotations

from typing import Any

from octavia_upgrade.commands import PlannedCommand
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import PackagesArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action, result_outcome

VERSION_KEYS = (("octavia", "version:octavia", "octavia_version"),
                ("octavia-lib", "version:octavia-lib", "octavia_lib_version"))


def target_release(args: PackagesArgs, ctx: dict[str, Any]) -> dict[str, Any]:
    """The catalog entry to install: ``release`` if it names the hop's from, else its to."""
    frm, to = ctx["release"]["from"], ctx["release"]["to"]
    if args.release and args.release in (frm["series"], frm["version_id"]):
        return frm
    return to


class Packages(Kind):
    name = "packages"

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        a: PackagesArgs = step.args
        target = target_release(a, ctx)
        versions = [PlannedCommand(key, action(flavor, act, ctx),
                                   note="recorded before and after the upgrade")
                    for _pkg, key, act in VERSION_KEYS]
        upgrade = PlannedCommand("upgrade", action(
            flavor, "packages_upgrade", ctx, target=target, packages=list(a.packages)),
            note=f"then Octavia must be {target['octavia_major']}.x ({target['series']})")
        return [*versions, upgrade]

    def run(self, t: TaskContext) -> Outcome:
        target = target_release(t.args, t.ctx)
        before = self._versions(t)
        out = result_outcome(t.run("upgrade", timeout=t.timeout))
        after = self._versions(t)
        out.outputs.update({"before": before, "after": after})
        out.evidence.append(("versions", {"before": before, "after": after,
                                          "target": target["series"]}))
        if out.ok and after.get("octavia"):
            major = int(after["octavia"].split(".")[0].split(":")[-1])
            if major != target["octavia_major"]:
                out.status = "failed"
                out.message = (f"octavia {after['octavia']} installed after the upgrade, but "
                               f"{target['series']} is Octavia {target['octavia_major']}.x")
        return out

    @staticmethod
    def _versions(t: TaskContext) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for pkg, key, _act in VERSION_KEYS:
            res = t.run(key, timeout=60)
            found[pkg] = res.stdout.strip() or None if res.rc == 0 else None
        return found


KINDS = {"packages": Packages()}
