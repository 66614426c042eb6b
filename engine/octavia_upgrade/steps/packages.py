"""``packages``: Octavia's code on each host, through the flavor.

Actions (``with: {action: ...}``) and the flavor action each sends:

============  ======================  ==============================================
action        flavor action           what it does
============  ======================  ==============================================
``upgrade``   ``packages_upgrade``    install the release in place (the guide's order)
``record``    ``packages_record``     what runs now: versions, packages, the venv the
                                      units start; output ``recorded``, evidence
``stage``     ``packages_free_mb``,   the target's code beside the running one
              ``packages_stage``      (refused below ``vars.stage_free_mb`` MiB free)
``verify``    ``packages_verify``     staged code matches its checksum and is the
                                      target's Octavia major
``activate``  ``packages_activate``   inside the outage: switch to the staged code
``revert``    ``packages_revert``     rollback: back to what ``record`` found (its
                                      output filled in at run time)
============  ======================  ==============================================

``upgrade``, ``activate`` and ``revert`` read the installed versions before
and after and fail when Octavia is not at the release they went to.
"""

from __future__ import annotations

from typing import Any

from octavia_upgrade.commands import PlannedCommand, Prerequisite
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import PackagesArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action, result_outcome
from octavia_upgrade.templating import Deferred

VERSION_KEYS = (("octavia", "version:octavia", "octavia_version"),
                ("octavia-lib", "version:octavia-lib", "octavia_lib_version"))

#: The flavor actions each ``action:`` needs besides the version reads.
FLAVOR_ACTIONS = {"upgrade": ("packages_upgrade",), "record": ("packages_record",),
                  "stage": ("packages_free_mb", "packages_stage"),
                  "verify": ("packages_verify",), "activate": ("packages_activate",),
                  "revert": ("packages_revert",)}


def target_release(args: PackagesArgs, ctx: dict[str, Any]) -> dict[str, Any]:
    """The catalog entry to install: ``release`` if it names the hop's from, else its to."""
    frm, to = ctx["release"]["from"], ctx["release"]["to"]
    if args.release and args.release in (frm["series"], frm["version_id"]):
        return frm
    return to


def stage_need_mb(ctx: dict[str, Any]) -> int:
    """``vars.stage_free_mb``: the MiB staging needs where the new code goes (0: unchecked)."""
    raw = ctx["vars"].get("stage_free_mb", 0) or 0
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise InvalidInput(f"vars.stage_free_mb: {raw!r} is not a number of MiB") from None


def recorded_expression(record_step: str) -> str:
    """The run-time expression for what the ``record`` step printed on this host."""
    return (f'((outputs[{record_step!r}] | default({{"hosts": {{}}}})).hosts[host.name]'
            ' | default({})).recorded | default([])')


def major_of(version: str) -> int | None:
    """Octavia's major from a version as pip, dpkg or rpm print it (``2:16.0.0-0ubuntu1``)."""
    head = version.strip().split(":")[-1].split(".")[0]
    return int(head) if head.isdigit() else None


def _required(flavor: Flavor, step: Step, name: str) -> None:
    if name not in flavor.actions:
        raise InvalidInput(
            f"flavor {flavor.name!r} ({flavor.path}) has no action {name!r}, which "
            f"{step.id!r} (packages action {step.args.action}) sends; add it to the flavor "
            f"(docs/architecture.md, Flavors) or run with --param stage_before_outage=false")


