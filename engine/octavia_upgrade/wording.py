"""Small helpers for the words the tool prints: counts with the right plural."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 host``, ``2 hosts``, ``0 hosts``; ``many`` for an irregular plural."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
