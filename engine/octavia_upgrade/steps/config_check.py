"""``config_check``: each host's octavia.conf against the target release's options.

The flavor's ``read_config`` action prints the configuration files in the
order oslo.config reads them (main file, then ``--config-dir`` fragments);
each file is read over the same connection and checked by
:mod:`octavia_upgrade.configcheck`. The outputs also say whether the files
enable the TaskFlow jobboard (``jobboard_enabled``: ``[task_flow]
jobboard_enabled`` as oslo.config reads it), for later steps' ``when:``. File contents are never stored: only
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


def option_value(files: list[Any], group: str, option: str) -> str | None:
    """The value oslo.config would use for ``[group] option`` (the last file setting it wins).

    Files that do not parse are skipped (the check reports them).
    """
    from oslo_config import iniparser

    found: list[str] = []

    class _Parser(iniparser.BaseParser):
        section: str | None = None

        def new_section(self, section: str) -> None:
            self.section = section

        def assignment(self, key: str, value: list[str]) -> None:
            if self.section is not None and self.section.lower() == group and key == option:
                found.append("\n".join(value).strip())

    for f in files:
        try:
            _Parser().parse(f.text.splitlines())
        except iniparser.ParseError:
            continue
    return found[-1] if found else None


def jobboard_enabled(files: list[Any]) -> bool:
    """``[task_flow] jobboard_enabled`` as oslo.config reads a boolean (default False)."""
    value = option_value(files, "task_flow", "jobboard_enabled")
    return value is not None and value.strip().lower() in ("true", "1", "on", "yes")


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
                      {"findings": rows, "counts": counts, "files": paths,
                       "jobboard_enabled": jobboard_enabled(files)},
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
