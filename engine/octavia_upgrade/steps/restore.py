"""``restore``: put a ``backup`` step's dump back, after a human approval.

The way back from a failed migration (Octavia has no database downgrade).
Once, on the host that holds the dump, and only when each check before it
holds, in this order:

1. the approval named by ``approval`` was given by an operator at a
   terminal (``--yes`` never counts: the restore overwrites the database);
2. the backup step recorded a dump on this host, at the path the plan shows;
3. the dump's sha256 now (``sha256sum``) equals the one the backup recorded:
   a dump that changed is never restored;
4. the flavor's ``db_restore`` loads it;
5. ``octavia-db-manage current`` is the from-release head
   (``verify_revision``), so later steps may start the old services.

The path comes from the backup step's own arguments (the plan shows it, with
the run's id filled in when sent); the sha256 is the backup's recorded
output. Restored path, both checksums and the revision are evidence.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from octavia_upgrade.commands import PlannedCommand
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import RestoreArgs
from octavia_upgrade.steps.backup import dump_path
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action, result_outcome
from octavia_upgrade.steps.db_migrate import parse_revision

if TYPE_CHECKING:
    from octavia_upgrade.plan import PlannedStep

#: How an approval given in advance is recorded (``session.prompts.APPROVED_IN_ADVANCE``).
_IN_ADVANCE = "--yes"


def _backup_of(step: Step, earlier: Mapping[str, PlannedStep] | None) -> PlannedStep:
    a: RestoreArgs = step.args
    backup = (earlier or {}).get(a.backup)
    if backup is None or backup.kind != "backup":
        raise InvalidInput(f"step {step.id!r} restores the dump of {a.backup!r}, which is not "
                           "a backup step listed before it")
    return backup


def reference_problems(raw: Mapping[str, Any], sections: Mapping[str, list[Any]],
                       order: Mapping[str, tuple[str, int]],
                       earlier: Callable[[tuple[str, int]], bool]) -> list[tuple[str, str]]:
    """(``with`` key, message) for each of ``backup``/``approval`` that does not name a
    step of that kind running before the restore (the loader's ``restore-reference``)."""
    out = []
    for key, kind in (("backup", "backup"), ("approval", "approval")):
        target = raw.get(key)
        if not isinstance(target, str):
            continue  # the schema reports it
        where = order.get(target)
        found = sections[where[0]][where[1]] if where else None
        if not isinstance(found, Mapping) or found.get("kind") != kind:
            out.append((key, f"{key}: {target!r} is not the id of a {kind} step"))
        elif not earlier(where):  # type: ignore[arg-type]
            out.append((key, f"{key}: step {target!r} does not run before this restore"))
    return out


class Restore(Kind):
    name = "restore"
    placement = "once"
    once_role = "db-migrate"
    needs_earlier = True

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool,
               earlier: Mapping[str, PlannedStep] | None = None) -> list[PlannedCommand]:
        a: RestoreArgs = step.args
        backup = _backup_of(step, earlier)
        if host is not None and backup.hosts and host.name not in backup.hosts:
            raise InvalidInput(f"step {step.id!r} runs on {host.name}, but the dump of "
                               f"{backup.id!r} is written on {', '.join(backup.hosts)}: "
                               "target the same host")
        _folder, src = dump_path(backup, ctx)
        from octavia_upgrade import templating

        database = templating.render_value(backup.args.database, ctx)
        cmds = [
            PlannedCommand("checksum", f"sha256sum -- {shlex.quote(src)}",
                           note=f"must equal the sha256 {backup.id} recorded, or nothing "
                                "is restored"),
            PlannedCommand("restore", action(flavor, "db_restore", ctx, src=src,
                                             database=database),
                           note=f"only after {a.approval} was approved at a terminal"),
        ]
        if a.verify_revision:
            head = ctx["release"]["from"]["alembic_head"]
            cmds.append(PlannedCommand(
                "current", action(flavor, "db_manage", ctx, args="current"),
                note=f"must then be {head} ({ctx['release']['from']['series']} head)"))
        return cmds

    def run(self, t: TaskContext) -> Outcome:
        a: RestoreArgs = t.args
        outputs = t.ctx.get("outputs") or {}
        how = (outputs.get(a.approval) or {}).get("how")
        if not how or how in (_IN_ADVANCE, "timeout"):
            why = {"": "was not approved", _IN_ADVANCE: "was approved with --yes",
                   "timeout": "was approved by its expiry"}[how or ""]
            return Outcome("failed", 1, message=(
                f"nothing restored: {a.approval} {why}; restoring the database needs an "
                "operator's own approval (at the run's terminal or with `octavia-upgrade "
                "approve`)"))
        recorded = outputs.get(a.backup) or {}
        planned_src = shlex.split(t.text("checksum"))[-1]
        if not recorded.get("sha256") or not recorded.get("path"):
            return Outcome("failed", 1, message=(
                f"nothing restored: {a.backup} recorded no dump in this run"))
        if recorded["path"] != planned_src or recorded.get("host", t.host) != t.host:
            return Outcome("failed", 1, message=(
                f"nothing restored: {a.backup} recorded {recorded['path']} on "
                f"{recorded.get('host')}, the plan restores {planned_src} on {t.host}"))
        res = t.run("checksum", timeout=600)
        fields = res.stdout.split()
        actual = fields[0] if res.rc == 0 and fields else None
        info: dict[str, Any] = {"path": planned_src, "host": t.host,
                                "recorded_sha256": recorded["sha256"], "sha256": actual,
                                "verified": actual == recorded["sha256"], "restored": False}
        if actual is None:
            return Outcome("failed", res.rc, res.stdout, res.stderr, dict(info),
                           evidence=[("restore", info)],
                           message=f"nothing restored: cannot read {planned_src} (rc {res.rc})")
        if not info["verified"]:
            return Outcome("failed", 1, res.stdout, res.stderr, dict(info),
                           evidence=[("restore", info)],
                           message=(f"nothing restored: {planned_src} has sha256 {actual}, "
                                    f"but {a.backup} recorded {recorded['sha256']}; the dump "
                                    "changed since the backup"))
        out = result_outcome(t.run("restore", timeout=t.timeout))
        info["restored"] = out.ok
        info["incomplete"] = True  # the database was changed; cleared once verified
        if not out.ok:
            out.message = out.message or (f"restore of {planned_src} failed (rc {out.rc}); "
                                          "the database may be partly restored: the dump is "
                                          "unchanged, fix the cause and resume")
        elif a.verify_revision:
            res = t.run("current", timeout=120)
            rev = parse_revision(res.stdout + "\n" + res.stderr) if res.rc == 0 else None
            expected = t.ctx["release"]["from"]["alembic_head"]
            info.update(revision=rev, expected=expected)
            out.evidence.append(("db_revision", {"after": rev, "expected": expected}))
            if rev != expected:
                info["restored"] = False
                out.status, out.rc = "failed", res.rc or 1
                out.message = (f"the database is at {rev} after the restore; "
                               f"{t.ctx['release']['from']['series']} expects {expected}")
        if out.ok:
            info["incomplete"] = False
        out.outputs.update(info)
        out.evidence.insert(0, ("restore", info))
        return out


KINDS = {"restore": Restore()}
