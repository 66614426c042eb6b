"""Small formatting helpers shared by the renderers (Jinja filters)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from octavia_upgrade import hostaccess


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


def _sent(host: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """(attempt label, commands) of one (step, host): one unlabelled group when every
    attempt that sent something sent the same, else one group per attempt."""
    sent = [(a.get("attempt"), list(a.get("commands") or ())) for a in host.get("history") or ()]
    sent = [(n, cs) for n, cs in sent if cs]
    if sent and all(cs == sent[-1][1] for _, cs in sent):
        return [("", sent[-1][1])]
    return [(f"attempt {n}", cs) for n, cs in sent]


def _lines(name: str, groups: list[tuple[str, list[Any]]]) -> list[str]:
    lines = []
    for attempt, commands in groups:
        prefix = f"{name} {attempt}".strip()
        lead = f"{prefix}: " if prefix else ""
        for c in commands:
            times = int(c.get("times", 1) or 1)
            lines.append(f"{lead}{c.get('sent', '')}" + (f"  (×{times})" if times > 1 else ""))
            if c.get("planned") != c.get("sent"):
                lines.append(f"{' ' * len(lead)}(planned: {c.get('planned', '')})")
    return lines


def sent_lines(host: Mapping[str, Any]) -> list[str]:
    """The commands one (step, host) sent, one line each, in the order sent.

    Attempts that sent the same commands are shown once, otherwise each is
    labelled ``attempt N``. Where the plan's text differs (a value known only
    at run time), a ``(planned: …)`` line follows.
    """
    return _lines("", _sent(host))


def step_sent_lines(step: Mapping[str, Any]) -> list[str]:
    """The commands a step sent on all its hosts, as ``host: command`` lines; hosts
    that sent exactly the same are listed together (``ctl1, ctl2: …``)."""
    merged: list[tuple[list[str], list[tuple[str, list[Any]]]]] = []
    for h in step.get("hosts") or ():
        groups = _sent(h)
        if not groups:
            continue
        same = next((m for m in merged if m[1] == groups), None)
        if same is None:
            merged.append(([str(h.get("host") or "-")], groups))
        else:
            same[0].append(str(h.get("host") or "-"))
    return [line for hosts, groups in merged for line in _lines(", ".join(hosts), groups)]


def run_options(options: Mapping[str, Any] | None) -> str:
    """How a run was started, in words: detection, ``--limit``, ``--yes``, parameters."""
    if options is None:
        return "not recorded (the run was started by a version that did not keep them)"
    parts = []
    rest = dict(options)
    if "detect" in rest:
        parts.append("version detection ran" if rest.pop("detect")
                     else "version detection skipped (--no-detect)")
    if "preflight" in rest:
        parts.append("preflight checks passed before the first step" if rest.pop("preflight")
                     else "preflight skipped (--skip-preflight)")
    if "limit" in rest:
        limit = rest.pop("limit")
        parts.append(f"--limit {limit}" if limit else "all hosts (no --limit)")
    if "yes" in rest:
        parts.append("--yes: approvals given without a prompt (a rehearsal)"
                     if rest.pop("yes") else "approvals prompted")
    if "operator" in rest:
        parts.append(f"started by {rest.pop('operator')}")
    if "params" in rest:
        given = rest.pop("params")
        if isinstance(given, Mapping) and given:
            parts.append("parameters given: "
                         + ", ".join(f"{k}={v}" for k, v in sorted(given.items())))
        else:
            parts.append("no parameters given on the command line")
    parts += [f"{k}={v}" for k, v in sorted(rest.items())]
    return "; ".join(parts) or "none"


def planned_line(command: Mapping[str, Any]) -> str:
    """A planned command as ``plan -v`` shows it (environment, text, ``# note``)."""
    from octavia_upgrade.commands import PlannedCommand

    return PlannedCommand(str(command.get("key", "")), str(command.get("text", "")),
                          str(command.get("render", "")), str(command.get("note", "")),
                          dict(command.get("env") or {})).display


def clock_ms(value: str | None) -> str:
    """``2026-12-05T20:41:07.412Z`` → ``20:41:07.412``."""
    if not value:
        return "–"
    m = re.match(r"\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d(?:\.\d+)?)", value)
    return m.group(1) if m else value


def gap_ms(value: float | None) -> str:
    """A probe's longest gap: ``640 ms``, ``12.4 s`` from 10 s on."""
    if value is None:
        return "–"
    return f"{value / 1000:.1f} s" if value >= 10_000 else f"{value:.0f} ms"


def outage_text(o: Mapping[str, Any] | None) -> str:
    """The measured control-plane outage in a line (a report's ``outage``)."""
    if not o:
        return "none: no Octavia service was stopped"
    first = f"{clock_ms(o.get('start'))} ({o.get('first_stop')})"
    status = o.get("status")
    if status == "measured":
        hosts = o.get("api_hosts") or ()
        return (f"{duration(o.get('duration'))}: first stop {first} → API answering on every "
                f"API host at {clock_ms(o.get('end'))} ({len(hosts)} probed, last to answer: "
                f"{o.get('last_answering')})")
    if status == "open":
        return (f"API not answering on every API host again after the first stop {first}, "
                "up to the end of probing")
    if status == "api_never_down":
        return (f"none seen: the API answered every probe on every API host from the first "
                f"stop {first} on (an outage shorter than the probes' interval is not seen)")
    return f"not measured: the API was not probed (first stop {first})"


FILTERS = {"duration": duration, "delta": delta, "size": size, "clock": clock, "dash": dash,
           "cell": md_cell, "fence": fence, "yesno": yesno, "sent_lines": sent_lines,
           "step_sent_lines": step_sent_lines, "run_options": run_options,
           "planned_line": planned_line, "outage_text": outage_text, "clock_ms": clock_ms,
           "gap_ms": gap_ms,
           # a host's access (a report's HostInfo or HostAccess): user@address:port,
           # sudo, bastions; "not recorded" for plans before schema 3
           "host_login": hostaccess.login, "host_privileges": hostaccess.privileges,
           "host_route": hostaccess.route}
