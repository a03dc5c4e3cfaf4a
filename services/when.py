"""When things happen: a member's start time, an event's length, and the next date of a series.

Times are read as wall-clock times in the server's IANA zone and returned as aware UTC. The
step from wall clock to UTC is done here with zoneinfo, not by dateparser, so that the two
awkward hours of the year (the spring-forward gap and the fall-back repeat) are handled on
purpose: a time in the gap is refused, a repeated time means its first occurrence.

Pure: no database, no Discord.
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateparser.date import DateDataParser  # type: ignore[import-untyped]
from pytimeparse2 import parse as parse_timespan  # type: ignore[import-untyped]

from services.errors import InvalidInputError
from services.guilds import parse_timezone

REPEATS = ("none", "weekly", "biweekly", "monthly")

MAX_START_LENGTH = 100

# The server's zone is named by the same rule everywhere (and with the same message).
parse_timezone_name = parse_timezone

_EXAMPLES = "`2026-12-03 19:00`, `tomorrow 19:00`, `friday 6:30pm`, `in 3 days 20:00` or `19:00`"

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# dateparser reads "fri" but not "thur", and not "wed" after "next"; the full name always works.
_WEEKDAY_SHORT = re.compile(
    r"\b(mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)\b\.?", re.IGNORECASE
)
_SHORT_TO_FULL = {
    "mon": "monday",
    "tue": "tuesday",
    "tues": "tuesday",
    "wed": "wednesday",
    "weds": "wednesday",
    "thu": "thursday",
    "thur": "thursday",
    "thurs": "thursday",
    "fri": "friday",
    "sat": "saturday",
    "sun": "sunday",
}
_WEEKDAY_FULL = re.compile(r"\b(?:on\s+)?(" + "|".join(_WEEKDAYS) + r")\b", re.IGNORECASE)
_RELATIVE_WORD = re.compile(r"\b(?:in|ago)\b", re.IGNORECASE)
_WEEKDAY_QUALIFIER = re.compile(r"\b(?:in|ago|next|last|this)\b", re.IGNORECASE)
# "19h" and "19h30" are how much of Europe writes a clock time; dateparser reads "19h" as
# "in 19 hours", which would quietly schedule the event for tomorrow morning.
_HOUR_SUFFIX = re.compile(r"\b([01]?\d|2[0-3])h([0-5]\d)?\b", re.IGNORECASE)
# A zone written in the text: only UTC and numeric offsets mean one thing. Abbreviations do
# not ("IST" is India, Ireland or Israel; "EST" is often written in summer for New York).
_UNAMBIGUOUS_ZONE = re.compile(
    r"(?:(?<=\d)z|\butc|\bgmt|[+-]\d{1,2}(?::?\d{2})?)\s*$", re.IGNORECASE
)


def _normalize(text: str) -> str:
    text = " ".join(text.split())
    text = _WEEKDAY_SHORT.sub(lambda m: _SHORT_TO_FULL[m.group(1).lower()], text)
    if not _RELATIVE_WORD.search(text):
        text = _HOUR_SUFFIX.sub(lambda m: f"{m.group(1)}:{m.group(2) or '00'}", text)
    return text


def _parse(text: str, base: datetime) -> tuple[datetime | None, str | None]:
    """dateparser's reading of ``text`` relative to ``base`` (naive local): (date, period)."""
    parser = DateDataParser(
        languages=["en"],
        settings={
            "RELATIVE_BASE": base,
            "PREFER_DATES_FROM": "future",
            # The only reliable way to learn whether the text had a time of day: the period
            # is "time" then, and "day"/"week"/"month"/... otherwise. The datetime alone does
            # not tell: "friday" comes back as Friday 00:00 and "tomorrow" as tomorrow at
            # the base's time, both indistinguishable from a time someone actually wrote.
            "RETURN_TIME_AS_PERIOD": True,
            # A fixed zone, so that dateparser never looks up the machine's zone; naive
            # results are left as the wall-clock time that was written.
            "TIMEZONE": "UTC",
        },
    )
    data = parser.get_date_data(text)
    found: datetime | None = data.date_obj
    period: str | None = data.period
    return found, period


