"""Change windows: cron-like ranges with a time zone and iCalendar files."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from octavia_upgrade.config import load_config
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.inventory import load_inventory
from octavia_upgrade.windows import Where, Windows, declared, load_calendar, parse_rule

SAT_NIGHT_BERLIN = "0 22 * * sat 6h Europe/Berlin"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_a_cron_window_opens_in_its_time_zone_and_says_when() -> None:
    w = Windows((parse_rule(SAT_NIGHT_BERLIN, Where("a.conf", 3, 1)),))
    # Saturday 2026-12-05 21:50 Berlin (CET, UTC+1) = 20:50 UTC: closed, opens at 21:00 UTC
    before = utc(2026, 12, 5, 20, 50)
    assert not w.is_open(before)
    msg = w.closed_message(before, "the run may not start")
    assert "the next window opens at 2026-12-05 21:00 UTC and closes at 2026-12-06 03:00 UTC" \
        in msg and "a.conf:3:1" in msg
    inside = utc(2026, 12, 6, 1, 0)
    assert w.is_open(inside) and w.current(inside) == (utc(2026, 12, 5, 21), utc(2026, 12, 6, 3))
    assert "fits the window open now until 2026-12-06 03:00 UTC (2h00m left)" \
        in w.fits(inside, 90 * 60)
    assert "does NOT fit" in w.fits(inside, 3 * 3600)
    assert "fits the next window, 2026-12-05 21:00 UTC" in w.fits(before, 3600)
    # summer time: 22:00 Berlin is 20:00 UTC in July
    assert w.next_opening(utc(2026, 7, 1))[0] == utc(2026, 7, 4, 20)  # type: ignore[index]


def test_no_window_declared_allows_any_time() -> None:
    assert Windows().is_open(utc(2026, 1, 1))
    assert "any time" in Windows().fits(utc(2026, 1, 1), 1e6)


@pytest.mark.parametrize("text,message", [
    ("0 22 * * sat", "a window is 'MIN HOUR DAY MONTH WEEKDAY LENGTH ZONE'"),
    ("0 25 * * sat 6h UTC", "'0 25 * * sat' is not a cron expression"),
    ("0 22 * * sat soon UTC", "'soon' is not a window length"),
    ("0 22 * * sat 6h Mars/Olympus", "'Mars/Olympus' is not a time zone"),
])
def test_a_malformed_window_is_an_input_error_with_its_position(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_rule(text, Where("ops.conf", 7, 1))
    (d,) = err.value.diagnostics
    assert (d.path, d.line, d.col, d.rule) == ("ops.conf", 7, 1, "change-window")
    assert message in d.message
    assert err.value.exit_code == 2


def ics(path: Path, body: str) -> Path:
    path.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ops//cab//EN\r\n" + body
                    + "END:VCALENDAR\r\n")
    return path


def test_an_icalendar_file_gives_its_events_and_their_repeats(tmp_path: Path) -> None:
    cal = ics(tmp_path / "cab.ics", "BEGIN:VEVENT\r\nUID:w1\r\nDTSTART:20261205T220000Z\r\n"
              "DTEND:20261206T020000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:CAB window\r\n"
              "END:VEVENT\r\n")
    w = Windows((load_calendar(str(cal)),))
    assert w.is_open(utc(2026, 12, 12, 23)) and not w.is_open(utc(2026, 12, 13, 3))
    assert w.next_opening(utc(2026, 12, 13))[0] == utc(2026, 12, 19, 22)  # type: ignore[index]
    assert w.next_opening(utc(2027, 1, 1)) is None  # COUNT=4: no more


def test_a_calendar_without_events_or_unreadable_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="holds no event"):
        load_calendar(str(ics(tmp_path / "empty.ics", "")))
    with pytest.raises(InvalidInput, match="cannot read the calendar"):
        load_calendar(str(tmp_path / "missing.ics"))


def test_windows_come_from_the_configuration_with_positions(tmp_path: Path) -> None:
    conf = tmp_path / "ou.conf"
    conf.write_text(f"[change_windows]\nallowed = {SAT_NIGHT_BERLIN}\nallowed = 0 2 * * * 1x UTC\n")
    settings = load_config([str(conf)], env={})
    assert settings.change_windows_allowed == (SAT_NIGHT_BERLIN, "0 2 * * * 1x UTC")
    with pytest.raises(InvalidInput) as err:
        declared(settings)
    (d,) = err.value.diagnostics
    assert (d.path, d.line) == (str(conf), 3) and "'1x' is not a window length" in d.message


def test_windows_come_from_the_inventory_with_positions(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    ics(tmp_path / "cab.ics", "BEGIN:VEVENT\r\nUID:w1\r\nDTSTART:20261205T220000Z\r\n"
        "DTEND:20261206T020000Z\r\nEND:VEVENT\r\n")
    body = ("apiVersion: octavia-upgrade/v1\nkind: Inventory\ndeployment: d\nflavor: deb\n"
            "change_windows:\n  - {cron: '0 22 * * sat', length: 6h, timezone: Europe/Berlin}\n"
            "  - {calendar: cab.ics}\n"
            "hosts:\n  ctl1: {address: 10.0.0.11, roles: [api, db-migrate]}\n")
    inv.write_text(body)
    w = declared(load_config([], env={}), load_inventory(inv))
    assert len(w.rules) == 2 and w.is_open(utc(2026, 12, 5, 23))
    inv.write_text(body.replace("Europe/Berlin", "Europe/Nowhere"))
    with pytest.raises(InvalidInput) as err:
        load_inventory(inv)
    (d,) = err.value.diagnostics
    assert (d.path, d.line) == (str(inv), 6) and "'Europe/Nowhere' is not a time zone" in d.message


def test_the_plan_report_says_whether_the_predicted_outage_fits() -> None:
    from octavia_upgrade.reports.model_plan import OutageWindow
    from octavia_upgrade.reports.planned import _window_fit

    w = Windows((parse_rule(SAT_NIGHT_BERLIN, Where("a.conf", 3, 1)),))
    outage = OutageWindow(first_step="stop-api", last_step="start-api", steps=(), estimate=1800)
    inside = utc(2026, 12, 6, 2, 45)  # 15 minutes before the window closes
    assert "does NOT fit the window open now" in str(_window_fit(w, outage, inside))
    assert "fits the next window" in str(_window_fit(w, outage, utc(2026, 12, 7)))
    assert _window_fit(None, outage, inside) is None
    assert "no change window is declared" in str(_window_fit(Windows(), outage, inside))
    unknown = OutageWindow(first_step="stop-api", last_step=None, steps=(), estimate=None)
    assert "unknown" in str(_window_fit(w, unknown, inside))
