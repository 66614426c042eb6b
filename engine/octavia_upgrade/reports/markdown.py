"""Render a plan or execution report as Markdown (for change records and review)."""

from __future__ import annotations

from typing import Any

from octavia_upgrade.reports.redaction import chain, redact_tree, secret_redactor
from octavia_upgrade.reports.templating import render_template


def render(report: Any, redact: Any = None) -> str:
    """``redact``: a callable or an object with ``redact()``; the built-in patterns always apply."""
    data = redact_tree(report.to_dict(), chain(redact, secret_redactor()))
    return render_template(f"{data['type']}.md.j2", html=False, r=data)
