"""Bring a resumed run's JSON log up to date with what the state database recorded.

The state database is the record; the JSON log follows it. A crash can fall
between committing an attempt's start or result and writing its log line, so
a log can lack the last few things a killed run did. On resume, every
recorded attempt the log does not have yet is written from the database,
marked ``recovered: true``, and every attempt found in flight (now
``unknown``) gets an ``attempt-unknown`` line: the log again has an entry for
every (step, host, attempt) the run executed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def logged(path: Path) -> set[tuple[str, str, str, int]]:
    """(event, step, host, attempt) of every attempt line already in the log."""
    seen: set[tuple[str, str, str, int]] = set()
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return seen
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:  # a line cut short by the crash
            continue
        if isinstance(e, dict) and "attempt" in e:
            seen.add((str(e.get("event")), str(e.get("step_id")), str(e.get("host")),
                      int(e.get("attempt") or 0)))
    return seen


def recover(log: Any, results: Iterable[Any]) -> int:
    """Write the missing attempt lines to ``log`` (a RunLog); returns how many."""
    _end_last_line(Path(log.path))
    seen = logged(log.path)
    written = 0
    for r in results:
        key = (r.step_id, r.host, r.attempt)
        ids = {"step_id": r.step_id, "host": r.host, "attempt": r.attempt, "phase": r.phase}
        if ("attempt-started", *key) not in seen:
            log.info("attempt-started", recovered=True, **ids)
            written += 1
        if r.status == "unknown":
            if ("attempt-unknown", *key) not in seen:
                log.warning("attempt-unknown", recovered=True, status="unknown",
                            message=r.message, **ids)
                written += 1
        elif r.status != "running" and ("attempt-finished", *key) not in seen:
            log.info("attempt-finished", recovered=True, status=r.status, rc=r.rc,
                     message=r.message, **ids)
            written += 1
    if written:
        log.sync()
    return written


def _end_last_line(path: Path) -> None:
    """Terminate a line the crash cut short, so the next entry starts on its own line."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            if f.tell() == 0:
                return
            f.seek(-1, 2)
            if f.read(1) == b"\n":
                return
    except FileNotFoundError:
        return
    with path.open("ab") as f:
        f.write(b"\n")
