"""``backup``: dump the Octavia database on a ``db-migrate`` host.

The dump's path, size and sha256 are recorded as an artifact, so the report
shows exactly which file a restore would use.
"""

from __future__ import annotations

import shlex
from typing import Any

from octavia_upgrade import templating
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action, result_outcome


def _dest(step: Step, ctx: dict[str, Any]) -> tuple[str, str]:
    dest_dir = templating.render_value(str(step.with_["dest_dir"]), ctx).rstrip("/") or "/"
    return dest_dir, f"{dest_dir}/{_database(step, ctx)}-{ctx['run']['id']}-{step.id}.sql.gz"


def _database(step: Step, ctx: dict[str, Any]) -> str:
    return templating.render_value(str(step.with_.get("database", "octavia")), ctx)


class Backup(Kind):
    name = "backup"
    placement = "once"
    once_role = "db-migrate"

    def describe(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
                 *, deferred: bool) -> list[str]:
        dest_dir, dest = _dest(step, ctx)
        return [f"mkdir -p {shlex.quote(dest_dir)}",
                action(flavor, "db_backup", ctx, dest=dest, database=_database(step, ctx)),
                f"sha256sum {shlex.quote(dest)}; stat -c %s {shlex.quote(dest)}"]

    def run(self, t: TaskContext) -> Outcome:
        dest_dir, dest = _dest(t.step, t.ctx)
        res = t.runner.run(f"mkdir -p {shlex.quote(dest_dir)}", timeout=60)
        if res.rc != 0:
            return result_outcome(res, message=f"cannot create {dest_dir}")
        cmd = action(t.flavor, "db_backup", t.ctx, dest=dest, database=_database(t.step, t.ctx))
        out = result_outcome(t.runner.run(cmd, timeout=t.timeout))
        if not out.ok:
            out.message = out.message or f"database dump failed (rc {out.rc})"
            return out
        res = t.runner.run(f"sha256sum {shlex.quote(dest)} && stat -c %s {shlex.quote(dest)}",
                           timeout=300)
        lines = res.stdout.split()
        if res.rc != 0 or len(lines) < 3:
            return Outcome("failed", res.rc, res.stdout, res.stderr,
                           message=f"backup {dest} was not written")
        sha, size = lines[0], int(lines[-1])
        if size == 0:
            return Outcome("failed", 1, message=f"backup {dest} is empty")
        info = {"path": dest, "size": size, "sha256": sha, "host": t.host.name if t.host else ""}
        out.outputs.update(info)
        out.artifacts = {"backup": info}
        out.evidence.append(("backup", info))
        return out


KINDS = {"backup": Backup()}