class Packages(Kind):
    name = "packages"

    def uses_outputs(self, args: Any) -> bool:
        return bool(args.action == "revert")

    def prerequisites(self, step: Step, flavor: Flavor, ctx: dict[str, Any],
                      host: Host | None) -> list[Prerequisite]:
        """The flavor's ``packages`` checks; for ``stage``, also the free space the
        staged code needs, so that a full disk refuses the run before anything changes
        (the step checks it again when it runs)."""
        out = super().prerequisites(step, flavor, ctx, host)
        if step.args.action != "stage" or "packages_free_mb" not in flavor.actions:
            return out
        need = stage_need_mb(ctx)
        if not need:
            return out
        target = target_release(step.args, ctx)
        free = action(flavor, "packages_free_mb", ctx, target=target,
                      packages=list(step.args.packages))
        return [*out, Prerequisite(
            host.name if host else "local",
            f"{need} MiB free where the {target['series']} code is staged (vars.stage_free_mb)",
            f'set -- $({free}) && test "$1" -ge {need}')]

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        a: PackagesArgs = step.args
        target = target_release(a, ctx)
        for name in FLAVOR_ACTIONS[a.action]:
            _required(flavor, step, name)
        pkgs = list(a.packages)
        read = "recorded before and after the upgrade" if a.action == "upgrade" else "recorded"
        versions = [PlannedCommand(key, action(flavor, act, ctx), note=read)
                    for _pkg, key, act in VERSION_KEYS]
        expect = f"then Octavia must be {target['octavia_major']}.x ({target['series']})"
        if a.action == "upgrade":
            return [*versions, PlannedCommand("upgrade", action(
                flavor, "packages_upgrade", ctx, target=target, packages=pkgs), note=expect)]
        if a.action == "record":
            return [*versions, PlannedCommand(
                "record", action(flavor, "packages_record", ctx, packages=pkgs),
                note="each line printed is kept as output `recorded` for the rollback")]
        if a.action == "stage":
            need = stage_need_mb(ctx)
            return [PlannedCommand("free", action(flavor, "packages_free_mb", ctx, target=target,
                                                  packages=pkgs),
                                   note=f"MiB free; staging is refused below {need} "
                                        "(vars.stage_free_mb)"),
                    PlannedCommand("stage", action(flavor, "packages_stage", ctx,
                                                   target=target, packages=pkgs),
                                   note=f"{target['series']} code beside the running one")]
        if a.action == "verify":
            return [PlannedCommand("verify", action(flavor, "packages_verify", ctx,
                                                    target=target, packages=pkgs),
                                   note=f"checksum, and the staged Octavia must be "
                                        f"{target['octavia_major']}.x")]
        if a.action == "activate":
            return [PlannedCommand("activate", action(flavor, "packages_activate", ctx,
                                                      target=target, packages=pkgs),
                                   note=expect), *versions]
        recorded = Deferred(recorded_expression(a.record_step))
        return [PlannedCommand("revert", action(flavor, "packages_revert", ctx, target=target,
                                                packages=pkgs, recorded=recorded),
                               render="shell",
                               note=f"`recorded`: what {a.record_step} printed on this host; "
                                    f"{expect}"), *versions]

    def run(self, t: TaskContext) -> Outcome:
        act = t.args.action
        if act == "record":
            return self._record(t)
        if act == "stage":
            return self._stage(t)
        if act == "verify":
            return self._verify(t)
        target = target_release(t.args, t.ctx)
        before = self._versions(t) if act == "upgrade" else self._recorded_versions(t)
        out = result_outcome(t.run(act, timeout=t.timeout))
        after = self._versions(t)
        out.outputs["after"] = after
        data: dict[str, Any] = {"after": after, "target": target["series"], "action": act}
        if before is not None:
            out.outputs["before"] = data["before"] = before
        out.evidence.append(("versions", data))
        if out.ok and after.get("octavia"):
            major = major_of(after["octavia"])
            if major != target["octavia_major"]:
                out.status = "failed"
                out.message = (f"octavia {after['octavia']} runs after {act}, but "
                               f"{target['series']} is Octavia {target['octavia_major']}.x")
        return out

    def _record(self, t: TaskContext) -> Outcome:
        versions = self._versions(t)
        out = result_outcome(t.run("record", timeout=t.timeout))
        recorded = [ln.strip() for ln in out.stdout.splitlines() if ln.strip()]
        out.outputs.update({"versions": versions, "recorded": recorded})
        out.evidence.append(("packages_recorded", {"versions": versions, "recorded": recorded}))
        if out.ok and not recorded:
            out.status = "failed"
            out.message = "packages_record printed nothing: a rollback would not know where to go"
        return out

    def _stage(self, t: TaskContext) -> Outcome:
        need = stage_need_mb(t.ctx)
        res = t.run("free", timeout=60)
        # "MiB" or "MiB FOLDER" (the folder the staged code goes to) on the last line
        text = res.stdout.strip().splitlines()[-1].strip() if res.stdout.strip() else ""
        mib, _, folder = text.partition(" ")
        if res.rc != 0 or not mib.isdigit():
            out = result_outcome(res)
            out.status = "failed"
            out.message = f"could not read the free space for the staged code (rc {res.rc})"
            return out
        free, where = int(mib), f" in {folder.strip()}" if folder.strip() else ""
        if free < need:
            return Outcome("failed", res.rc, res.stdout, res.stderr,
                           {"free_mb": free, "need_mb": need, "refused": True},
                           evidence=[("staging_space", {"free_mb": free, "need_mb": need})],
                           message=f"refused: {free} MiB free on {t.host}{where}, where the "
                                   f"staged code goes; {need} MiB needed (vars.stage_free_mb); "
                                   f"nothing was changed or stopped")
        out = result_outcome(t.run("stage", timeout=t.timeout))
        out.outputs.update({"free_mb": free, "need_mb": need})
        return out

    def _verify(self, t: TaskContext) -> Outcome:
        target = target_release(t.args, t.ctx)
        res = t.run("verify", timeout=t.timeout)
        out = result_outcome(res)
        staged: dict[str, str] = {}
        for line in res.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                staged[parts[0]] = parts[1]
        out.outputs["staged"] = staged
        out.evidence.append(("staged", {"staged": staged, "target": target["series"],
                                        "rc": res.rc}))
        if not out.ok:
            out.message = out.message or (
                "the staged code does not match its checksum or is incomplete; "
                "nothing was stopped: stage it again (resume) or remove it")
            return out
        version = staged.get("octavia", "")
        if major_of(version) != target["octavia_major"]:
            out.status = "failed"
            out.message = (f"the staged code is Octavia {version or '(none)'}, but "
                           f"{target['series']} is {target['octavia_major']}.x; nothing "
                           f"was stopped")
        return out

    @staticmethod
    def _recorded_versions(t: TaskContext) -> dict[str, Any] | None:
        """The versions the ``record`` step found on this host (before anything changed)."""
        rec = (t.ctx.get("outputs") or {}).get(t.args.record_step) or {}
        versions = ((rec.get("hosts") or {}).get(t.host) or {}).get("versions")
        return dict(versions) if isinstance(versions, dict) else None

    @staticmethod
    def _versions(t: TaskContext) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for pkg, key, _act in VERSION_KEYS:
            res = t.run(key, timeout=60)
            found[pkg] = res.stdout.strip() or None if res.rc == 0 else None
        return found


KINDS = {"packages": Packages()}
