"""Render a report as one self-contained HTML file (inline CSS and SVG, no fetches)."""

from __future__ import annotations

from typing import Any

from octavia_upgrade.reports import svg
from octavia_upgrade.reports.redaction import chain, redact_tree, secret_redactor
from octavia_upgrade.reports.templating import render_template


def render(report: Any, redact: Any = None) -> str:
    """``redact``: a callable or an object with ``redact()``; the built-in patterns always apply."""
    data = redact_tree(report.to_dict(), chain(redact, secret_redactor()))
    chart = svg.layout(data["timeline"]) if data["type"] == "execution" else None
    return render_template(f"{data['type']}.html.j2", html=True, r=data, chart=chart,
                           colours=svg.COLOURS)
