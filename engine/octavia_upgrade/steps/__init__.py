"""Step kinds: how each kind of runbook step is placed, described and run.

One module per kind; each defines a :class:`~octavia_upgrade.steps.base.Kind`
subclass. The registry is filled lazily so importing the planner stays cheap.
"""

from __future__ import annotations

import importlib
from functools import cache

from octavia_upgrade.model import STEP_KINDS
from octavia_upgrade.steps.base import Kind

_MODULES = {
    "command": "command", "local": "command", "service": "service", "packages": "packages",
    "backup": "backup", "restore": "restore", "config_check": "config_check", "db_migrate": "db_migrate",
    "upgrade_check": "upgrade_check", "wait": "wait", "assert": "operator",
    "approval": "operator", "sleep": "operator", "amphora_failover": "amphora_failover",
    "lb_snapshot": "lb_checks", "canary": "lb_checks",
}
assert set(_MODULES) == set(STEP_KINDS)


@cache
def get(kind: str) -> Kind:
    mod = importlib.import_module(f"octavia_upgrade.steps.{_MODULES[kind]}")
    return mod.KINDS[kind]
