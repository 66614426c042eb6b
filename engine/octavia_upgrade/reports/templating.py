"""The Jinja environments for report templates (packaged under ``templates/``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from octavia_upgrade.reports.text import FILTERS


@cache
def environment(html: bool) -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("octavia_upgrade.reports", "templates"),
        autoescape=select_autoescape(["html.j2"]) if html else False,
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def render_template(name: str, html: bool, **context: Any) -> str:
    return environment(html).get_template(name).render(**context)
