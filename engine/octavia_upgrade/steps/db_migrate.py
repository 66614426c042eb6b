"""``db_migrate``: ``octavia-db-manage`` on exactly one ``db-migrate`` host.

The alembic revision is read before and after (``current``) and recorded as
evidence; after ``upgrade head`` the revision must be the target release's
head from the catalog.
"""

from __future__ import annotations

import re
from typing import Any

from octavia_upgrade.commands import PlannedCommand
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import DbMigrateArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action, result_outcome

_REV = re.compile(r"\b([0-9a-f]{12})\b")


def parse_revision(text: str) -> str | None:
    """The alembic revision in ``octavia-db-manage current`` output (last match)."""
    found = _REV.findall(text)
    return found[-1] if found else None


class DbMigrate(Kind):
    name = "db_migrate"
    placement = "once"
    once_role = "db-migrate"

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        a: DbMigrateArgs = step.args
        if a.action == "current":
            return [PlannedCommand("current", action(flavor, "db_manage", ctx, args="current"))]
        main = PlannedCommand(a.action, action(flavor, "db_manage", ctx, args=a.manage_args))
        if a.action != "upgrade":
            return [main]
        note = "recorded before and after" + (
            f"; must then be {ctx['release']['to']['alembic_head']}" if a.revision == "head"
            else "")
        return [PlannedCommand("current", action(flavor, "db_manage", ctx, args="current"),
                               note=note), main]

    def current(self, t: TaskContext) -> str | None:
        res = t.run("current", timeout=120)
        return parse_revision(res.stdout + "\n" + res.stderr) if res.rc == 0 else None

    def run(self, t: TaskContext) -> Outcome:
        a: DbMigrateArgs = t.args
        if a.action == "current":
            out = result_outcome(t.run("current", timeout=t.timeout))
            rev = parse_revision(out.stdout + "\n" + out.stderr)
            out.outputs["revision"] = rev
            out.evidence.append(("db_revision", {"revision": rev}))
            return out
        if a.action != "upgrade":
            return result_outcome(t.run(a.action, timeout=t.timeout))
        before = self.current(t)
        out = result_outcome(t.run("upgrade", timeout=t.timeout))
        after = self.current(t)
        expected = t.ctx["release"]["to"]["alembic_head"]
        info = {"before": before, "after": after, "expected": expected}
        out.outputs.update(info)
        out.evidence.append(("db_revision", info))
        if out.ok and a.revision == "head" and after != expected:
            out.status = "failed"
            out.message = (f"database is at {after} after the upgrade; "
                           f"{t.ctx['release']['to']['series']} expects {expected}")
        elif not out.ok and not out.message:
            cause = error_line(out.stdout + "\n" + out.stderr)
            out.message = (f"octavia-db-manage {a.manage_args} failed (rc {out.rc})"
                           + (f": {cause}" if cause else "")
                           + f"; database was at {before}, reads {after} now")
            if after == before and before is not None:
                # MySQL and MariaDB commit DDL as it runs: a migration cut off before its
                # revision was written may still have changed tables.
                out.message += (" (its revision did not move, but the schema may have "
                                "changed: MySQL and MariaDB apply DDL at once)")
        return out


_ERROR = re.compile(r"\b((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Failure)): (.+)$")


def error_line(output: str) -> str:
    """The last ``SomeError: message`` line of a Python program's output (its
    logging prefix dropped), at most 300 characters; empty if there is none."""
    for line in reversed(output.splitlines()):
        m = _ERROR.search(line)
        if m:
            text = f"{m.group(1)}: {m.group(2).strip()}"
            return text if len(text) <= 300 else text[:297] + "..."
    return ""


KINDS = {"db_migrate": DbMigrate()}
