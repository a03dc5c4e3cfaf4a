"""The weekly digest on SQLite and PostgreSQL: reading the schedule (days, times of day), when
the next one goes out (the server's zone, both DST nights), rescheduling, recipients, the
exactly-once delivery claim, and the digest's numbers on a hand-built history.

Every expected number is worked out by hand in the test (comments show the arithmetic), never
computed by the code under test. The server lives in Europe/Berlin: CET (UTC+1) in winter,
CEST (UTC+2) in summer; in 2026 the clocks go forward on Sunday 29 March (02:00 -> 03:00) and
back on Sunday 25 October (03:00 -> 02:00).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from models import (
    ActionStatus,
    ActivityKind,
    Database,
    DigestDelivery,
    DigestRecipient,
    Guild,
    MembershipKind,
    RsvpStatus,
    ScheduledAction,
)
from services import digest, events, metrics, polls
from services.activity import (
    ActivityRecord,
    ActivityRecorder,
    MembershipRecord,
    set_tracking_opt_out,
    sync_members,
)
from services.digest import SEND_ACTION, DigestSchedule, Recipient
from services.errors import InvalidInputError
from services.guilds import ensure_guild, set_timezone

G = 2_100_000_000_000_000_001
OTHER = 2_100_000_000_000_000_002
EMPTY = 2_100_000_000_000_000_003  # never seen: no guild row at all
BERLIN = ZoneInfo("Europe/Berlin")
K = ActivityKind
OWNER = 3_000_000_000_000_000_001
MOD = 3_000_000_000_000_000_002


def berlin(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A Berlin wall-clock time as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# Monday 30 November 2026, 09:00 in Berlin (08:00 UTC): the digest of this ISO week (Mon 30 Nov
# - Sun 6 Dec) reports on last week, Mon 23 - Sun 29 Nov, compared with 16 - 22 Nov.
NOW = berlin(2026, 11, 30, 9)
THIS_WEEK = date(2026, 11, 30)
REPORTED = date(2026, 11, 23)
BEFORE = date(2026, 11, 16)


async def guild(
    db: Database, *, guild_id: int = G, tz: str = "Europe/Berlin", features: Any = None
) -> None:
    async with db.writing() as s:
        await ensure_guild(s, guild_id=guild_id, name="g", now=NOW)
        await s.execute(
            update(Guild).where(Guild.id == guild_id).values(timezone=tz, features=features or {})
        )


def joined(user: int, at: datetime, *, bot: bool = False) -> MembershipRecord:
    return MembershipRecord(G, user, MembershipKind.JOINED, at, is_bot=bot)


def left(user: int, at: datetime) -> MembershipRecord:
    return MembershipRecord(G, user, MembershipKind.LEFT, at)


def did(user: int, kind: ActivityKind, at: datetime, amount: int = 1) -> ActivityRecord:
    return ActivityRecord(G, user, kind, at, channel_id=1, amount=amount)


async def record(db: Database, *records: ActivityRecord | MembershipRecord) -> None:
    recorder = ActivityRecorder(db)
    await recorder.put_many(records)
    await recorder.close()


async def sends(db: Database, guild_id: int = G) -> list[ScheduledAction]:
    """The digest's scheduled actions of a server, oldest first."""
    async with db.reading() as s:
        return list(
            (
                await s.scalars(
                    select(ScheduledAction)
                    .where(
                        ScheduledAction.kind == SEND_ACTION, ScheduledAction.guild_id == guild_id
                    )
                    .order_by(ScheduledAction.id)
                )
            ).all()
        )


def pending(rows: list[ScheduledAction]) -> list[tuple[datetime, str]]:
    return [(a.due_at, (a.payload or {})["week"]) for a in rows if a.status == ActionStatus.PENDING]


def when(schedule: DigestSchedule) -> tuple[int, time, bool, str]:
    return (schedule.day, schedule.at, schedule.csv, schedule.timezone)


async def build(
    db: Database, *, guild_id: int = G, now: datetime = NOW, weeks_ago: int = 1
) -> digest.Digest:
    async with db.reading() as s:
        return await digest.build_digest(s, guild_id=guild_id, now=now, weeks_ago=weeks_ago)


# -- reading what moderators type ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("monday", 0),
        ("Mon", 0),
        ("  SUN ", 6),
        ("tues", 1),
        ("tu", 1),
        ("wed", 2),
        ("thu", 3),
        ("th", 3),
        ("Friday", 4),
        ("sat", 5),
        ("sunday", 6),
    ],
)
def test_parse_day_accepts_names_and_their_starts(text: str, day: int) -> None:
    assert digest.parse_day(text) == day


