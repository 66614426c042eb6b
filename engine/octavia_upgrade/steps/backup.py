"""``backup``: dump the Octavia database on a ``db-migrate`` host.

The dump's path, size and sha256 are recorded as an artifact, so the report
shows exactly which file a restore would use. The file name carries the
run's id, so a later run never overwrites an earlier run's dump.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from octavia_upgrade import templating
from octavia_upgrade.commands import RUN_ID_TOKEN, PlannedCommand
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import BackupArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action, result_outcome

if TYPE_CHECKING:
    from octavia_upgrade.plan import PlannedStep


def dump_path(step: Step | PlannedStep, ctx: dict[str, Any]) -> tuple[str, str]:
    """(folder, file) of the dump; the file name holds :data:`RUN_ID_TOKEN`."""
    a: BackupArgs = step.args
    dest_dir = templating.render_value(a.dest_dir, ctx).rstrip("/") or "/"
    database = templating.render_value(a.database, ctx)
    return dest_dir, f"{dest_dir}/{database}-{RUN_ID_TOKEN}-{step.id}.sql.gz"


class Backup(Kind):
    name = "backup"
    placement = "once"
    once_role = "db-migrate"

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        dest_dir, dest = dump_path(step, ctx)
        database = templating.render_value(step.args.database, ctx)
        q = shlex.quote(dest)
        return [PlannedCommand("mkdir", f"mkdir -p {shlex.quote(dest_dir)}"),
                PlannedCommand("dump", action(flavor, "db_backup", ctx, dest=dest,
                                              database=database)),
                PlannedCommand("checksum", f"sha256sum {q} && stat -c %s {q}",
                               note="recorded: sha256 and size of the dump")]

    def prerequisite_extras(self, step: Step, ctx: dict[str, Any],
                            host: Host | None) -> list[dict[str, Any]]:
        return [{"dest_dir": dump_path(step, ctx)[0],
                 "database": templating.render_value(step.args.database, ctx)}]

    def run(self, t: TaskContext) -> Outcome:
        res = t.run("mkdir", timeout=60)
        if res.rc != 0:
            return result_outcome(res, message="cannot create the backup folder")
        out = result_outcome(t.run("dump", timeout=t.timeout))
        if not out.ok:
            out.message = out.message or f"database dump failed (rc {out.rc})"
            return out
        res = t.run("checksum", timeout=300)
        fields = res.stdout.split()
        dest = t.fill(dump_path(t.step, t.ctx)[1])
        if res.rc != 0 or len(fields) < 3 or not fields[-1].isdigit():
            return Outcome("failed", res.rc, res.stdout, res.stderr,
                           message=f"backup {dest} was not written")
        sha, size = fields[0], int(fields[-1])
        if size == 0:
            return Outcome("failed", 1, message=f"backup {dest} is empty")
        info = {"path": dest, "size": size, "sha256": sha, "host": t.host}
        out.outputs.update(info)
        out.artifacts = {"backup": info}
        out.evidence.append(("backup", info))
        return out


KINDS = {"backup": Backup()}
