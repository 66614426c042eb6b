"""Allowed change windows: when a run may start and its outage may begin.

A window is either a cron-like range, a start time in cron syntax with a
length and a time zone (``0 22 * * sat 6h Europe/Berlin``: Saturdays from
22:00 Berlin time for six hours), or the events of an iCalendar file (each
VEVENT from DTSTART to DTEND, RRULE repeats included). Windows come from the
configuration (``[change_windows] allowed``, ``calendar``) and from the
inventory (``change_windows:``); with none declared, every time is allowed.

Pure: :func:`parse_rule` and :func:`load_calendar` check their input and
raise :class:`~octavia_upgrade.errors.InvalidInput` with the position of the
bad definition; :class:`Windows` answers whether a time is inside and when
the next window opens. croniter and icalendar are imported when needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from octavia_upgrade.errors import Diagnostic, InvalidInput

#: How far ahead the next opening is looked for.
HORIZON = timedelta(days=400)


@dataclass(frozen=True)
class Where:
    """The position of a window's definition (for messages)."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}" if self.line else self.path

    def error(self, message: str) -> InvalidInput:
        return InvalidInput(f"{self.path}: invalid change window", [
            Diagnostic(self.path, self.line, self.col, "change-window", message)])


@dataclass(frozen=True)
class CronRule:
    """Windows that open at each ``cron`` time (in ``tz``) for ``length`` seconds."""

    cron: str
    length: float
    tz: str
    where: Where

    def spans(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The windows overlapping [start, end), as aware UTC intervals."""
        from zoneinfo import ZoneInfo

        from croniter import croniter

        zone = ZoneInfo(self.tz)
        it = croniter(self.cron, (start - timedelta(seconds=self.length)).astimezone(zone))
        out = []
        while True:
            opens = it.get_next(datetime)
            if opens >= end:
                return out
            closes = opens + timedelta(seconds=self.length)
            if closes > start:
                out.append((opens.astimezone(timezone.utc), closes.astimezone(timezone.utc)))

    def next_after(self, now: datetime) -> tuple[datetime, datetime] | None:
        from zoneinfo import ZoneInfo

        from croniter import croniter

        opens = croniter(self.cron, now.astimezone(ZoneInfo(self.tz))).get_next(datetime)
        return (opens.astimezone(timezone.utc),
                (opens + timedelta(seconds=self.length)).astimezone(timezone.utc))

    def describe(self) -> str:
        return f"{self.cron} for {_length(self.length)} ({self.tz}), {self.where}"


@dataclass(frozen=True)
class CalendarRule:
    """Windows that are the events of an iCalendar file."""

    events: tuple[tuple[datetime, datetime | None, str | None], ...]  # start, end, rrule
    where: Where

    def spans(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        from dateutil.rrule import rrulestr

        out = []
        for opens, closes, rule in self.events:
            length = (closes - opens) if closes else timedelta(hours=1)
            starts = [opens] if rule is None else list(
                rrulestr(rule, dtstart=opens).between(start - length, end, inc=True))
            for s in starts:
                if s < end and s + length > start:
                    out.append((s.astimezone(timezone.utc),
                                (s + length).astimezone(timezone.utc)))
        return sorted(out)

    def next_after(self, now: datetime) -> tuple[datetime, datetime] | None:
        later = [(s, e) for s, e in self.spans(now, now + HORIZON) if s > now]
        return later[0] if later else None

    def describe(self) -> str:
        return f"the events of {self.where}"


Rule = CronRule | CalendarRule


@dataclass(frozen=True)
class Windows:
    """The allowed change windows (none: always allowed)."""

    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def current(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The window ``now`` is inside (the one closing last, when several), or None."""
        spans = [(s, e) for s, e in self._spans(now, now + timedelta(seconds=1)) if s <= now < e]
        return max(spans, key=lambda se: se[1]) if spans else None

    def next_opening(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The next window that opens after ``now`` (within :data:`HORIZON`)."""
        found = [n for n in (r.next_after(now) for r in self.rules) if n is not None]
        found = [n for n in found if n[0] - now <= HORIZON]
        return min(found) if found else None

    def is_open(self, now: datetime) -> bool:
        return not self.rules or self.current(now) is not None

    def closed_message(self, now: datetime, what: str) -> str:
        """Why ``what`` may not happen at ``now``, and when it may."""
        nxt = self.next_opening(now)
        when = (f"the next window opens at {_utc(nxt[0])} and closes at {_utc(nxt[1])}"
                if nxt else f"no window opens in the next {HORIZON.days} days")
        rules = "; ".join(r.describe() for r in self.rules)
        return f"{what} outside the allowed change windows: {when} (windows: {rules})"

    def fits(self, now: datetime, seconds: float) -> str:
        """Whether an outage of ``seconds`` starting at ``now`` (or at the next opening) fits."""
        if not self.rules:
            return "no change window is declared: any time is allowed"
        cur = self.current(now)
        if cur is not None:
            left = (cur[1] - now).total_seconds()
            verdict = "fits" if seconds <= left else "does NOT fit"
            return (f"the predicted outage ({_length(seconds)}) {verdict} the window open now "
                    f"until {_utc(cur[1])} ({_length(left)} left)")
        nxt = self.next_opening(now)
        if nxt is None:
            return f"no change window opens in the next {HORIZON.days} days"
        span = (nxt[1] - nxt[0]).total_seconds()
        verdict = "fits" if seconds <= span else "does NOT fit"
        return (f"no window is open now; the predicted outage ({_length(seconds)}) {verdict} "
                f"the next window, {_utc(nxt[0])} to {_utc(nxt[1])} ({_length(span)})")

    def _spans(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        return sorted(s for r in self.rules for s in r.spans(start, end))


def _utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _length(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    if minutes < 1:
        return f"{seconds:.0f}s"
    h, m = divmod(minutes, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m"


def parse_rule(text: str, where: Where) -> CronRule:
    """``MIN HOUR DOM MON DOW LENGTH TZ`` → :class:`CronRule` (input error at ``where``)."""
    parts = text.split()
    if len(parts) != 7:
        raise where.error(f"{text!r}: a window is 'MIN HOUR DAY MONTH WEEKDAY LENGTH ZONE', "
                          "such as '0 22 * * sat 6h Europe/Berlin'")
    return cron_rule(" ".join(parts[:5]), parts[5], parts[6], where)


def cron_rule(cron: str, length: Any, tz: str, where: Where) -> CronRule:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    from octavia_upgrade.model import parse_duration

    if not croniter.is_valid(cron) or len(cron.split()) != 5:
        raise where.error(f"{cron!r} is not a cron expression (minute hour day month weekday)")
    try:
        seconds = parse_duration(length)
    except (ValueError, TypeError):
        seconds = -1.0
    if not seconds or seconds <= 0:
        raise where.error(f"{length!r} is not a window length: use e.g. 30m, 6h")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise where.error(f"{tz!r} is not a time zone: use an IANA name such as "
                          "Europe/Berlin or UTC") from None
    return CronRule(cron, seconds, str(tz), where)


def load_calendar(path: str, where: Where | None = None) -> CalendarRule:
    """The events of an iCalendar file as windows (input error when unreadable or malformed)."""
    where = where or Where(path)
    try:
        raw = open(path, "rb").read()  # noqa: SIM115 - small file, read at once
    except OSError as exc:
        raise where.error(f"cannot read the calendar {path}: {exc.strerror or exc}") from None
    from icalendar import Calendar

    try:
        cal = Calendar.from_ical(raw)
    except ValueError as exc:
        raise where.error(f"{path} is not an iCalendar file: {exc}") from None
    events = []
    for ev in cal.walk("VEVENT"):
        start = ev.get("DTSTART")
        if start is None:
            raise where.error(f"{path}: an event has no DTSTART")
        s = _aware(start.dt, where)
        end = ev.get("DTEND")
        e = _aware(end.dt, where) if end is not None else None
        rule = ev.get("RRULE")
        events.append((s, e, rule.to_ical().decode() if rule is not None else None))
    if not events:
        raise where.error(f"{path} holds no event (VEVENT): it allows no window")
    return CalendarRule(tuple(events), where)


def _aware(value: Any, where: Where) -> datetime:
    if not isinstance(value, datetime):  # an all-day date
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def declared(settings: Any, inventory: Any = None) -> Windows:
    """The windows of the configuration and the inventory (input error at a bad one)."""
    rules: list[Rule] = []
    files = tuple(getattr(settings, "config_files", ()) or ())
    for text in getattr(settings, "change_windows_allowed", ()) or ():
        rules.append(parse_rule(text, _in_config(files, text)))
    calendar = getattr(settings, "change_windows_calendar", None)
    if calendar:
        from pathlib import Path

        rules.append(load_calendar(str(Path(calendar).expanduser()),
                                   _in_config(files, calendar)))
    for w in getattr(inventory, "change_windows", ()) or ():
        where = _parse_where(str(w.get("where", "")))
        if "calendar" in w:
            rules.append(load_calendar(str(w["calendar"]), where))
        else:
            rules.append(cron_rule(str(w["cron"]), w["length"], str(w.get("timezone", "UTC")),
                                   where))
    return Windows(tuple(rules))


def _in_config(files: tuple[str, ...], value: str) -> Where:
    """Where ``value`` is set in the configuration files (the last file that has it)."""
    for path in reversed(files):
        try:
            lines = open(path, encoding="utf-8").read().splitlines()  # noqa: SIM115
        except OSError:
            continue
        for n, line in enumerate(lines, 1):
            if value in line and "=" in line and not line.lstrip().startswith("#"):
                return Where(path, n, 1)
    return Where(files[-1] if files else "<configuration>")


def _parse_where(text: str) -> Where:
    path, _, rest = text.rpartition(":")
    path2, _, line = path.rpartition(":")
    if line.isdigit() and rest.isdigit():
        return Where(path2, int(line), int(rest))
    return Where(text or "<inventory>")