@pytest.mark.parametrize("text", ["", "   ", "funday", "moon", "mondayy", "1", "lundi"])
def test_parse_day_refuses_what_is_not_a_day(text: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        digest.parse_day(text)
    assert f"{text!r} is not a day of the week" in refused.value.message
    assert "`monday`" in refused.value.message and "`sun`" in refused.value.message


@pytest.mark.parametrize("text", ["t", "s", "T"])
def test_parse_day_refuses_an_ambiguous_start(text: str) -> None:
    # 't' is Tuesday or Thursday, 's' Saturday or Sunday: guessing sends the digest on a day
    # nobody asked for.
    with pytest.raises(InvalidInputError):
        digest.parse_day(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00", time(9, 0)),
        ("9:00", time(9, 0)),
        ("21:30", time(21, 30)),
        ("21.30", time(21, 30)),
        ("0:00", time(0, 0)),
        ("23:59", time(23, 59)),
        ("9am", time(9, 0)),
        ("9AM", time(9, 0)),
        ("9:30 pm", time(21, 30)),
        (" 7:45am ", time(7, 45)),
        ("12am", time(0, 0)),  # midnight
        ("12:15 am", time(0, 15)),
        ("12pm", time(12, 0)),  # noon
        ("12:30pm", time(12, 30)),
    ],
)
def test_parse_clock_accepts_24_hour_and_am_pm(text: str, expected: time) -> None:
    assert digest.parse_clock(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "9",  # a bare number: 9 in the morning or the evening?
        "21",
        "24:00",
        "25:00",
        "9:60",
        "9:5",
        "13pm",
        "0am",
        "0:30 pm",
        "noon",
        "",
        "9 o'clock",
        "1234",
        "-1:00",
    ],
)
def test_parse_clock_refuses_with_what_to_type(text: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        digest.parse_clock(text)
    message = refused.value.message
    assert f"I couldn't read {text!r} as a time of day" in message
    assert "`09:00`" in message and "`9am`" in message


# -- when it goes out ----------------------------------------------------------------------------


def test_the_default_is_monday_at_nine_utc() -> None:
    schedule = DigestSchedule()
    assert when(schedule) == (0, time(9), False, "UTC")
    assert schedule.describe() == "Mondays at 09:00 (UTC)"
    # Sunday 29 Nov 12:00 UTC: tomorrow, Monday 30 Nov 09:00 UTC, in the week of 30 Nov
    assert digest.next_send(schedule, utc(2026, 11, 29, 12)) == (utc(2026, 11, 30, 9), THIS_WEEK)
    # Monday 08:59: still today
    assert digest.next_send(schedule, utc(2026, 11, 30, 8, 59)) == (utc(2026, 11, 30, 9), THIS_WEEK)
    # Monday 09:00 exactly: this week's is going out now; the next is a week later
    nxt = digest.next_send(schedule, utc(2026, 11, 30, 9))
    assert nxt == (utc(2026, 12, 7, 9), date(2026, 12, 7))
    # Wednesday: next Monday
    assert digest.next_send(schedule, utc(2026, 12, 2, 12)) == (
        utc(2026, 12, 7, 9),
        date(2026, 12, 7),
    )


def test_later_this_week_or_next_week() -> None:
    friday_evening = DigestSchedule(day=4, at=time(18, 0), timezone="Europe/Berlin")
    assert friday_evening.describe() == "Fridays at 18:00 (Europe/Berlin)"
    # Monday 30 Nov: Friday 4 Dec 18:00 CET = 17:00 UTC, still this week
    assert digest.next_send(friday_evening, NOW) == (utc(2026, 12, 4, 17), THIS_WEEK)
    # Saturday 5 Dec: this week's has passed -> Friday 11 Dec
    assert digest.next_send(friday_evening, berlin(2026, 12, 5, 10)) == (
        utc(2026, 12, 11, 17),
        date(2026, 12, 7),
    )
    early_monday = DigestSchedule(day=0, at=time(8, 0), timezone="Europe/Berlin")
    # Monday 09:00 in Berlin: 08:00 has passed -> Monday 7 Dec 08:00 CET = 07:00 UTC
    assert digest.next_send(early_monday, NOW) == (utc(2026, 12, 7, 7), date(2026, 12, 7))


def test_the_servers_zone_decides_the_day_and_the_week() -> None:
    monday_nine = DigestSchedule(day=0, at=time(9, 0), timezone="Europe/Berlin")
    # Monday 09:00 CET = 08:00 UTC (not 09:00 UTC)
    assert digest.next_send(monday_nine, berlin(2026, 11, 30, 8, 30)) == (
        utc(2026, 11, 30, 8),
        THIS_WEEK,
    )
    assert digest.next_send(monday_nine, NOW)[0] == utc(2026, 12, 7, 8)
    # Sunday 29 Nov 23:30 UTC is already Monday 00:30 in Berlin: the week of 30 Nov
    assert digest.next_send(monday_nine, utc(2026, 11, 29, 23, 30)) == (
        utc(2026, 11, 30, 8),
        THIS_WEEK,
    )
    # In summer (CEST, UTC+2): Monday 6 Jul 09:00 = 07:00 UTC
    assert digest.next_send(monday_nine, utc(2026, 7, 3, 12)) == (
        utc(2026, 7, 6, 7),
        date(2026, 7, 6),
    )
    # Auckland (NZDT, UTC+13): Monday 30 Nov 09:00 there is Sunday 29 Nov 20:00 UTC; at
    # Sunday 19:00 UTC it is Monday 08:00 there, so it is still to come, in the week of 30 Nov
    auckland = DigestSchedule(day=0, at=time(9, 0), timezone="Pacific/Auckland")
    assert digest.next_send(auckland, utc(2026, 11, 29, 19)) == (utc(2026, 11, 29, 20), THIS_WEEK)
    assert digest.next_send(auckland, utc(2026, 11, 29, 20))[0] == utc(2026, 12, 6, 20)


def test_week_of_is_the_local_monday() -> None:
    assert digest.week_of(utc(2026, 11, 29, 22, 30), BERLIN) == date(2026, 11, 23)  # Sun 23:30
    assert digest.week_of(utc(2026, 11, 29, 23, 30), BERLIN) == THIS_WEEK  # Mon 00:30 CET
    assert digest.week_of(utc(2026, 11, 29, 23, 30), ZoneInfo("UTC")) == date(2026, 11, 23)
    assert digest.week_of(utc(2026, 12, 6, 22, 59), BERLIN) == THIS_WEEK  # Sun 6 Dec 23:59
    # The autumn night: Mon 26 Oct 00:30 CET = Sun 25 Oct 23:30 UTC
    assert digest.week_of(utc(2026, 10, 25, 23, 30), BERLIN) == date(2026, 10, 26)
    assert digest.week_of(utc(2026, 10, 25, 22, 30), BERLIN) == date(2026, 10, 19)


def test_the_autumn_night_sends_at_the_first_half_past_two_only() -> None:
    # Sunday 25 Oct 2026 in Berlin: 02:00-03:00 happens twice, first in CEST (00:00-01:00
    # UTC), then in CET (01:00-02:00 UTC). 02:30 is 00:30 UTC the first time.
    sunday = DigestSchedule(day=6, at=time(2, 30), timezone="Europe/Berlin")
    assert digest.next_send(sunday, utc(2026, 10, 24, 12)) == (
        utc(2026, 10, 25, 0, 30),
        date(2026, 10, 19),
    )
    # Sent at 00:30 UTC; asked again a minute later (02:31 CEST) or during the repeated hour
    # (01:15 UTC = 02:15 CET, before the second 02:30) or exactly at it: next Sunday, 1 Nov
    # 02:30 CET = 01:30 UTC. Never the second 02:30 of the same night.
    next_week = (utc(2026, 11, 1, 1, 30), date(2026, 10, 26))
    for asked in (
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 0, 31),
        utc(2026, 10, 25, 1, 15),
        utc(2026, 10, 25, 1, 30),
    ):
        assert digest.next_send(sunday, asked) == next_week, asked


