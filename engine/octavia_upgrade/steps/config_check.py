"""``config_check``: each host's octavia.conf against the target release's options.

The flavor's ``read_config`` action prints the configuration files in the
order oslo.config reads them (main file, then ``--config-dir`` fragments);
each file is read over the same connection and checked by
:mod:`octavia_upgrade.configcheck`. File contents are never stored: only
findings, which carry ``host:path:line`` and never an option's value.
"""

from __future__ import annotations

from typing import Any

from octavia_upgrade.commands import PlannedCommand
from octavia_upgrade.model import Flavor, Host, Step
from octavia_upgrade.steps.args import ConfigCheckArgs
from octavia_upgrade.steps.base import Kind, Outcome, TaskContext, action
from octavia_upgrade.wording import plural

_RANK = {"info": 0, "warning": 1, "error": 2}


def target_series(args: ConfigCheckArgs, ctx: dict[str, Any]) -> str:
    return args.release or ctx["release"]["to"]["series"]


class ConfigCheck(Kind):
    name = "config_check"

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        target = target_series(step.args, ctx)
        return [PlannedCommand(
            "read_config", action(flavor, "read_config", ctx),
            note=f"each file it lists is read and checked against {target} option data")]

    def run(self, t: TaskContext) -> Outcome:
        from octavia_upgrade.configcheck import ConfigFile, check_config

        a: ConfigCheckArgs = t.args
        target = target_series(a, t.ctx)
        res = t.run("read_config", timeout=t.timeout)
        paths = [p.strip() for p in res.stdout.splitlines() if p.strip()]
        if res.rc != 0 or not paths:
            return Outcome("failed", res.rc, res.stdout, res.stderr,
                           message="could not list the configuration files (read_config)")
        files = [ConfigFile(t.host, p, t.runner.read_text(p)) for p in paths]
        findings = check_config(files, target)
        rows = [{"host": f.host, "path": f.path, "line": f.line, "group": f.group,
                 "option": f.option, "severity": f.severity, "code": f.code,
                 "message": f.message, "replacement": f.replacement} for f in findings]
        text = "\n".join(f"{r['host']}:{r['path']}:{r['line']}: {r['severity']}: {r['message']}"
                         for r in rows)
        counts = {s: sum(1 for r in rows if r["severity"] == s) for s in _RANK}
        out = Outcome("succeeded", 0, text or f"{plural(len(files), 'file')}: no findings", "",
                      {"findings": rows, "counts": counts, "files": paths},
                      evidence=[("config_check", {"target": target, "files": paths,
                                                  "findings": rows, "counts": counts})])
        if a.fail_on != "never" and any(_RANK[r["severity"]] >= _RANK[a.fail_on] for r in rows):
            out.status = "failed"
            out.rc = 1
            out.message = (f"{plural(counts['error'], 'error')}, "
                           f"{plural(counts['warning'], 'warning')} against "
                           f"{target} option data (fail_on: {a.fail_on})")
        return out


KINDS = {"config_check": ConfigCheck()}
