"""When things happen: start times read in the server's zone, event lengths, and the next
date of a weekly, biweekly or monthly series across DST changes and short months."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.errors import InvalidInputError
from services.guilds import parse_timezone
from services.when import (
    REPEATS,
    minutes_in_words,
    next_occurrence,
    parse_minutes,
    parse_start,
    parse_timezone_name,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# A Wednesday: 11:00 in Berlin (UTC+1), 05:00 in New York (UTC-5).
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A wall-clock time in ``tz`` (fold=0) as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=tz).astimezone(UTC)


def refused(call: Callable[..., object], *args: object, **kwargs: object) -> str:
    """Run ``call`` expecting InvalidInputError; return its message (checked non-empty)."""
    with pytest.raises(InvalidInputError) as caught:
        call(*args, **kwargs)
    message = caught.value.message
    assert isinstance(message, str) and message.strip(), "a refusal must say what to fix"
    return message


# -- parse_start: accepted forms ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03 19:00", utc(2026, 12, 3, 18, 0)),
        ("2026-12-03T19:00", utc(2026, 12, 3, 18, 0)),
        ("2026-12-03 7pm", utc(2026, 12, 3, 18, 0)),
        ("tomorrow 19:00", utc(2026, 12, 3, 18, 0)),
        ("fri 18:30", utc(2026, 12, 4, 17, 30)),
        ("friday 6:30pm", utc(2026, 12, 4, 17, 30)),
        ("Friday 6:30 PM", utc(2026, 12, 4, 17, 30)),
        ("in 3 days 20:00", utc(2026, 12, 5, 19, 0)),
        ("next monday 7pm", utc(2026, 12, 7, 18, 0)),
        ("today 21:00", utc(2026, 12, 2, 20, 0)),
        ("19:00", utc(2026, 12, 2, 18, 0)),  # still ahead today
        ("10:00", utc(2026, 12, 3, 9, 0)),  # gone today: tomorrow
        ("wed 12:00", utc(2026, 12, 2, 11, 0)),  # today is Wednesday, 12:00 still ahead
        ("wednesday 10:00", utc(2026, 12, 9, 9, 0)),  # gone today: next week
        ("wednesday 9 dec 12:00", utc(2026, 12, 9, 11, 0)),  # a named date is kept
        ("thur 19:00", utc(2026, 12, 3, 18, 0)),
        ("  tomorrow    19:00 ", utc(2026, 12, 3, 18, 0)),
        ("19h30", utc(2026, 12, 2, 18, 30)),  # a clock time, not "in 19 hours"
        ("fri 19h", utc(2026, 12, 4, 18, 0)),
    ],
)
def test_start_forms_in_berlin(text: str, expected: datetime) -> None:
    got = parse_start(text, tz=BERLIN, now=NOW)
    assert got == expected
    assert got.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03 19:00", utc(2026, 12, 4, 0, 0)),
        ("2026-12-03T19:00", utc(2026, 12, 4, 0, 0)),
        ("2026-12-03 7pm", utc(2026, 12, 4, 0, 0)),
        ("tomorrow 19:00", utc(2026, 12, 4, 0, 0)),
        ("fri 18:30", utc(2026, 12, 4, 23, 30)),
        ("friday 6:30pm", utc(2026, 12, 4, 23, 30)),
        ("in 3 days 20:00", utc(2026, 12, 6, 1, 0)),
        ("next monday 7pm", utc(2026, 12, 8, 0, 0)),
        ("today 21:00", utc(2026, 12, 3, 2, 0)),
        ("19:00", utc(2026, 12, 3, 0, 0)),  # still ahead today (it is 05:00 there)
        ("04:00", utc(2026, 12, 3, 9, 0)),  # gone today: tomorrow
        ("wed 10:00", utc(2026, 12, 2, 15, 0)),  # today, still ahead
        ("wed 04:00", utc(2026, 12, 9, 9, 0)),  # gone today: next week
    ],
)
def test_start_forms_in_new_york(text: str, expected: datetime) -> None:
    assert parse_start(text, tz=NEW_YORK, now=NOW) == expected


def test_a_weekday_is_today_while_the_time_is_still_ahead() -> None:
    friday = utc(2026, 12, 4, 10, 0)  # Friday 11:00 in Berlin
    assert parse_start("fri 18:30", tz=BERLIN, now=friday) == utc(2026, 12, 4, 17, 30)
    assert parse_start("friday 6:30pm", tz=BERLIN, now=friday) == utc(2026, 12, 4, 17, 30)
    assert parse_start("fri 10:00", tz=BERLIN, now=friday) == utc(2026, 12, 11, 9, 0)
    assert parse_start("next friday 18:30", tz=BERLIN, now=friday) == utc(2026, 12, 11, 17, 30)


def test_the_zone_is_applied_by_date_across_dst() -> None:
    # Wednesday 2026-03-25: Berlin moves to summer time (UTC+2) on Sunday the 29th.
    wednesday = utc(2026, 3, 25, 10, 0)
    assert parse_start("sat 19:00", tz=BERLIN, now=wednesday) == utc(2026, 3, 28, 18, 0)
    assert parse_start("sun 19:00", tz=BERLIN, now=wednesday) == utc(2026, 3, 29, 17, 0)
    # New York moves to UTC-4 on 2026-03-08.
    before = utc(2026, 3, 4, 15, 0)
    assert parse_start("in 5 days 19:00", tz=NEW_YORK, now=before) == utc(2026, 3, 9, 23, 0)
    assert parse_start("sat 19:00", tz=NEW_YORK, now=before) == utc(2026, 3, 8, 0, 0)


def test_a_time_that_happens_twice_means_the_first() -> None:
    # 2026-10-25 02:30 happens in CEST (UTC+2) and again in CET (UTC+1): take the first.
    assert parse_start("2026-10-25 02:30", tz=BERLIN, now=NOW) == utc(2026, 10, 25, 0, 30)
    assert parse_start("2026-11-01 01:30", tz=NEW_YORK, now=NOW) == utc(2026, 11, 1, 5, 30)


def test_past_times_are_returned_not_refused() -> None:
    assert parse_start("2025-01-01 10:00", tz=BERLIN, now=NOW) == utc(2025, 1, 1, 9, 0)
    assert parse_start("today 08:00", tz=BERLIN, now=NOW) == utc(2026, 12, 2, 7, 0)


def test_relative_times_start_on_the_minute() -> None:
    now = utc(2026, 12, 2, 10, 0, 17)
    assert parse_start("in 2 hours", tz=BERLIN, now=now) == utc(2026, 12, 2, 12, 0)


def test_utc_and_numeric_offsets_are_honoured() -> None:
    assert parse_start("2026-12-03 19:00 UTC", tz=BERLIN, now=NOW) == utc(2026, 12, 3, 19, 0)
    assert parse_start("2026-12-03T19:00Z", tz=NEW_YORK, now=NOW) == utc(2026, 12, 3, 19, 0)
    assert parse_start("2026-12-03 19:00 +05:30", tz=BERLIN, now=NOW) == utc(2026, 12, 3, 13, 30)


def test_zone_abbreviations_are_refused_as_ambiguous() -> None:
    message = refused(parse_start, "fri 7pm IST", tz=BERLIN, now=NOW)
    assert "Europe/Berlin" in message and "UTC" in message


# -- parse_start: refusals ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["garbage", "soon-ish", "the 45th of Smarch", "::"])
def test_garbage_is_refused_with_the_accepted_forms(text: str) -> None:
    message = refused(parse_start, text, tz=BERLIN, now=NOW)
    assert "`tomorrow 19:00`" in message and "`2026-12-03 19:00`" in message


@pytest.mark.parametrize(
    "text",
    ["friday", "tomorrow", "2026-12-03", "next monday", "in 3 days", "december 5", "tonight"],
)
def test_a_day_without_a_time_is_refused(text: str) -> None:
    message = refused(parse_start, text, tz=BERLIN, now=NOW)
    assert "time" in message and "19:00" in message


@pytest.mark.parametrize(
    ("tz", "text"),
    [(BERLIN, "2026-03-29 02:30"), (NEW_YORK, "2026-03-08 02:30"), (NEW_YORK, "2026-03-08 2:30am")],
)
def test_a_time_the_clocks_skip_is_refused_with_a_suggestion(tz: ZoneInfo, text: str) -> None:
    message = refused(parse_start, text, tz=tz, now=NOW)
    assert "02:30" in message and "jump forward 1 hour" in message and "03:30" in message


def test_empty_and_overlong_starts_are_refused() -> None:
    assert "When does it start" in refused(parse_start, "   ", tz=BERLIN, now=NOW)
    assert "characters" in refused(parse_start, "tomorrow " * 20, tz=BERLIN, now=NOW)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        parse_start("19:00", tz=BERLIN, now=datetime(2026, 12, 2, 10, 0))


# -- time zones -----------------------------------------------------------------------------


def test_timezone_names_use_the_server_setting_rule() -> None:
    assert parse_timezone_name is parse_timezone
    assert parse_timezone_name(" Europe/Berlin ") == BERLIN
    assert "Europe/Berlin" in refused(parse_timezone_name, "Mars/Olympus_Mons")


# -- next_occurrence ------------------------------------------------------------------------


def test_repeats() -> None:
    assert REPEATS == ("none", "weekly", "biweekly", "monthly")


def test_weekly_keeps_19_00_in_berlin_across_spring_forward() -> None:
    start = local(BERLIN, 2026, 3, 22, 19, 0)
    assert start == utc(2026, 3, 22, 18, 0)
    after = next_occurrence(start, tz=BERLIN, repeat="weekly")
    assert after == utc(2026, 3, 29, 17, 0)
    assert after.astimezone(BERLIN).time() == time(19, 0)
    assert after.tzinfo is UTC


def test_weekly_keeps_19_00_in_berlin_across_fall_back() -> None:
    start = local(BERLIN, 2026, 10, 18, 19, 0)
    assert start == utc(2026, 10, 18, 17, 0)
    assert next_occurrence(start, tz=BERLIN, repeat="weekly") == utc(2026, 10, 25, 18, 0)


def test_weekly_keeps_19_00_in_new_york_across_fall_back() -> None:
    start = local(NEW_YORK, 2026, 10, 25, 19, 0)
    assert start == utc(2026, 10, 25, 23, 0)
    after = next_occurrence(start, tz=NEW_YORK, repeat="weekly")
    assert after == utc(2026, 11, 2, 0, 0)
    assert after.astimezone(NEW_YORK) == datetime(2026, 11, 1, 19, 0, tzinfo=NEW_YORK)


def test_weekly_keeps_19_00_in_new_york_across_spring_forward() -> None:
    start = local(NEW_YORK, 2026, 3, 1, 19, 0)
    assert start == utc(2026, 3, 2, 0, 0)
    assert next_occurrence(start, tz=NEW_YORK, repeat="weekly") == utc(2026, 3, 8, 23, 0)


def test_biweekly_is_two_weeks_at_the_same_local_time() -> None:
    assert next_occurrence(local(BERLIN, 2026, 3, 22, 19, 0), tz=BERLIN, repeat="biweekly") == utc(
        2026, 4, 5, 17, 0
    )
    assert next_occurrence(
        local(NEW_YORK, 2026, 10, 25, 19, 0), tz=NEW_YORK, repeat="biweekly"
    ) == utc(2026, 11, 9, 0, 0)


def test_monthly_keeps_the_day_of_the_month() -> None:
    start = local(BERLIN, 2026, 3, 15, 19, 0)  # CET -> next is in CEST
    assert next_occurrence(start, tz=BERLIN, repeat="monthly") == local(BERLIN, 2026, 4, 15, 19, 0)
    december = local(NEW_YORK, 2026, 12, 15, 19, 0)
    assert next_occurrence(december, tz=NEW_YORK, repeat="monthly") == utc(2027, 1, 16, 0, 0)


def test_monthly_clamps_to_short_months_and_returns_to_the_31st() -> None:
    series = [local(BERLIN, 2026, 1, 31, 19, 0)]
    for _ in range(4):
        series.append(next_occurrence(series[-1], tz=BERLIN, repeat="monthly", anchor_day=31))
    days = [s.astimezone(BERLIN) for s in series]
    assert [(d.month, d.day) for d in days] == [(1, 31), (2, 28), (3, 31), (4, 30), (5, 31)]
    assert all(d.time() == time(19, 0) for d in days)
    # Without the anchor the clamped day is all that is left to go on.
    feb = series[1]
    march = next_occurrence(feb, tz=BERLIN, repeat="monthly")
    assert march.astimezone(BERLIN).date() == date(2026, 3, 28)


def test_monthly_on_the_31st_reaches_february_29_in_a_leap_year() -> None:
    start = local(NEW_YORK, 2028, 1, 31, 19, 0)
    feb = next_occurrence(start, tz=NEW_YORK, repeat="monthly")
    assert feb.astimezone(NEW_YORK).date() == date(2028, 2, 29)
    assert next_occurrence(feb, tz=NEW_YORK, repeat="monthly", anchor_day=31).astimezone(
        NEW_YORK
    ).date() == date(2028, 3, 31)


def test_a_series_time_in_the_gap_moves_forward_by_the_gap() -> None:
    start = local(BERLIN, 2026, 3, 22, 2, 30)
    moved = next_occurrence(start, tz=BERLIN, repeat="weekly")
    assert moved.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)
    assert moved == utc(2026, 3, 29, 1, 30)
    # The series' own time brings the next one back to 02:30.
    back = next_occurrence(moved, tz=BERLIN, repeat="weekly", anchor_time=time(2, 30))
    assert back.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 4, 5, 2, 30)


def test_a_series_time_that_happens_twice_takes_the_first() -> None:
    start = local(BERLIN, 2026, 10, 18, 2, 30)
    assert next_occurrence(start, tz=BERLIN, repeat="weekly") == utc(2026, 10, 25, 0, 30)


@pytest.mark.parametrize("repeat", ["none", "daily", ""])
def test_no_next_occurrence_without_a_series(repeat: str) -> None:
    with pytest.raises(ValueError):
        next_occurrence(NOW, tz=BERLIN, repeat=repeat)


def test_next_occurrence_needs_an_aware_start() -> None:
    with pytest.raises(ValueError):
        next_occurrence(datetime(2026, 12, 2, 10, 0), tz=BERLIN, repeat="weekly")


ZONES = [ZoneInfo(k) for k in ("Europe/Berlin", "America/New_York", "Australia/Sydney")] + [
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("UTC"),
]


def _exists(wall: datetime, tz: ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    tz=st.sampled_from(ZONES),
    repeat=st.sampled_from(["weekly", "biweekly", "monthly"]),
)
# Random instants seldom land near a transition; these do (into a gap, out of a repeat).
@example(start=local(BERLIN, 2026, 3, 22, 2, 30), tz=BERLIN, repeat="weekly")
@example(
    start=local(ZoneInfo("Australia/Sydney"), 2026, 9, 27, 2, 30), tz=ZONES[2], repeat="weekly"
)
@example(start=local(NEW_YORK, 2026, 2, 8, 2, 15), tz=NEW_YORK, repeat="monthly")
@example(start=utc(2026, 10, 25, 1, 30), tz=BERLIN, repeat="biweekly")  # 02:30 the 2nd time
def test_next_occurrence_keeps_the_local_time_and_moves_on(
    start: datetime, tz: ZoneInfo, repeat: str
) -> None:
    after = next_occurrence(start, tz=tz, repeat=repeat)
    assert after > start
    assert after.tzinfo is UTC
    was, now = start.astimezone(tz), after.astimezone(tz)
    if repeat == "monthly":
        month = was.month % 12 + 1
        year = was.year + (was.month == 12)
        day = min(was.day, calendar.monthrange(year, month)[1])
        assert now.date() == date(year, month, day)
    else:
        assert now.date() == was.date() + timedelta(weeks=1 if repeat == "weekly" else 2)
    wall = datetime.combine(now.date(), was.time().replace(fold=0))
    if _exists(wall, tz):
        assert (now.hour, now.minute, now.second) == (was.hour, was.minute, was.second)
    else:
        # Moved forward by the gap: later on the clock, by less than a couple of hours.
        assert timedelta(0) < now.replace(tzinfo=None) - wall <= timedelta(hours=2)


# -- parse_minutes --------------------------------------------------------------------------


def minutes(text: str | None) -> int:
    return parse_minutes(text, default=60, low=1, high=24 * 60, what="event length")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, 60),
        ("", 60),
        ("  ", 60),
        ("90", 90),
        (" 45 ", 45),
        ("90m", 90),
        ("90 min", 90),
        ("1h30m", 90),
        ("1h 30m", 90),
        ("1h30", 90),
        ("2h", 120),
        ("1.5h", 90),
        ("2 hours", 120),
        ("1 hour 30 minutes", 90),
        ("1m", 1),
        ("24h", 1440),
        ("1d", 1440),
        ("90s", 2),  # half a minute and up counts
    ],
)
def test_lengths(text: str | None, expected: int) -> None:
    assert minutes(text) == expected


@pytest.mark.parametrize("text", ["0", "20s", "-5m", "25h", "1441", "2d"])
def test_lengths_out_of_range_say_the_range(text: str) -> None:
    message = refused(minutes, text)
    assert "event length" in message and "between 1 minute and 24 hours" in message


@pytest.mark.parametrize("text", ["abc", "1:30", "soon", "h", "1.5"])
def test_unreadable_lengths_show_the_forms(text: str) -> None:
    message = refused(minutes, text)
    assert "event length" in message and "`1h30m`" in message


def test_the_range_is_in_words() -> None:
    message = refused(parse_minutes, "5", default=60, low=15, high=90, what="reminder")
    assert "between 15 minutes and 1 hour 30 minutes" in message
    assert minutes_in_words(1) == "1 minute"
    assert minutes_in_words(60) == "1 hour"
    assert minutes_in_words(61) == "1 hour 1 minute"
    assert minutes_in_words(1440) == "24 hours"
    assert minutes_in_words(2 * 1440) == "2 days"