def test_an_ordinary_sunday_half_past_two() -> None:
    sunday = DigestSchedule(day=6, at=time(2, 30), timezone="Europe/Berlin")
    # Sunday 22 Mar 02:30 CET = 01:30 UTC (a week before the spring change)
    assert digest.next_send(sunday, utc(2026, 3, 20, 12)) == (
        utc(2026, 3, 22, 1, 30),
        date(2026, 3, 16),
    )


def test_the_spring_night_moves_a_missing_half_past_two_to_half_past_three() -> None:
    # Sunday 29 Mar 2026 in Berlin: 02:00 CET jumps to 03:00 CEST (at 01:00 UTC), so 02:30
    # does not exist. Moved forward by the gap it is 03:30 CEST = 01:30 UTC.
    sunday = DigestSchedule(day=6, at=time(2, 30), timezone="Europe/Berlin")
    due, week = digest.next_send(sunday, utc(2026, 3, 28, 12))
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)
    assert (due, week) == (utc(2026, 3, 29, 1, 30), date(2026, 3, 23))


# -- schedule, stored and scheduled --------------------------------------------------------------


async def test_schedule_of_an_unknown_server_is_the_default(db: Database) -> None:
    async with db.reading() as s:
        assert when(await digest.get_schedule(s, EMPTY)) == (0, time(9), False, "UTC")


async def test_set_schedule_stores_it_and_schedules_one_send(db: Database) -> None:
    await guild(db, features={"metrics": {"weights": {"voice_minute": 1.0}}})
    async with db.writing() as s:
        schedule = await digest.set_schedule(
            s, guild_id=G, now=NOW, day=4, at=time(18, 0), csv=True
        )
    assert when(schedule) == (4, time(18, 0), True, "Europe/Berlin")
    async with db.reading() as s:
        assert await digest.get_schedule(s, G) == schedule
        features = (await s.get(Guild, G)).features  # type: ignore[union-attr]
    # other settings are kept
    assert features["metrics"] == {"weights": {"voice_minute": 1.0}}
    saved = features["digest"]
    assert (saved["day"], saved["time"], saved["csv"]) == (4, "18:00", True)

    rows = await sends(db)
    # Friday 4 Dec 18:00 CET = 17:00 UTC, in the week of 30 Nov
    assert pending(rows) == [(utc(2026, 12, 4, 17), "2026-11-30")]
    assert rows[0].idempotency_key == digest.action_key(G, THIS_WEEK, schedule)

    # Only the time changes: day and csv stay; the Friday send is cancelled and Friday 07:30
    # CET (06:30 UTC) is scheduled instead.
    async with db.writing() as s:
        schedule = await digest.set_schedule(s, guild_id=G, now=NOW, at=time(7, 30))
    assert (schedule.day, schedule.at, schedule.csv) == (4, time(7, 30), True)
    rows = await sends(db)
    assert [(a.status, a.due_at) for a in rows] == [
        (ActionStatus.SKIPPED, utc(2026, 12, 4, 17)),
        (ActionStatus.PENDING, utc(2026, 12, 4, 6, 30)),
    ]
    assert rows[0].last_error == "cancelled"

    # Monday 08:00 has passed (it is 09:00): next Monday, 7 Dec 07:00 UTC, week of 7 Dec
    async with db.writing() as s:
        await digest.set_schedule(s, guild_id=G, now=NOW, day=0, at=time(8, 0))
    rows = await sends(db)
    assert pending(rows) == [(utc(2026, 12, 7, 7), "2026-12-07")]
    assert [a.status for a in rows].count(ActionStatus.SKIPPED) == 2


async def test_set_schedule_creates_the_guild_row(db: Database) -> None:
    async with db.writing() as s:
        schedule = await digest.set_schedule(s, guild_id=OTHER, now=NOW, day=2)
    assert when(schedule) == (2, time(9), False, "UTC")
    # Wednesday 2 Dec 09:00 UTC
    assert pending(await sends(db, OTHER)) == [(utc(2026, 12, 2, 9), "2026-11-30")]


async def test_ensure_scheduled_is_idempotent(db: Database) -> None:
    await guild(db)
    async with db.writing() as s:
        first = await digest.ensure_scheduled(s, guild_id=G, now=NOW)
    async with db.writing() as s:
        again = await digest.ensure_scheduled(s, guild_id=G, now=NOW + timedelta(hours=1))
    # Default Monday 09:00, in Berlin: it is 09:00 now, so next Monday 7 Dec 08:00 UTC
    assert first == again == (utc(2026, 12, 7, 8), date(2026, 12, 7))
    assert pending(await sends(db)) == [(utc(2026, 12, 7, 8), "2026-12-07")]

    # What the send handler does once that one is due: the next week's is added.
    async with db.writing() as s:
        nxt = await digest.ensure_scheduled(s, guild_id=G, now=utc(2026, 12, 7, 8))
    assert nxt == (utc(2026, 12, 14, 8), date(2026, 12, 14))
    assert len(pending(await sends(db))) == 2


