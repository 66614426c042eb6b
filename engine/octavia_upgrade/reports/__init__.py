"""Change-management reports: the plan report (before) and the execution report (after).

Both are built by pure functions into frozen dataclasses
(:mod:`~octavia_upgrade.reports.model`), then rendered as Markdown, HTML (one
self-contained file with an SVG timeline) or JSON. Every string goes through
a redactor before rendering, in every format.

Public API::

    plan_report(plan, *, inventory_summary=None, detected=None, history=None,
                provenance=None, runbook=None, generated_at=None) -> PlanReport
    execution_report(run, results, approvals, evidence, probe_samples, events,
                     *, probe_series=(), generated_at=None) -> ExecutionReport
    render(report, fmt, *, redact=None) -> str          # fmt: markdown | html | json
    render_plan_report(plan, fmt, *, redact=None, **context) -> str
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from octavia_upgrade.reports.executed import execution_report
    from octavia_upgrade.reports.model import ExecutionReport, PlanReport
    from octavia_upgrade.reports.planned import (InventorySummary, plan_report,
                                                 summarize_inventory)
    from octavia_upgrade.reports.redaction import secret_redactor

#: Public names → the submodule defining them, imported on first use: a run
#: imports ``reports.provenance`` only, and should not pay for the report
#: model (~50 ms) at start-up.
_LAZY = {"execution_report": "executed", "ExecutionReport": "model", "PlanReport": "model",
         "InventorySummary": "planned", "plan_report": "planned",
         "summarize_inventory": "planned", "secret_redactor": "redaction"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

FORMATS = ("markdown", "html", "json")
#: File name suffix per format.
SUFFIXES = {"markdown": ".md", "html": ".html", "json": ".json"}


def render(report: PlanReport | ExecutionReport, fmt: str, *, redact: Any = None) -> str:
    """Render ``report`` as ``markdown``, ``html`` or ``json``; secrets redacted.

    ``redact`` is a callable or an object with ``redact()`` (the logging
    ``Redactor``); the built-in credential patterns always apply as well.
    """
    if fmt == "markdown":
        from octavia_upgrade.reports.markdown import render as r
    elif fmt == "html":
        from octavia_upgrade.reports.html import render as r
    elif fmt == "json":
        from octavia_upgrade.reports.json import render as r
    else:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return r(report, redact)


def render_plan_report(plan: Any, fmt: str, *, redact: Any = None, **context: Any) -> str:
    """The plan report of ``plan`` in ``fmt``; ``context`` goes to :func:`plan_report`
    (``inventory``, ``detected``, ``history``, ``provenance``, ``runbook``, ...).

    Pass ``redact`` built from the secret values (rendered commands may contain
    them). Without ``provenance``, it is collected from the runbook file (git
    commit and dirty flag included) when the file exists.
    """
    from octavia_upgrade.reports.planned import plan_report

    if context.get("provenance") is None:
        context["provenance"] = _collect_provenance(plan)
    return render(plan_report(plan, **context), fmt, redact=redact)


def _collect_provenance(plan: Any) -> Any:
    from pathlib import Path

    from octavia_upgrade.reports.provenance import collect

    path = plan["runbook_path"] if isinstance(plan, dict) else plan.runbook_path
    if not path or not Path(path).is_file():
        return None
    get = plan.get if isinstance(plan, dict) else lambda k: getattr(plan, k)
    return collect(path, runbook_name=get("runbook"), revision=get("revision"),
                   sha256=get("runbook_sha256"), catalog_version=get("catalog_version") or None)


__all__ = ["FORMATS", "SUFFIXES", "ExecutionReport", "InventorySummary", "PlanReport",
           "execution_report", "plan_report", "render", "render_plan_report",
           "secret_redactor", "summarize_inventory"]
