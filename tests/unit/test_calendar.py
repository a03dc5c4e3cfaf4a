"""Events as .ics files: they parse back, carry the event's own zone, repeat as Hearth's
series do, and keep whatever a member wrote intact."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr  # type: ignore[import-untyped]
from icalendar import Calendar, Event

from services.calendar import PRODID, event_ics
from services.when import next_occurrence

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
# 19:00-21:00 in Berlin on a Thursday.
START = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
END = START + timedelta(hours=2)


def ics(**overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "uid": "event-42@hearth",
        "title": "Game night",
        "start": START,
        "end": END,
        "tz": BERLIN,
        "description": None,
        "location": None,
        "url": None,
        "now": NOW,
    }
    fields.update(overrides)
    return event_ics(**fields)


def only_event(data: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Event)
    return calendar, event


def test_the_calendar_parses_back_with_one_event() -> None:
    calendar, event = only_event(ics())
    assert str(calendar["PRODID"]) == PRODID == "-//Hearth//Events//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(event["UID"]) == "event-42@hearth"
    assert str(event["SUMMARY"]) == "Game night"
    assert event.DTSTAMP == NOW
    assert len(calendar.walk("VEVENT")) == 1


def test_lines_are_crlf_and_folded() -> None:
    data = ics(description="🎉" * 100)
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))


@pytest.mark.parametrize(
    ("tz", "tzid", "wall"),
    [
        (BERLIN, "Europe/Berlin", datetime(2026, 12, 3, 19, 0)),
        (NEW_YORK, "America/New_York", datetime(2026, 12, 3, 13, 0)),
    ],
)
def test_start_and_end_are_in_the_events_zone(tz: ZoneInfo, tzid: str, wall: datetime) -> None:
    data = ics(tz=tz)
    calendar, event = only_event(data)
    assert event["DTSTART"].params["TZID"] == tzid
    assert event["DTEND"].params["TZID"] == tzid
    assert isinstance(event.start, datetime) and isinstance(event.end, datetime)
    assert event.start.replace(tzinfo=None) == wall
    assert event.end.replace(tzinfo=None) == wall + timedelta(hours=2)
    assert event.start == START and event.end == END
    assert f"DTSTART;TZID={tzid}:{wall:%Y%m%dT%H%M%S}".encode() in data
    assert [tz.tz_name for tz in calendar.timezones] == [tzid]


def test_the_vtimezone_itself_knows_both_offsets_of_a_series() -> None:
    calendar, _ = only_event(ics(repeat="weekly"))
    # Built from the VTIMEZONE's rules alone, not looked up by name.
    described = calendar.timezones[0].to_tz(lookup_tzid=False)
    winter = datetime(2026, 12, 3, 19, 0, tzinfo=described)
    summer = datetime(2027, 7, 1, 19, 0, tzinfo=described)
    assert winter.utcoffset() == timedelta(hours=1)
    assert summer.utcoffset() == timedelta(hours=2)


def test_a_utc_event_needs_no_vtimezone() -> None:
    data = ics(tz=ZoneInfo("UTC"))
    calendar, event = only_event(data)
    assert b"DTSTART:20261203T180000Z" in data
    assert calendar.timezones == []
    assert event.start == START


@pytest.mark.parametrize(
    ("repeat", "rule"),
    [
        ("none", None),
        ("weekly", b"FREQ=WEEKLY"),
        ("biweekly", b"FREQ=WEEKLY;INTERVAL=2"),
        ("monthly", b"FREQ=MONTHLY"),
    ],
)
def test_repeats_become_rrules(repeat: str, rule: bytes | None) -> None:
    data = ics(repeat=repeat)
    _, event = only_event(data)
    if rule is None:
        assert "RRULE" not in event
        assert b"RRULE" not in data
    else:
        assert event["RRULE"].to_ical() == rule
        assert b"RRULE:" + rule + b"\r\n" in data


def test_unknown_repeat_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        ics(repeat="daily")


@pytest.mark.parametrize(
    ("day", "rule"),
    [
        (28, b"FREQ=MONTHLY"),
        (29, b"FREQ=MONTHLY;BYMONTHDAY=28,29;BYSETPOS=-1"),
        (30, b"FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1"),
        (31, b"FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1"),
    ],
)
def test_monthly_on_a_late_day_clamps_like_hearth(day: int, rule: bytes) -> None:
    start = datetime(2026, 1, day, 19, 0, tzinfo=BERLIN).astimezone(UTC)
    _, event = only_event(ics(start=start, end=start + timedelta(hours=1), repeat="monthly"))
    assert event["RRULE"].to_ical() == rule


def test_anchor_day_keeps_a_clamped_series_on_the_31st() -> None:
    feb = datetime(2026, 2, 28, 19, 0, tzinfo=BERLIN).astimezone(UTC)
    _, event = only_event(
        ics(start=feb, end=feb + timedelta(hours=1), repeat="monthly", anchor_day=31)
    )
    assert event["RRULE"].to_ical() == b"FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1"


@pytest.mark.parametrize(
    ("tz", "first", "repeat"),
    [
        (BERLIN, datetime(2026, 1, 31, 19, 0), "monthly"),
        (NEW_YORK, datetime(2027, 12, 30, 19, 0), "monthly"),  # through February 2028
        (BERLIN, datetime(2026, 3, 15, 19, 0), "weekly"),  # across both DST changes
        (NEW_YORK, datetime(2026, 2, 1, 19, 0), "biweekly"),
    ],
)
def test_calendar_apps_see_the_same_dates_as_hearth(
    tz: ZoneInfo, first: datetime, repeat: str
) -> None:
    start = first.replace(tzinfo=tz).astimezone(UTC)
    _, event = only_event(ics(start=start, end=start + timedelta(hours=1), tz=tz, repeat=repeat))
    written = event["RRULE"].to_ical()
    assert isinstance(written, bytes)
    rule = rrulestr(written.decode(), dtstart=first)
    from_calendar = [rule[i] for i in range(30)]  # local wall-clock times

    hearth = [start]
    while len(hearth) < 30:
        hearth.append(next_occurrence(hearth[-1], tz=tz, repeat=repeat, anchor_day=first.day))
    assert [h.astimezone(tz).replace(tzinfo=None) for h in hearth] == from_calendar
    assert all(h.astimezone(tz).time() == time(19, 0) for h in hearth)


def test_member_text_round_trips() -> None:
    title = 'Board games, snacks; "bring a friend" 🎲\\o/'
    description = "Line one, with a comma;\nline two 🎉\n\nThe end: ünïcødé, 日本語, 👩‍👩‍👧"
    location = "Café Zur Linde, Hauptstraße 5; 2nd floor"
    url = "https://example.com/events/42?a=1&b=two,three;x"
    data = ics(title=title, description=description, location=location, url=url)
    _, event = only_event(data)
    assert str(event["SUMMARY"]) == title
    assert str(event["DESCRIPTION"]) == description
    assert str(event["LOCATION"]) == location
    assert str(event["URL"]) == url
    # Escaped on the wire, as RFC 5545 asks: no raw newline, comma or semicolon in TEXT.
    assert b"SUMMARY:Board games\\, snacks\\; " in data
    assert b"Line one\\, with a comma\\;\\nline two" in data


def test_a_long_emoji_text_survives_folding() -> None:
    title = "🎉🎲👩‍👩‍👧" * 40
    _, event = only_event(ics(title=title))
    assert str(event["SUMMARY"]) == title


def test_optional_fields_are_left_out_when_not_given() -> None:
    data = ics(description=None, location="", url=None)
    _, event = only_event(data)
    for name in ("DESCRIPTION", "LOCATION", "URL"):
        assert name not in event
    assert b"DESCRIPTION" not in data and b"LOCATION" not in data and b"URL" not in data


@pytest.mark.parametrize(("cancelled", "status"), [(False, "CONFIRMED"), (True, "CANCELLED")])
def test_status(cancelled: bool, status: str) -> None:
    data = ics(cancelled=cancelled)
    _, event = only_event(data)
    assert str(event["STATUS"]) == status
    assert f"STATUS:{status}\r\n".encode() in data


def test_the_same_event_gives_the_same_bytes() -> None:
    assert ics(repeat="weekly") == ics(repeat="weekly")


def test_times_must_be_aware_and_in_order() -> None:
    with pytest.raises(ValueError):
        ics(start=datetime(2026, 12, 3, 18, 0))
    with pytest.raises(ValueError):
        ics(end=START)