async def test_ensure_scheduled_without_a_guild_row_uses_the_default(db: Database) -> None:
    async with db.writing() as s:
        await ensure_guild(s, guild_id=OTHER, name="o", now=NOW)  # UTC, nothing configured
    async with db.writing() as s:
        due = await digest.ensure_scheduled(s, guild_id=OTHER, now=utc(2026, 11, 29, 12))
    assert due == (utc(2026, 11, 30, 9), THIS_WEEK)


async def test_changing_only_csv_or_the_zone_keeps_a_digest_scheduled(db: Database) -> None:
    await guild(db)
    async with db.writing() as s:
        await digest.ensure_scheduled(s, guild_id=G, now=NOW)
    assert pending(await sends(db)) == [(utc(2026, 12, 7, 8), "2026-12-07")]
    # /digest setup csv:True: same day and time
    async with db.writing() as s:
        await digest.set_schedule(s, guild_id=G, now=NOW, csv=True)
    assert pending(await sends(db)) == [(utc(2026, 12, 7, 8), "2026-12-07")]
    # /digest setup timezone:Europe/London: Monday 09:00 GMT = 09:00 UTC, an hour from now.
    # (This week's went out at 08:00 UTC in Berlin; the delivery claim keeps it one a week.)
    async with db.writing() as s:
        await set_timezone(s, guild_id=G, name="Europe/London", now=NOW)
        await digest.set_schedule(s, guild_id=G, now=NOW)
    assert pending(await sends(db)) == [(utc(2026, 11, 30, 9), "2026-11-30")]


async def test_going_back_to_the_previous_schedule_keeps_a_digest_scheduled(db: Database) -> None:
    await guild(db)
    async with db.writing() as s:
        await digest.set_schedule(s, guild_id=G, now=NOW, day=4, at=time(18))
    async with db.writing() as s:
        await digest.set_schedule(s, guild_id=G, now=NOW, day=2)
    async with db.writing() as s:
        await digest.set_schedule(s, guild_id=G, now=NOW, day=4)  # changed their mind
    assert pending(await sends(db)) == [(utc(2026, 12, 4, 17), "2026-11-30")]


# -- recipients ----------------------------------------------------------------------------------

A, B, C = 4_000_000_000_000_000_001, 4_000_000_000_000_000_002, 4_000_000_000_000_000_003


async def who(db: Database, guild_id: int = G, owner_id: int | None = OWNER) -> list[Recipient]:
    async with db.reading() as s:
        return await digest.recipients(s, guild_id=guild_id, owner_id=owner_id)


async def add(db: Database, user: int, at: datetime = NOW, guild_id: int = G) -> None:
    async with db.writing() as s:
        await digest.add_recipient(s, guild_id=guild_id, user_id=user, added_by=MOD, now=at)


async def test_nobody_configured_means_the_owner(db: Database) -> None:
    await guild(db)
    assert await who(db) == [Recipient(OWNER, dm_closed=False, implicit=True)]
    assert await who(db, owner_id=None) == []  # owner unknown: nobody
    assert await who(db, guild_id=EMPTY) == [Recipient(OWNER, dm_closed=False, implicit=True)]


async def test_add_remove_and_list_recipients(db: Database) -> None:
    await guild(db)
    await add(db, A, NOW)
    await add(db, C, NOW)
    await add(db, B, NOW - timedelta(days=1))
    # oldest first, then by user id: B (yesterday), A and C (now)
    assert await who(db) == [Recipient(B, False), Recipient(A, False), Recipient(C, False)]
    assert all(not r.implicit for r in await who(db))  # the owner is no longer added

    await add(db, A, NOW + timedelta(days=1))  # again: still one row, in its place
    assert [r.user_id for r in await who(db)] == [B, A, C]
    async with db.reading() as s:
        row = await s.get(DigestRecipient, (G, A))
        assert row is not None and row.added_at == NOW and row.added_by == MOD
        count = len((await s.scalars(select(DigestRecipient))).all())
    assert count == 3

    async with db.writing() as s:
        assert await digest.remove_recipient(s, guild_id=G, user_id=C)
    async with db.writing() as s:
        assert not await digest.remove_recipient(s, guild_id=G, user_id=C)  # gone already
        assert not await digest.remove_recipient(s, guild_id=OTHER, user_id=A)
    assert [r.user_id for r in await who(db)] == [B, A]

    # another server's list is its own
    await guild(db, guild_id=OTHER)
    await add(db, C, guild_id=OTHER)
    assert await who(db, guild_id=OTHER) == [Recipient(C, False)]
    assert [r.user_id for r in await who(db)] == [B, A]

    # everyone removed: back to the owner
    async with db.writing() as s:
        await digest.remove_recipient(s, guild_id=G, user_id=A)
        await digest.remove_recipient(s, guild_id=G, user_id=B)
    assert await who(db) == [Recipient(OWNER, False, implicit=True)]


async def test_closed_dms_are_marked_and_re_adding_reopens(db: Database) -> None:
    await guild(db)
    await add(db, A)
    await add(db, B, NOW + timedelta(minutes=1))
    async with db.writing() as s:
        await digest.mark_dm_closed(s, guild_id=G, user_id=A, now=NOW + timedelta(hours=1))
    assert await who(db) == [Recipient(A, dm_closed=True), Recipient(B, dm_closed=False)]
    async with db.writing() as s:  # marking twice is fine
        await digest.mark_dm_closed(s, guild_id=G, user_id=A, now=NOW + timedelta(hours=2))
    await add(db, A, NOW + timedelta(days=1))
    assert await who(db) == [Recipient(A, dm_closed=False), Recipient(B, dm_closed=False)]


