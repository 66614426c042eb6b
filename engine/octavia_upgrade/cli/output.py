"""Shared output helpers for subcommands: formats and writing to a file or stdout."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def add_format(parser: Any, choices: tuple[str, ...], default: str) -> None:
    parser.add_argument("-f", "--format", choices=choices, default=default,
                        help=f"output format (default: {default})")


def add_output(parser: Any) -> None:
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE instead of standard output")


def emit(text: str, output: str | None = None) -> None:
    """Write ``text`` to ``output`` (``-o FILE``) or standard output.

    Raises:
        InvalidInput: ``FILE`` cannot be written (a directory, a missing folder,
            no permission): exit 2, one line.
    """
    if output:
        from octavia_upgrade.errors import InvalidInput

        target = Path(output)
        if target.is_dir():
            raise InvalidInput(f"-o {output}: is a directory; give a file name")
        try:
            target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"-o {output}: cannot write: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def dump(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, sort_keys=False, default=str)
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(data, sort_keys=False, width=100)
    raise ValueError(fmt)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain aligned text table (no colours: safe to pipe and to paste)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
