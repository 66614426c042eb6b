"""``db_migrate``: ``octavia-db-manage`` on exactly one ``db-migrate`` host.

The alembic revision is read before and after (``current``) and recorded as
evidence; after ``upgrade head`` the revision must be the target release's
head from the catalog.
"""

from __future__ import annotations

import re
from typing import Any

from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action, result_outcome

_REV = re.compile(r"\b([0-9a-f]{12})\b")


def parse_revision(text: str) -> str | None:
    """The alembic revision in ``octavia-db-manage current`` output (last match)."""
    found = _REV.findall(text)
    return found[-1] if found else None


def _args(step: Step) -> str:
    act = step.with_.get("action", "upgrade")
    if act == "upgrade":
        return f"upgrade {step.with_.get('revision', 'head')}"
    return act


class DbMigrate(Kind):
    name = "db_migrate"
    placement = "once"
    once_role = "db-migrate"

    def describe(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
                 *, deferred: bool) -> list[str]:
        return [action(flavor, "db_manage", ctx, args=_args(step))]

    def current(self, t: TaskContext) -> str | None:
        res = t.runner.run(action(t.flavor, "db_manage", t.ctx, args="current"), timeout=120)
        return parse_revision(res.stdout + "\n" + res.stderr) if res.rc == 0 else None

    def run(self, t: TaskContext) -> Outcome:
        act = t.step.with_.get("action", "upgrade")
        before = self.current(t) if act == "upgrade" else None
        cmd = action(t.flavor, "db_manage", t.ctx, args=_args(t.step))
        out = result_outcome(t.runner.run(cmd, timeout=t.timeout))
        if act == "current":
            rev = parse_revision(out.stdout + "\n" + out.stderr)
            out.outputs["revision"] = rev
            out.evidence.append(("db_revision", {"revision": rev}))
            return out
        if act != "upgrade":
            return out
        after = self.current(t)
        expected = t.ctx["release"]["to"]["alembic_head"]
        info = {"before": before, "after": after, "expected": expected}
        out.outputs.update(info)
        out.evidence.append(("db_revision", info))
        if out.ok and t.step.with_.get("revision", "head") == "head" and after != expected:
            out.status = "failed"
            out.message = (f"database is at {after} after the upgrade; "
                           f"{t.ctx['release']['to']['series']} expects {expected}")
        elif not out.ok:
            out.message = out.message or (f"octavia-db-manage {_args(t.step)} failed (rc {out.rc}); "
                                          f"database was at {before}")
        return out


KINDS = {"db_migrate": DbMigrate()}