async def test_the_implicit_owner_with_closed_dms_gets_a_row(db: Database) -> None:
    await guild(db)
    async with db.writing() as s:
        await digest.mark_dm_closed(s, guild_id=G, user_id=OWNER, now=NOW)
    # now an explicit recipient whose DMs are closed (served in the moderators' channel)
    assert await who(db) == [Recipient(OWNER, dm_closed=True, implicit=False)]
    await add(db, OWNER)
    assert await who(db) == [Recipient(OWNER, dm_closed=False, implicit=False)]


# -- deliveries ----------------------------------------------------------------------------------


async def claim(db: Database, user: int, week: date, at: datetime = NOW, guild_id: int = G) -> bool:
    async with db.writing() as s:
        return await digest.claim_delivery(s, guild_id=guild_id, user_id=user, week=week, now=at)


async def test_twenty_concurrent_claims_make_exactly_one_delivery(db: Database) -> None:
    await guild(db)
    results = await asyncio.gather(*(claim(db, A, THIS_WEEK) for _ in range(20)))
    assert results.count(True) == 1 and results.count(False) == 19
    assert not await claim(db, A, THIS_WEEK)  # and later, after a restart: still taken

    # Other weeks and other recipients are their own, also under a rush.
    mixed = [(A, date(2026, 12, 7))] * 10 + [(B, THIS_WEEK)] * 10
    results = await asyncio.gather(*(claim(db, user, week) for user, week in mixed))
    assert results[:10].count(True) == 1 and results[10:].count(True) == 1
    await guild(db, guild_id=OTHER)
    assert await claim(db, A, THIS_WEEK, guild_id=OTHER)  # same person, another server

    async with db.reading() as s:
        rows = (
            await s.execute(
                select(DigestDelivery.guild_id, DigestDelivery.user_id, DigestDelivery.week)
                .where(DigestDelivery.status == "sending")
                .order_by(DigestDelivery.guild_id, DigestDelivery.week, DigestDelivery.user_id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (G, A, THIS_WEEK),
        (G, B, THIS_WEEK),
        (G, A, date(2026, 12, 7)),
        (OTHER, A, THIS_WEEK),
    ]


async def test_finish_delivery_and_recent_deliveries(db: Database) -> None:
    await guild(db)
    await guild(db, guild_id=OTHER)
    t0 = NOW
    assert await claim(db, A, REPORTED, t0 - timedelta(weeks=1))
    assert await claim(db, A, THIS_WEEK, t0)
    assert await claim(db, B, THIS_WEEK, t0 + timedelta(seconds=1))
    assert await claim(db, C, THIS_WEEK, t0 + timedelta(seconds=2))
    assert await claim(db, A, THIS_WEEK, t0, guild_id=OTHER)

    async def finish(user: int, week: date, status: str, detail: str | None, at: datetime) -> None:
        async with db.writing() as s:
            await digest.finish_delivery(
                s, guild_id=G, user_id=user, week=week, status=status, now=at, detail=detail
            )

    await finish(A, THIS_WEEK, "dm", None, t0 + timedelta(seconds=5))
    await finish(B, THIS_WEEK, "channel", "DMs closed: posted in #mods", t0 + timedelta(seconds=6))
    await finish(C, THIS_WEEK, "failed", "x" * 400, t0 + timedelta(seconds=3))
    await finish(A, REPORTED, "dm", "", t0 - timedelta(weeks=1))

    async with db.reading() as s:
        recent = await digest.recent_deliveries(s, guild_id=G)
        two = await digest.recent_deliveries(s, guild_id=G, limit=2)
        other = await digest.recent_deliveries(s, guild_id=OTHER)
    # newest week first; within a week the latest update first
    assert [(d.user_id, d.week, d.status) for d in recent] == [
        (B, THIS_WEEK, "channel"),
        (A, THIS_WEEK, "dm"),
        (C, THIS_WEEK, "failed"),
        (A, REPORTED, "dm"),
    ]
    assert recent[0].detail == "DMs closed: posted in #mods"
    assert recent[0].at == t0 + timedelta(seconds=6)
    assert recent[1].detail is None
    assert recent[2].detail == "x" * 300  # cut to fit
    assert recent[3].detail is None  # empty reads as none
    assert [d.user_id for d in two] == [B, A]
    assert [(d.user_id, d.status) for d in other] == [(A, "sending")]


# -- what it says: a hand-built history ----------------------------------------------------------

ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GINA, HANK, BOT = range(11, 20)


async def history(db: Database) -> None:
    """Eight people, a bot; weeks of 5 Oct to 30 Nov 2026 in Berlin."""
    await guild(db)
    await record(
        db,
        joined(ALICE, berlin(2026, 9, 1)),
        joined(CAROL, berlin(2026, 10, 1)),
        joined(DAVE, berlin(2026, 9, 1)),  # opts out below
        joined(GINA, berlin(2026, 9, 1)),
        joined(HANK, berlin(2026, 9, 1)),
        joined(BOT, berlin(2026, 9, 1), bot=True),
        # Sunday 25 Oct 23:45 CET = 22:45 UTC: inside the 169-hour week of 19 Oct, which ends
        # at 23:00 UTC (a week taken as 168 hours would end at 22:00 UTC and miss her)
        joined(ERIN, utc(2026, 10, 25, 22, 45)),
        joined(BOB, berlin(2026, 11, 17, 9)),  # Tuesday of the week before
        left(CAROL, berlin(2026, 11, 24, 10)),  # Tuesday of the reported week
        # Monday 30 Nov 00:30 CET = Sunday 29 Nov 23:30 UTC: after the reported week
        joined(FRANK, utc(2026, 11, 29, 23, 30)),
        # -- earlier weeks
        did(CAROL, K.MESSAGE, berlin(2026, 10, 6, 10)),  # week of 5 Oct
        did(ALICE, K.MESSAGE, berlin(2026, 10, 20, 10)),  # week of 19 Oct
        did(ERIN, K.MESSAGE, utc(2026, 10, 25, 22, 50)),  # Sun 25 Oct 23:50 CET: 19 Oct
        did(ALICE, K.MESSAGE, utc(2026, 10, 25, 23, 30)),  # Mon 26 Oct 00:30 CET: 26 Oct
        # gina: 4 days in early November, nothing since (drifting)
        *[did(GINA, K.REACTION_GIVEN, berlin(2026, 11, d, 10)) for d in (2, 3, 4, 5)],
        did(ALICE, K.MESSAGE, berlin(2026, 11, 10, 10)),  # week of 9 Nov
        # hank: 9, 10, 11 and Monday 16 Nov, nothing since
        *[did(HANK, K.REACTION_GIVEN, berlin(2026, 11, d, 10)) for d in (9, 10, 11, 16)],
        # -- the week before (16-22 Nov)
        did(ALICE, K.MESSAGE, berlin(2026, 11, 18, 10)),
        did(BOB, K.REACTION_GIVEN, berlin(2026, 11, 18, 11)),
        did(CAROL, K.MESSAGE, berlin(2026, 11, 20, 10)),
        did(CAROL, K.MESSAGE, berlin(2026, 11, 21, 10)),
        did(CAROL, K.VOICE, berlin(2026, 11, 21, 20), amount=600),  # 10 minutes
        did(BOT, K.MESSAGE, berlin(2026, 11, 19, 12)),
        # -- the reported week (23-29 Nov)
        did(ALICE, K.MESSAGE, berlin(2026, 11, 23, 10, 0)),
        did(ALICE, K.MESSAGE, berlin(2026, 11, 23, 10, 5)),  # same 10-minute block
        did(ALICE, K.MESSAGE, berlin(2026, 11, 24, 10, 0)),
        did(ALICE, K.MESSAGE, berlin(2026, 11, 29, 23, 30)),  # Sunday night, still this week
        did(BOB, K.VOICE, berlin(2026, 11, 25, 19), amount=1800),
        did(BOB, K.VOICE, berlin(2026, 11, 26, 19), amount=90),  # 1890 s = 31 minutes
        did(CAROL, K.MESSAGE, berlin(2026, 11, 23, 12)),  # before she left: counts
        did(DAVE, K.MESSAGE, berlin(2026, 11, 23, 12)),  # recorded before he opted out
        did(DAVE, K.MESSAGE, berlin(2026, 11, 24, 12)),
        did(DAVE, K.VOICE, berlin(2026, 11, 25, 20), amount=3600),
        did(BOT, K.MESSAGE, berlin(2026, 11, 23, 12)),
        did(BOT, K.MESSAGE, berlin(2026, 11, 24, 12)),
        # -- this week, so far (Monday 30 Nov, it is 09:00)
        did(ALICE, K.MESSAGE, berlin(2026, 11, 30, 0, 30)),
        did(FRANK, K.MESSAGE, berlin(2026, 11, 30, 0, 45)),
    )
    async with db.writing() as s:
        await set_tracking_opt_out(s, guild_id=G, user_id=DAVE, opted_out=True, now=NOW)


_messages = iter(range(6_000_000_000_000_000_000, 7_000_000_000_000_000_000))


async def poll(
    db: Database,
    created: datetime,
    voters: list[int],
    closed: datetime | None = None,
    eligible: int | None = None,
) -> None:
    spec = polls.build_spec(question="Next game?", options="Chess | Go", duration="3d")
    async with db.writing() as s:
        made = await polls.create_poll(
            s, guild_id=G, channel_id=1, creator_id=OWNER, spec=spec, now=created, vote_secret=None
        )
        await polls.attach_message(s, poll_id=made.id, message_id=next(_messages))
    for user in voters:
        async with db.writing() as s:
            await polls.cast_vote(
                s,
                guild_id=G,
                poll_id=made.id,
                user_id=user,
                role_ids=[],
                now=created + timedelta(hours=1),
                vote_secret=None,
                add=0,
            )
    if closed is not None:
        async with db.writing() as s:
            await polls.close_poll(s, guild_id=G, poll_id=made.id, now=closed, eligible=eligible)


async def held_event(db: Database, start: datetime, going: list[int], came: list[int]) -> None:
    """An event that started at ``start``, with Going RSVPs and check-ins; then closed."""
    created = start - timedelta(days=1)
    async with db.writing() as s:
        spec = events.build_spec(
            title="Meetup",
            starts_at=start,
            duration=timedelta(hours=1),
            timezone=BERLIN,
            now=created,
            location="Café",
        )
        ev = await events.create_event(
            s, guild_id=G, post_channel_id=1, host_id=OWNER, spec=spec, now=created
        )
        await events.attach_message(
            s, event_id=ev.id, message_id=next(_messages), discord_event_id=None
        )
        for user in going:
            await events.rsvp(
                s,
                guild_id=G,
                event_id=ev.id,
                user_id=user,
                role_ids=[],
                choice=RsvpStatus.GOING,
                now=created,
            )
        for user in came:
            await events.check_in(
                s, guild_id=G, event_id=ev.id, user_id=user, role_ids=[], now=start
            )
        await events.close_window(s, guild_id=G, event_id=ev.id, now=start + timedelta(hours=2))


async def upcoming_event(db: Database, title: str, start: datetime, *, posted: bool) -> None:
    async with db.writing() as s:
        spec = events.build_spec(
            title=title,
            starts_at=start,
            duration=timedelta(hours=2),
            timezone=BERLIN,
            now=NOW,
            location="Café",
        )
        ev = await events.create_event(
            s, guild_id=G, post_channel_id=1, host_id=OWNER, spec=spec, now=NOW
        )
        if posted:
            await events.attach_message(
                s, event_id=ev.id, message_id=next(_messages), discord_event_id=None
            )


async def polls_and_events(db: Database) -> None:
    # reported week: two polls closed, 2 + 1 voters of 5 + 5 eligible
    await poll(db, berlin(2026, 11, 24, 10), [ALICE, BOB], berlin(2026, 11, 25, 10), eligible=5)
    await poll(db, berlin(2026, 11, 28, 10), [ALICE], utc(2026, 11, 29, 22, 30), eligible=5)
    # closed Monday 30 Nov 00:30 CET (Sunday 23:30 UTC): this week's
    await poll(db, berlin(2026, 11, 29, 10), [], utc(2026, 11, 29, 23, 30), eligible=6)
    # the week before: one closed, 1 voter of 6
    await poll(db, berlin(2026, 11, 19, 10), [CAROL], berlin(2026, 11, 20, 10), eligible=6)
    # still open: not counted anywhere
    await poll(db, berlin(2026, 11, 27, 10), [HANK])
    # Thursday of the reported week: 2 Going, alice came (and so did erin, without an RSVP)
    await held_event(db, berlin(2026, 11, 26, 19), going=[ALICE, BOB], came=[ALICE, ERIN])
    await upcoming_event(db, "Quiz night", berlin(2026, 12, 2, 19), posted=True)
    await upcoming_event(db, "Board games", berlin(2026, 12, 1, 19), posted=True)
    await upcoming_event(db, "Not posted yet", berlin(2026, 12, 1, 18), posted=False)


async def test_digest_of_last_week_on_a_hand_built_history(db: Database) -> None:
    await history(db)
    await polls_and_events(db)
    d = await build(db)

    assert d.guild_id == G and d.now == NOW
    assert d.period.start == REPORTED and d.period.end == THIS_WEEK
    assert d.period.timezone == "Europe/Berlin"
    assert not d.in_progress

    # The headline numbers are metrics.weekly_metrics' for last week.
    async with db.reading() as s:
        expected = await metrics.weekly_metrics(s, guild_id=G, now=NOW, weeks_ago=1, top=5)
    assert (d.weekly.current, d.weekly.previous) == (expected.current, expected.previous)
    assert d.weekly.top_contributors == expected.top_contributors
    cur, prev = d.weekly.current, d.weekly.previous
    # members at Mon 30 Nov 00:00 CET: alice, bob, erin, gina, hank = 5 (carol left; dave
    # opted out; the bot; frank came 30 minutes later)
    assert (cur.members_total, cur.joined, cur.left) == (5, 0, 1)
    assert cur.active == 3  # alice, bob (voice), carol (before she left)
    assert cur.engagement_rate == 2 / 5  # active and still here: alice, bob
    assert cur.contributors == 2  # alice: 23, 24, 29 Nov; bob: 25, 26 Nov; carol: one day
    # the week before: alice, bob, carol, erin, gina, hank = 6; active alice, bob, carol, hank
    assert (prev.members_total, prev.joined, prev.active) == (6, 1, 4)
    assert not d.tiny  # 5 members: just enough for percentages

    # Activity of the reported week, bots and opted-out members left out:
    # messages: alice 4 + carol 1 = 5 (dave's 2 and the bot's 2 are not counted)
    # blocks: alice 3 (23 Nov 10:00-10:10, 24 Nov, 29 Nov) + carol 1 = 4
    # voice: bob 1800 + 90 s = 31 minutes (dave's hour is not counted)
    assert d.totals == digest.ActivityTotals(messages=5, activity_blocks=4, voice_minutes=31)
    # the week before: alice 1 + carol 2 = 3 messages in 3 blocks; carol 10 minutes of voice
    assert d.totals_before == digest.ActivityTotals(3, 3, 10)

    # Polls closed in the reported week: 2, with 2 + 1 voters of 5 + 5 eligible
    assert (d.polls.closed, d.polls.voters, d.polls.eligible) == (2, 3, 10)
    assert d.polls.turnout == 3 / 10
    assert (d.polls_before.closed, d.polls_before.voters, d.polls_before.eligible) == (1, 1, 6)

    # The meetup on Thursday: 2 Going, 2 came, 1 of them had said Going -> 1 / 2
    assert (d.events.events, d.events.rsvps_going, d.events.attended) == (1, 2, 2)
    assert d.events.attended_of_going == 1 and d.events.conversion == 1 / 2
    assert d.events_before.events == 0 and d.events_before.conversion is None

    # Soonest first; ended and not-yet-posted events are left out
    assert [e.title for e in d.upcoming] == ["Board games", "Quiz night"]

    # As of the end of the reported week (Sun 29 Nov): the last 14 days are 16-29 Nov. gina's 4
    # days (2-5 Nov) fall in the 28 days before; hank's Monday 16 Nov is inside the 14.
    assert [(m.user_id, m.active_days_before) for m in d.drifting] == [(GINA, 4)]
    # Joined in the 30 days before and active: bob (frank joined after the week ended)
    assert [n.user_id for n in d.newcomers] == [BOB]

    # 8 weeks, oldest first, ending with the reported one: (active, members at the week's end)
    assert [(p.start, p.active, p.members) for p in d.series] == [
        (date(2026, 10, 5), 1, 4),  # carol; alice, carol, gina, hank
        (date(2026, 10, 12), 0, 4),
        (date(2026, 10, 19), 2, 5),  # alice, erin (Sunday 23:50 CET); erin joined at 23:45
        (date(2026, 10, 26), 1, 5),  # alice (Monday 00:30 CET)
        (date(2026, 11, 2), 1, 5),  # gina
        (date(2026, 11, 9), 2, 5),  # alice, hank
        (date(2026, 11, 16), 4, 6),  # alice, bob, carol, hank; bob joined
        (date(2026, 11, 23), 3, 5),  # alice, bob, carol; carol left
    ]
    assert d.series[-1].engagement == 3 / 5
    assert d.series[-1].members == cur.members_total

    # Cohorts up to the reported week: erin (week of 19 Oct) and bob (16 Nov); frank is not yet
    rows = d.cohorts.rows
    assert [r.period.start for r in rows] == [p.start for p in d.series]
    assert [r.size for r in rows] == [0, 0, 1, 0, 0, 0, 1, 0]
    assert rows[2].active[:2] == (1, 0)  # erin: her join week, then nothing
    assert rows[6].active == (1, 1, *[None] * 6)  # bob: both weeks


async def test_preview_of_the_week_so_far(db: Database) -> None:
    await history(db)
    await polls_and_events(db)
    d = await build(db, weeks_ago=0)

    assert d.period.start == THIS_WEEK and d.in_progress
    async with db.reading() as s:
        expected = await metrics.weekly_metrics(s, guild_id=G, now=NOW, weeks_ago=0, top=5)
    assert (d.weekly.current, d.weekly.previous) == (expected.current, expected.previous)
    # now: alice, bob, erin, gina, hank and frank = 6; active: alice and frank
    assert (d.weekly.current.members_total, d.weekly.current.joined) == (6, 1)
    assert d.weekly.current.active == 2
    # so far: alice 1 and frank 1 message; last week's numbers to compare with
    assert d.totals == digest.ActivityTotals(2, 2, 0)
    assert d.totals_before == digest.ActivityTotals(5, 4, 31)
    # the poll closed at Monday 00:30 CET: 0 voters of 6
    assert (d.polls.closed, d.polls.voters, d.polls.eligible) == (1, 0, 6)
    assert d.polls.turnout == 0.0
    assert (d.polls_before.closed, d.polls_before.voters, d.polls_before.eligible) == (2, 3, 10)
    assert d.events.events == 0 and d.events_before.events == 1
    # As of now: the last 14 days are 17-30 Nov, so hank's 16 Nov now counts before them
    assert [(m.user_id, m.last_active_day) for m in d.drifting] == [
        (HANK, date(2026, 11, 16)),  # 4 days, the more recent
        (GINA, date(2026, 11, 5)),
    ]
    # bob: 1 reaction x 0.1 + 31.5 voice minutes x 0.1 = 3.25; frank: 1 block = 1
    assert [n.user_id for n in d.newcomers] == [BOB, FRANK]
    assert [p.start for p in d.series] == [
        date(2026, 10, 12) + timedelta(weeks=k) for k in range(8)
    ]
    assert (d.series[-1].active, d.series[-1].members) == (2, 6)
    assert d.cohorts.rows[-1].period.start == THIS_WEEK and d.cohorts.rows[-1].size == 1


async def test_a_tiny_community_builds_with_no_ratios_to_speak_of(db: Database) -> None:
    await guild(db)
    async with db.writing() as s:
        await sync_members(
            s,
            guild_id=G,
            members=[(u, berlin(2026, 1, 1), False) for u in (ALICE, BOB, CAROL)],
            now=NOW,
        )
    d = await build(db)
    assert d.tiny
    cur = d.weekly.current
    assert (cur.members_total, cur.active, cur.contributors) == (3, 0, 0)
    assert cur.engagement_rate == 0.0  # 0 of 3: a number, but tiny says not to show it
    assert cur.stickiness is None and cur.week1_retention is None
    assert cur.rsvp_conversion is None
    assert d.totals == d.totals_before == digest.ActivityTotals()
    assert (d.polls.closed, d.polls.voters, d.polls.eligible) == (0, 0, 0)
    assert d.polls.turnout is None
    assert d.events.conversion is None
    assert [(p.active, p.members) for p in d.series] == [(0, 3)] * 8
    assert (d.drifting, d.newcomers, d.upcoming) == ((), (), ())


async def test_a_server_never_seen_gets_an_empty_digest(db: Database) -> None:
    d = await build(db, guild_id=EMPTY)  # no guild row: UTC
    assert d.period.timezone == "UTC"
    assert d.period.start == REPORTED and d.period.start_utc == utc(2026, 11, 23)
    assert d.weekly.current.members_total == 0 and d.tiny
    assert d.weekly.current.engagement_rate is None
    assert d.totals == d.totals_before == digest.ActivityTotals()
    assert (d.polls.closed, d.polls_before.closed, d.polls.eligible) == (0, 0, 0)
    assert d.polls.turnout is None
    assert d.events.events == 0 and d.events.conversion is None
    assert len(d.series) == 8
    assert all(p.active == p.members == 0 and p.engagement is None for p in d.series)
    assert [r.size for r in d.cohorts.rows] == [0] * 8
    assert (d.drifting, d.newcomers, d.upcoming) == ((), (), ())
    d0 = await build(db, guild_id=EMPTY, weeks_ago=0)
    assert d0.in_progress and d0.period.start == THIS_WEEK


async def test_turnout_only_counts_polls_with_a_known_electorate(db: Database) -> None:
    await history(db)
    # eligible is None when the cog could not count members (guild not cached)
    await poll(db, berlin(2026, 11, 24, 10), [ALICE, BOB], berlin(2026, 11, 25, 10), eligible=2)
    await poll(db, berlin(2026, 11, 26, 10), [ALICE, BOB, ERIN], berlin(2026, 11, 27, 10))
    d = await build(db)
    assert d.polls.closed == 2
    # 2 of 2 where the electorate is known; now 5 / 2 = 250 %
    assert d.polls.turnout == 1.0


async def test_chart_counts_members_whose_join_time_is_unknown(db: Database) -> None:
    await guild(db)
    async with db.writing() as s:
        # start-up sync: Discord gave no join time for these five
        await sync_members(
            s,
            guild_id=G,
            members=[(u, None, False) for u in range(1, 6)],
            now=NOW - timedelta(weeks=10),
        )
    d = await build(db)
    assert d.weekly.current.members_total == 5
    assert d.series[-1].members == 5