def _same_weekday_today(text: str, found: datetime, base: datetime) -> datetime | None:
    """``wednesday 12:00`` typed on a Wednesday morning means today, not in a week.

    dateparser, preferring the future, always moves a named weekday that is today to next
    week. Only a weekday plus a time qualifies: ``wednesday 9 dec 12:00`` names its date.
    """
    names = _WEEKDAY_FULL.findall(text)
    if len(names) != 1 or _WEEKDAY_QUALIFIER.search(text):
        return None
    if _WEEKDAYS.index(names[0].lower()) != base.weekday():
        return None
    if found.date() != base.date() + timedelta(days=7):
        return None
    rest = " ".join(_WEEKDAY_FULL.sub(" ", text).replace(",", " ").split())
    today, period = _parse(rest, base) if rest else (None, None)
    if today is None or period != "time" or today.tzinfo is not None:
        return None
    if today.date() != base.date() or today.time() != found.time():
        return None
    return today


def _gap_words(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def _to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive local wall-clock time in ``tz`` -> aware UTC; refuse one the clocks skip."""
    local = wall.replace(tzinfo=tz, fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != wall:
        # fold=0 in a gap uses the offset from before the jump, so the instant lands the
        # gap's length later on the clock: exactly the time to suggest.
        shifted = instant.astimezone(tz)
        gap = shifted.replace(tzinfo=None) - wall
        raise InvalidInputError(
            f"There is no {wall:%H:%M} on {wall:%Y-%m-%d} in {tz.key}: the clocks jump "
            f"forward {_gap_words(gap)} that night. Did you mean {shifted:%H:%M}?"
        )
    return instant


def parse_start(text: str, *, tz: ZoneInfo, now: datetime) -> datetime:
    """A member's start time, read in ``tz``, as an aware UTC datetime (floored to the minute).

    Accepts ISO (``2026-12-03 19:00``, ``2026-12-03T19:00``, ``2026-12-03 7pm``) and
    everyday English: ``tomorrow 19:00``, ``fri 18:30``, ``friday 6:30pm``, ``in 3 days
    20:00``, ``next monday 7pm``, ``today 21:00``, ``19:00``. A weekday or a bare time
    means the next one still ahead (today if it is). A trailing ``UTC`` or offset such as
    ``+05:30`` is honoured; other zone names are refused as ambiguous. A day without a time
    of day is refused: an event needs one. Past times are returned, not refused (the
    caller decides what to say about them).
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    written = " ".join(text.split())
    if not written:
        raise InvalidInputError(f"When does it start? Give a day and a time, like {_EXAMPLES}.")
    if len(written) > MAX_START_LENGTH:
        raise InvalidInputError(
            f"That start time is {len(written)} characters long; a day and a time fit in "
            f"far fewer. Try something like {_EXAMPLES}."
        )
    normalized = _normalize(written)
    base = now.astimezone(tz).replace(tzinfo=None, fold=0)
    found, period = _parse(normalized, base)
    if found is None:
        raise InvalidInputError(
            f"I couldn't read {written!r} as a day and a time. Try {_EXAMPLES}."
        )
    if period != "time":
        raise InvalidInputError(
            f"{written!r} doesn't say what time it starts, and an event needs a time of day. "
            "Add one, like `friday 19:00` or `tomorrow 7pm`."
        )
    if found.tzinfo is not None:
        if not _UNAMBIGUOUS_ZONE.search(normalized):
            raise InvalidInputError(
                f"I can't be sure which time zone {written!r} means. Leave the zone out and "
                f"I'll read the time in {tz.key} time, or write it as `UTC` or an offset "
                "like `+05:30`."
            )
        return found.astimezone(UTC).replace(second=0, microsecond=0)
    wall = _same_weekday_today(normalized, found, base) or found
    # Relative forms ("in 2 hours") inherit the seconds of now; an event starts on a minute.
    return _to_utc(wall.replace(second=0, microsecond=0), tz)


def _add_months(day: date, months: int, anchor_day: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def next_occurrence(
    start: datetime,
    *,
    tz: ZoneInfo,
    repeat: str,
    anchor_day: int | None = None,
    anchor_time: time | None = None,
) -> datetime:
    """The start after ``start`` in a ``weekly``, ``biweekly`` or ``monthly`` series.

    Aware in, aware UTC out, at the same local wall-clock time in ``tz`` (19:00 stays 19:00
    across a DST change, so the UTC time moves). Monthly keeps the day of the month,
    clamped to the month's length. A wall-clock time that falls in a DST gap moves forward
    by the gap's length; one that occurs twice means the first.

    A clamped or moved occurrence has lost the series' real day or time, so pass what the
    series was set up with when stepping on from one: ``anchor_day`` (the day of the month,
    so Jan 31 -> Feb 28 -> Mar 31 rather than Mar 28) and ``anchor_time`` (the local time
    of day). Both default to those of ``start`` in ``tz``.
    """
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    local = start.astimezone(tz)
    wall_time = (anchor_time or local.time()).replace(tzinfo=None, fold=0)
    if repeat == "weekly":
        day = local.date() + timedelta(weeks=1)
    elif repeat == "biweekly":
        day = local.date() + timedelta(weeks=2)
    elif repeat == "monthly":
        anchor = local.day if anchor_day is None else anchor_day
        if not 1 <= anchor <= 31:
            raise ValueError(f"anchor_day must be 1-31, not {anchor}")
        day = _add_months(local.date(), 1, anchor)
    else:
        raise ValueError(f"no next occurrence for repeat={repeat!r}")
    # fold=0 is both rules at once: the first of a repeated time, and in a gap the offset
    # from before the jump, which lands the gap's length later on the clock.
    wall = datetime.combine(day, wall_time).replace(tzinfo=tz, fold=0)
    return wall.astimezone(UTC)


# -- lengths --------------------------------------------------------------------------------

_HAS_UNIT = re.compile(r"[a-zA-Z]")
# "1h30" is how people write an hour and a half; pytimeparse2 wants the trailing unit.
_HOURS_THEN_BARE_MINUTES = re.compile(r"^(\d+\s*h)\s*(\d+)$", re.IGNORECASE)


def minutes_in_words(minutes: int) -> str:
    """``1`` -> "1 minute", ``90`` -> "1 hour 30 minutes", ``1440`` -> "24 hours"."""

    def unit(n: int, word: str) -> str:
        return f"{n} {word}" if n == 1 else f"{n} {word}s"

    hours, rest = divmod(minutes, 60)
    if rest == 0 and hours > 24 and hours % 24 == 0:
        return unit(hours // 24, "day")
    if hours == 0:
        return unit(rest, "minute")
    if rest == 0:
        return unit(hours, "hour")
    return f"{unit(hours, 'hour')} {unit(rest, 'minute')}"


def parse_minutes(text: str | None, *, default: int, low: int, high: int, what: str) -> int:
    """A length in whole minutes: ``90`` (a bare number is minutes), ``90m``, ``1h30m``, ``2h``.

    Empty means ``default``. ``what`` names the thing in lowercase for the messages, like
    ``"event length"``; the result must lie in ``low..high`` minutes.
    """
    if text is None or not text.strip():
        return default
    written = " ".join(text.split())
    bounds = f"between {minutes_in_words(low)} and {minutes_in_words(high)}"
    if written.isdigit():
        minutes = int(written)
    else:
        spaced = _HOURS_THEN_BARE_MINUTES.sub(r"\1\2m", written)
        # Without a unit pytimeparse2 reads "1:30" as 90 seconds, which nobody means here.
        seconds = parse_timespan(spaced) if _HAS_UNIT.search(spaced) else None
        if seconds is None:
            raise InvalidInputError(
                f"I couldn't read {written!r} as the {what}. Use minutes or hours, like "
                f"`90`, `90m`, `1h30m` or `2h` ({bounds})."
            )
        # Half a minute and up counts as a minute (round() would round 2.5 down to 2).
        minutes = math.floor(float(seconds) / 60 + 0.5)
    if not low <= minutes <= high:
        given = minutes_in_words(minutes) if minutes > 0 else "too short"
        raise InvalidInputError(f"The {what} must be {bounds}; {written!r} is {given}.")
    return minutes
