"""Render a report as JSON (stable keys, see ``schemas/report.schema.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from octavia_upgrade.reports.redaction import chain, redact_tree, secret_redactor


def render(report: Any, redact: Any = None) -> str:
    """``redact``: a callable or an object with ``redact()``; the built-in patterns always apply."""
    data = redact_tree(report.to_dict(), chain(redact, secret_redactor()))
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def schema_path() -> Path:
    from octavia_upgrade.resources import schemas_dir

    return schemas_dir() / "report.schema.json"


def validate(data: Any) -> list[str]:
    """Schema errors of a report document as ``$.path: message`` lines (empty when valid)."""
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{e.json_path}: {e.message}"
            for e in sorted(validator.iter_errors(data), key=lambda e: list(e.path))]
