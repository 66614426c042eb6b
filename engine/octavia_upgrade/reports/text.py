"""Small formatting helpers shared by the renderers (Jinja filters)."""

from __future__ import annotations

import re
from typing import Any


def duration(value: float | None, unknown: str = "unknown") -> str:
    """``3723`` → ``1h 02m 03s``; ``65.2`` → ``1m 05s``; ``4.25`` → ``4.2s``."""
    if value is None:
        return unknown
    v = float(value)
    sign = "-" if v < 0 else ""
    v = abs(v)
    if v < 60:
        return f"{sign}{v:.1f}s"
    total = int(round(v))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h}h {m:02d}m {s:02d}s" if h else f"{sign}{m}m {s:02d}s"


def delta(value: float | None) -> str:
    """A signed difference: ``+12.0s`` (slower than estimated) or ``-3.0s``."""
    if value is None:
        return "–"
    return ("+" if value >= 0 else "") + duration(value)


def size(value: int | None) -> str:
    if value is None:
        return "unknown"
    n = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            shown = f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
            return shown if unit == "bytes" else f"{shown} ({value:,} bytes)"
        n /= 1024
    return str(value)


def clock(value: str | None) -> str:
    """``2026-11-25T16:05:01Z`` → ``16:05:01`` (reports state the date once)."""
    if not value:
        return "–"
    m = re.match(r"\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)", value)
    return m.group(1) if m else value


def dash(value: Any) -> Any:
    return "–" if value is None or value == "" else value


def md_cell(value: Any) -> str:
    """Make a value safe inside a Markdown table cell."""
    text = "–" if value is None or value == "" else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def fence(text: str, info: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text.rstrip()}\n{ticks}"


def yesno(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


FILTERS = {"duration": duration, "delta": delta, "size": size, "clock": clock, "dash": dash,
           "cell": md_cell, "fence": fence, "yesno": yesno}
