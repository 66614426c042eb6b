"""``packages``: upgrade Octavia and octavia-lib to the target release via the flavor."""

from __future__ import annotations

from typing import Any

from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action, result_outcome


def _context(step: Step, ctx: dict[str, Any]) -> dict[str, Any]:
    release = ctx["release"]["to"]
    wanted = step.with_.get("release")
    if wanted and wanted not in (release["series"], release["version_id"]):
        release = ctx["release"]["from"] if wanted in (
            ctx["release"]["from"]["series"], ctx["release"]["from"]["version_id"]) else release
    return {"target": release, "packages": list(step.with_.get("packages") or
                                                 ["octavia", "octavia-lib"])}


class Packages(Kind):
    name = "packages"

    def describe(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
                 *, deferred: bool) -> list[str]:
        return [action(flavor, "packages_upgrade", ctx, **_context(step, ctx))]

    def run(self, t: TaskContext) -> Outcome:
        extra = _context(t.step, t.ctx)
        before = self._versions(t)
        cmd = action(t.flavor, "packages_upgrade", t.ctx, **extra)
        out = result_outcome(t.runner.run(cmd, timeout=t.timeout))
        after = self._versions(t)
        out.outputs.update({"before": before, "after": after})
        out.evidence.append(("versions", {"before": before, "after": after,
                                          "target": extra["target"]["series"]}))
        if out.ok and after.get("octavia"):
            major = int(after["octavia"].split(".")[0].split(":")[-1])
            if major != extra["target"]["octavia_major"]:
                out.status = "failed"
                out.message = (f"octavia {after['octavia']} installed after the upgrade, but "
                               f"{extra['target']['series']} is Octavia "
                               f"{extra['target']['octavia_major']}.x")
        return out

    @staticmethod
    def _versions(t: TaskContext) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for pkg, act in (("octavia", "octavia_version"), ("octavia-lib", "octavia_lib_version")):
            res = t.runner.run(action(t.flavor, act, t.ctx), timeout=60)
            found[pkg] = res.stdout.strip() or None if res.rc == 0 else None
        return found


KINDS = {"packages": Packages()}
