"""Events as iCalendar (.ics) files, so members can put them in their own calendars.

Written with the icalendar library, which escapes member-written text (commas, semicolons,
backslashes, newlines) and folds long lines without splitting a character. Times are given
in the event's own zone with a VTIMEZONE, so a weekly series stays at 19:00 local across DST
in the member's calendar too.

Pure: no database, no Discord.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur
from icalendar.enums import STATUS

PRODID = "-//Hearth//Events//EN"

# The VTIMEZONE lists the zone's transitions as dates: this many years of them for a series
# with no end (calendar apps that know the zone by name ignore the list anyway).
SERIES_TIMEZONE_YEARS = 20

# Days 29-31 do not exist in every month. A plain FREQ=MONTHLY skips those months (RFC 5545),
# while Hearth's own series (services.when.next_occurrence) moves to the month's last day;
# "the last of these days that the month has" says the same thing in RRULE.
_LAST_DAYS = {29: [28, 29], 30: [28, 29, 30], 31: [28, 29, 30, 31]}


def _rrule(repeat: str, anchor_day: int) -> vRecur | None:
    if repeat == "none":
        return None
    if repeat == "weekly":
        return vRecur(freq="WEEKLY")
    if repeat == "biweekly":
        return vRecur(freq="WEEKLY", interval=2)
    if repeat == "monthly":
        if anchor_day in _LAST_DAYS:
            return vRecur(freq="MONTHLY", bymonthday=_LAST_DAYS[anchor_day], bysetpos=-1)
        return vRecur(freq="MONTHLY")
    raise ValueError(f"unknown repeat {repeat!r}")


def event_ics(
    *,
    uid: str,
    title: str,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    description: str | None,
    location: str | None,
    url: str | None,
    repeat: str = "none",
    cancelled: bool = False,
    now: datetime,
    anchor_day: int | None = None,
) -> bytes:
    """One event as an .ics file: a VCALENDAR (METHOD:PUBLISH) holding a VTIMEZONE and a VEVENT.

    ``start``, ``end`` and ``now`` are aware; start and end are written in ``tz``. ``repeat``
    is one of services.when.REPEATS and becomes an RRULE; for monthly series ``anchor_day``
    is the series' day of the month (default: the day of ``start`` in ``tz``), so a series
    on the 31st says "the month's last day" in months that are shorter. Keep ``uid`` the
    same for the same event, so a calendar app updates it (or marks it cancelled) instead of
    adding a copy.
    """
    if start.tzinfo is None or end.tzinfo is None or now.tzinfo is None:
        raise ValueError("start, end and now must be aware datetimes")
    if end <= start:
        raise ValueError("end must be after start")
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)

    event = Event.new(
        uid=uid,
        stamp=now.astimezone(UTC),
        start=local_start,
        end=local_end,
        summary=title,
        description=description or None,
        location=location or None,
        url=url or None,
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
    )
    rule = _rrule(repeat, local_start.day if anchor_day is None else anchor_day)
    if rule is not None:
        event.add("RRULE", rule)

    # Not Calendar.new(): it adds a random calendar UID, and the same event should give
    # the same bytes.
    ics = Calendar()
    ics.prodid = PRODID
    ics.version = "2.0"
    ics.method = "PUBLISH"
    ics.add_component(event)
    last_year = local_start.year + SERIES_TIMEZONE_YEARS if rule else local_end.year + 1
    ics.add_missing_timezones(
        first_date=date(local_start.year, 1, 1), last_date=date(last_year, 1, 1)
    )
    data: bytes = ics.to_ical()
    return data
