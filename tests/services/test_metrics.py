"""Metrics on hand-built histories. Every expected number is worked out by hand in the test
(comments show the arithmetic), never computed by the code under test.

The guild lives in Europe/Berlin: CET (UTC+1) in winter, CEST (UTC+2) in summer; in 2026 the
clocks go forward on Sunday 29 March and back on Sunday 25 October.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from models import ActivityKind, Database, Guild, MembershipKind
from services import metrics
from services.activity import (
    ActivityRecord,
    ActivityRecorder,
    MembershipRecord,
    set_tracking_opt_out,
    sync_members,
)
from services.guilds import ensure_guild

G = 2_000_000_000_000_000
BERLIN = ZoneInfo("Europe/Berlin")
K = ActivityKind
# Wednesday 25 November 2026, 13:00 in Berlin. This week: Mon 23 - Sun 29 Nov. Last week:
# 16 - 22 Nov. The week before: 9 - 15 Nov.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def berlin(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A Berlin wall-clock time as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def joined(user: int, at: datetime, *, bot: bool = False) -> MembershipRecord:
    return MembershipRecord(G, user, MembershipKind.JOINED, at, is_bot=bot)


def left(user: int, at: datetime) -> MembershipRecord:
    return MembershipRecord(G, user, MembershipKind.LEFT, at)


def did(user: int, kind: ActivityKind, at: datetime, amount: int = 1) -> ActivityRecord:
    return ActivityRecord(G, user, kind, at, channel_id=1, amount=amount)


async def guild(db: Database, *, tz: str = "Europe/Berlin", features: Any = None) -> None:
    async with db.writing() as s:
        await ensure_guild(s, guild_id=G, name="g", now=NOW)
        await s.execute(
            update(Guild).where(Guild.id == G).values(timezone=tz, features=features or {})
        )


async def record(db: Database, *records: ActivityRecord | MembershipRecord) -> None:
    recorder = ActivityRecorder(db)
    await recorder.put_many(records)
    await recorder.close()


async def opt_out(db: Database, user: int) -> None:
    async with db.writing() as s:
        await set_tracking_opt_out(s, guild_id=G, user_id=user, opted_out=True, now=NOW)


async def weekly(db: Database, now: datetime = NOW, **kw: Any) -> metrics.WeeklyMetrics:
    async with db.reading() as s:
        return await metrics.weekly_metrics(s, guild_id=G, now=now, **kw)


# -- periods -------------------------------------------------------------------------------------


def test_week_bounds_follow_the_guilds_clock_and_dst() -> None:
    # Sunday 29 Nov 23:30 in Berlin (22:30 UTC) is still the week of Monday 23 Nov ...
    sunday_night = metrics.week_bounds("Europe/Berlin", berlin(2026, 11, 29, 23, 30))
    assert (sunday_night.start, sunday_night.end) == (date(2026, 11, 23), date(2026, 11, 30))
    # ... and one hour later, Monday 00:30 in Berlin (still Sunday 23:30 in UTC), is the next.
    monday = metrics.week_bounds("Europe/Berlin", berlin(2026, 11, 30, 0, 30))
    assert monday.start == date(2026, 11, 30)
    assert monday.start_utc == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)  # 00:00 CET = 23:00 UTC
    assert metrics.week_bounds("Europe/Berlin", NOW, weeks_ago=1).start == date(2026, 11, 16)

    # The week of the autumn change: Mon 19 Oct 00:00 CEST (18 Oct 22:00 UTC) to Mon 26 Oct
    # 00:00 CET (25 Oct 23:00 UTC) = 7 x 24 + 1 = 169 hours.
    autumn = metrics.week_bounds("Europe/Berlin", datetime(2026, 10, 22, 12, tzinfo=UTC))
    assert autumn.start_utc == datetime(2026, 10, 18, 22, 0, tzinfo=UTC)
    assert autumn.end_utc == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert autumn.hours == 169
    # The week of the spring change: Mon 23 Mar 00:00 CET (22 Mar 23:00 UTC) to Mon 30 Mar
    # 00:00 CEST (29 Mar 22:00 UTC) = 7 x 24 - 1 = 167 hours.
    spring = metrics.week_bounds("Europe/Berlin", datetime(2026, 3, 25, 12, tzinfo=UTC))
    assert spring.start_utc == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)
    assert spring.end_utc == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert spring.hours == 167


def test_ratios_and_changes_never_divide_by_zero() -> None:
    assert metrics.ratio(3, 0) is None
    assert metrics.ratio(1, 4) == 0.25
    assert metrics.Change(None, 3).delta is None
    assert metrics.Change(5, 0).relative is None  # from 0 to 5 is not a percentage
    assert metrics.Change(6, 4).delta == 2 and metrics.Change(6, 4).relative == 0.5


def test_weights_overrides_ignore_junk() -> None:
    weights = metrics.resolve_weights(
        {"voice_minute": 0.5, "nope": 9, "rsvp": -1, "poll_vote": "2", "thread_started": True}
    )
    assert weights["voice_minute"] == 0.5
    # unknown, negative, text and booleans are ignored: the defaults stay
    assert "nope" not in weights
    assert (weights["rsvp"], weights["poll_vote"], weights["thread_started"]) == (1.0, 1.0, 2.0)


# -- weekly metrics ------------------------------------------------------------------------------


async def test_empty_guild_has_zeros_and_no_ratios(db: Database) -> None:
    m = await weekly(db)  # no guild row at all: UTC, nothing recorded
    for values in (m.current, m.previous):
        assert values.members_total == values.active == values.monthly_active == 0
        assert values.engagement_rate is None
        assert values.stickiness is None
        assert values.week1_retention is None
        assert values.repeat_attendees == 0 and values.rsvp_conversion is None
    assert m.top_contributors == ()
    assert m.change("active").relative is None
    async with db.reading() as s:
        table = await metrics.cohort_table(s, guild_id=G, now=NOW, weeks=8)
        assert [row.size for row in table.rows] == [0] * 8
        assert all(row.rate(0) is None for row in table.rows)
        assert await metrics.drifting_members(s, guild_id=G, now=NOW) == ()
        assert await metrics.new_and_promising(s, guild_id=G, now=NOW) == ()
        me = await metrics.member_summary(s, guild_id=G, user_id=1, now=NOW)
    assert (me.activity_blocks, me.streak_weeks, me.events_attended_total) == (0, 0, 0)
    assert not me.active_this_week and not me.opted_out


ALICE, BOB, CAROL, DAVE, BOT = 11, 12, 13, 14, 99


async def tiny_guild(db: Database, features: Any = None) -> None:
    """Three people, a bot and a member who opted out."""
    await guild(db, features=features)
    await record(
        db,
        joined(ALICE, berlin(2026, 9, 1)),
        joined(CAROL, berlin(2026, 10, 1)),
        joined(DAVE, berlin(2026, 9, 1)),
        joined(BOT, berlin(2026, 9, 1), bot=True),
        joined(BOB, berlin(2026, 11, 17, 9)),  # Tuesday of last week
        # last week (16-22 Nov)
        did(ALICE, K.MESSAGE, berlin(2026, 11, 18, 10)),
        did(BOB, K.REACTION_GIVEN, berlin(2026, 11, 18, 11)),  # active, not a communicator
        did(CAROL, K.MESSAGE, berlin(2026, 11, 20, 10)),
        did(CAROL, K.MESSAGE, berlin(2026, 11, 21, 10)),
        # this week (23-29 Nov), up to Wednesday noon
        did(ALICE, K.MESSAGE, berlin(2026, 11, 23, 11, 0)),
        did(ALICE, K.MESSAGE, berlin(2026, 11, 23, 11, 5)),  # same 10-minute block
        did(ALICE, K.MESSAGE, berlin(2026, 11, 24, 10, 0)),  # second block, second day
        did(ALICE, K.EVENT_ATTENDED, berlin(2026, 11, 24, 20, 0)),
        did(ALICE, K.REFERRAL_QUALIFIED, berlin(2026, 11, 24, 21, 0)),
        did(BOB, K.VOICE, berlin(2026, 11, 24, 19, 0), amount=1800),  # 30 minutes
        did(CAROL, K.REACTION_RECEIVED, berlin(2026, 11, 23, 9, 0)),  # passive: not active
        did(BOT, K.MESSAGE, berlin(2026, 11, 23, 12)),
        did(BOT, K.MESSAGE, berlin(2026, 11, 24, 12)),
        did(DAVE, K.MESSAGE, berlin(2026, 11, 23, 12)),  # recorded before he opted out
        did(DAVE, K.MESSAGE, berlin(2026, 11, 24, 12)),
        left(CAROL, berlin(2026, 11, 24, 10)),
    )
    await opt_out(db, DAVE)


async def test_tiny_guild_of_three(db: Database) -> None:
    await tiny_guild(db)
    m = await weekly(db)
    assert m.period.start == date(2026, 11, 23) and m.in_progress
    cur, prev = m.current, m.previous

    # Members now: alice, bob (carol left on Tuesday; the bot and dave never count) = 2
    assert (cur.members_total, cur.joined, cur.left) == (2, 0, 1)
    # Active this week: alice, bob = 2 (carol only received a reaction: passive)
    assert cur.active == 2
    assert cur.communicators == 2  # alice wrote, bob talked
    assert cur.engaged == 2 and cur.engagement_rate == 2 / 2
    # Active in the 28 days 2-29 Nov: alice, bob, carol = 3; stickiness 2 / 3
    assert cur.monthly_active == 3 and cur.stickiness == 2 / 3
    assert cur.contributors == 1  # alice: Monday and Tuesday; bob: one day
    # Joined last week: bob = 1; active this week: bob = 1; 1 / 1
    assert (cur.retention_cohort, cur.retention_returned, cur.week1_retention) == (1, 1, 1.0)
    assert (cur.events_attended, cur.referrals) == (1, 1)
    assert cur.repeat_attendees == 0  # no events held

    # Last week: members at its end (Mon 23 Nov 00:00): alice, bob, carol = 3
    assert (prev.members_total, prev.joined, prev.left) == (3, 1, 0)
    assert prev.active == 3  # alice (message), bob (reaction given), carol (messages)
    assert prev.communicators == 2  # alice and carol; bob only reacted
    assert prev.engagement_rate == 3 / 3
    assert prev.monthly_active == 3 and prev.stickiness == 3 / 3
    assert prev.contributors == 1  # carol: Friday and Saturday
    # Nobody joined in 9-15 Nov: no cohort, so no retention rather than 0 %
    assert (prev.retention_cohort, prev.week1_retention) == (0, None)

    assert m.change("members_total").delta == 2 - 3
    assert m.change("active").relative == (2 - 3) / 3

    # Top contributors with the default weights:
    # alice = 2 blocks x 1 + 1 event x 3 + 1 referral x 5 = 10
    # bob   = 30 voice minutes x 0.1 = 3
    # (carol's received reaction weighs nothing; the bot and dave are excluded)
    assert [(c.user_id, c.score) for c in m.top_contributors] == [(ALICE, 10.0), (BOB, 3.0)]
    alice = m.top_contributors[0]
    assert (alice.active_days, alice.activity_blocks, alice.events_attended) == (2, 2, 1)
    assert m.top_contributors[1].voice_minutes == 30


async def test_guild_weights_and_caller_weights_override_the_defaults(db: Database) -> None:
    await tiny_guild(db, features={"metrics": {"weights": {"voice_minute": 1.0}}})
    m = await weekly(db)
    # bob = 30 minutes x 1.0 = 30; alice still 10
    assert [(c.user_id, c.score) for c in m.top_contributors] == [(BOB, 30.0), (ALICE, 10.0)]
    assert m.weights["voice_minute"] == 1.0
    m = await weekly(db, weights={"referral_qualified": 0.0, "voice_minute": 0.0})
    # alice = 2 + 3 + 0 = 5; bob = 0 and a zero score is not a contribution
    assert [(c.user_id, c.score) for c in m.top_contributors] == [(ALICE, 5.0)]
    async with db.reading() as s:
        top = await metrics.top_contributors(s, guild_id=G, now=NOW, limit=1)
    assert [c.user_id for c in top] == [BOB]


async def test_member_totals_use_old_history_and_members_synced_without_events(
    db: Database,
) -> None:
    await guild(db)
    await record(
        db,
        joined(1, berlin(2026, 9, 1)),
        left(1, berlin(2026, 10, 1)),  # gone long ago
        joined(2, berlin(2026, 9, 1)),  # here all along
        joined(5, berlin(2026, 1, 1)),
        left(5, berlin(2026, 11, 23, 10)),  # left on Monday, back on Tuesday
        joined(5, berlin(2026, 11, 24, 10)),
    )
    async with db.writing() as s:
        # Hearth was offline: start-up sync finds 3 (joined Tuesday) and 4 (join time unknown)
        await sync_members(
            s,
            guild_id=G,
            members=[(3, berlin(2026, 11, 24, 10), False), (4, None, False)],
            now=NOW,
        )
    m = await weekly(db)
    # now: 2, 3, 4, 5 = 4; joined this week: 3 and 5 = 2; left: 5 = 1
    assert (m.current.members_total, m.current.joined, m.current.left) == (4, 2, 1)
    # at the end of last week: 2, 4, 5 = 3 (5's member row now says "joined Tuesday"; the
    # leave on Monday says they were there before it)
    assert m.previous.members_total == 3
    last_week = await weekly(db, weeks_ago=1)
    assert last_week.current.members_total == 3


async def test_sunday_night_and_monday_morning_fall_in_different_local_weeks(
    db: Database,
) -> None:
    await guild(db)
    await record(
        db,
        joined(1, berlin(2026, 1, 1)),
        joined(2, berlin(2026, 1, 1)),
        # Sunday 22 Nov 23:30 in Berlin = 22:30 UTC: last week
        did(1, K.MESSAGE, berlin(2026, 11, 22, 23, 30)),
        # Monday 23 Nov 00:30 in Berlin = Sunday 23:30 UTC: this week
        did(2, K.MESSAGE, berlin(2026, 11, 23, 0, 30)),
    )
    m = await weekly(db)
    assert (m.current.active, m.previous.active) == (1, 1)
    assert [c.user_id for c in m.top_contributors] == [2]


async def test_the_autumn_dst_week_is_169_hours(db: Database) -> None:
    await guild(db)
    await record(
        db,
        joined(1, berlin(2026, 1, 1)),
        joined(2, berlin(2026, 1, 1)),
        # Sunday 25 Oct 23:45 CET = 22:45 UTC. A week taken as start + 168 h would end at
        # 22:00 UTC and miss this join; the real week ends at 23:00 UTC.
        joined(3, datetime(2026, 10, 25, 22, 45, tzinfo=UTC)),
        # Monday 26 Oct 00:15 CET = 23:15 UTC Sunday: the next week.
        joined(4, datetime(2026, 10, 25, 23, 15, tzinfo=UTC)),
        did(1, K.MESSAGE, datetime(2026, 10, 25, 22, 30, tzinfo=UTC)),  # Sun 23:30 CET
        did(2, K.MESSAGE, datetime(2026, 10, 25, 23, 30, tzinfo=UTC)),  # Mon 00:30 CET
        # Monday 19 Oct 00:30 CEST = Sunday 18 Oct 22:30 UTC: first hour of the DST week
        did(3, K.MESSAGE, datetime(2026, 10, 18, 22, 30, tzinfo=UTC)),
    )
    m = await weekly(db, now=datetime(2026, 10, 28, 12, tzinfo=UTC), weeks_ago=1)
    assert m.period.start == date(2026, 10, 19) and m.period.hours == 169
    # active in 19-25 Oct: user 1 (Sunday night) and user 3 (Monday morning) = 2
    assert m.current.active == 2
    assert m.current.joined == 1  # user 3 only
    assert m.current.members_total == 3  # 1, 2, 3 at Mon 26 Oct 00:00 CET
    m = await weekly(db, now=datetime(2026, 10, 28, 12, tzinfo=UTC))
    assert (m.current.active, m.current.joined, m.current.members_total) == (1, 1, 4)


async def test_the_spring_dst_week_is_167_hours(db: Database) -> None:
    await guild(db)
    await record(
        db,
        joined(1, berlin(2026, 1, 1)),
        # Sunday 29 Mar 23:45 CEST = 21:45 UTC: inside the short week
        joined(2, datetime(2026, 3, 29, 21, 45, tzinfo=UTC)),
        # Monday 30 Mar 00:30 CEST = 22:30 UTC Sunday. Start + 168 h would end at 23:00 UTC
        # and wrongly keep this join in the short week.
        joined(3, datetime(2026, 3, 29, 22, 30, tzinfo=UTC)),
        did(1, K.MESSAGE, datetime(2026, 3, 29, 21, 30, tzinfo=UTC)),  # Sun 23:30 CEST
        did(2, K.MESSAGE, datetime(2026, 3, 29, 22, 30, tzinfo=UTC)),  # Mon 00:30 CEST
    )
    m = await weekly(db, now=datetime(2026, 4, 1, 12, tzinfo=UTC), weeks_ago=1)
    assert m.period.start == date(2026, 3, 23) and m.period.hours == 167
    assert (m.current.joined, m.current.members_total, m.current.active) == (1, 2, 1)
    m = await weekly(db, now=datetime(2026, 4, 1, 12, tzinfo=UTC))
    assert (m.current.joined, m.current.members_total, m.current.active) == (1, 3, 1)


async def test_contributors_need_two_distinct_local_days(db: Database) -> None:
    await guild(db)
    await record(
        db,
        joined(1, berlin(2026, 1, 1)),
        joined(2, berlin(2026, 1, 1)),
        # user 1: Tue 23:30 and Wed 00:30 in Berlin - two local days (one UTC day)
        did(1, K.MESSAGE, berlin(2026, 11, 24, 23, 30)),
        did(1, K.POLL_VOTE, berlin(2026, 11, 25, 0, 30)),
        # user 2: Tue 00:30 and Tue 22:00 in Berlin - one local day (two UTC days)
        did(2, K.MESSAGE, berlin(2026, 11, 24, 0, 30)),
        did(2, K.MESSAGE, berlin(2026, 11, 24, 22, 0)),
        # passive kinds do not make a day: user 2 received a reaction on Monday
        did(2, K.REACTION_RECEIVED, berlin(2026, 11, 23, 10)),
    )
    m = await weekly(db)
    assert (m.current.active, m.current.contributors) == (2, 1)


# -- retention and cohorts -----------------------------------------------------------------------


async def test_week1_retention_and_cohort_table(db: Database) -> None:
    await guild(db)
    await record(
        db,
        # week of 9 Nov: users 1, 2, 5
        joined(1, berlin(2026, 11, 10)),
        joined(2, berlin(2026, 11, 12)),
        joined(5, berlin(2026, 11, 9, 0, 30)),  # Monday 00:30 Berlin = Sunday 23:30 UTC
        joined(6, berlin(2026, 11, 8, 23, 30)),  # Sunday 23:30 Berlin: week of 2 Nov, outside
        # week of 16 Nov: user 3 (new) and user 7 (back after leaving: not new)
        joined(7, berlin(2026, 9, 1)),
        left(7, berlin(2026, 10, 1)),
        joined(3, berlin(2026, 11, 17)),
        joined(7, berlin(2026, 11, 18)),
        # this week: user 4
        joined(4, berlin(2026, 11, 23)),
        did(1, K.MESSAGE, berlin(2026, 11, 11)),  # join week
        did(1, K.MESSAGE, berlin(2026, 11, 18)),  # one week later
        did(5, K.MESSAGE, berlin(2026, 11, 16)),  # one week later
        did(2, K.MESSAGE, berlin(2026, 11, 24)),  # two weeks later
        did(3, K.MESSAGE, berlin(2026, 11, 17)),
        did(3, K.MESSAGE, berlin(2026, 11, 23)),
        did(7, K.MESSAGE, berlin(2026, 11, 23)),
        did(6, K.MESSAGE, berlin(2026, 11, 10)),
    )
    async with db.reading() as s:
        table = await metrics.cohort_table(s, guild_id=G, now=NOW, weeks=3)
    rows = [(r.period.start, r.size, r.active) for r in table.rows]
    assert rows == [
        # users 1, 2, 5; week 0: 1; week 1: 1 and 5; week 2: 2
        (date(2026, 11, 9), 3, (1, 2, 1)),
        # user 3 (user 7 first joined in September); week 0: 3; week 1: 3
        (date(2026, 11, 16), 1, (1, 1, None)),
        # user 4, nothing yet
        (date(2026, 11, 23), 1, (0, None, None)),
    ]
    assert table.rows[0].rate(1) == 2 / 3
    assert table.rows[2].rate(1) is None

    m = await weekly(db)
    # This week: new last week = user 3; back this week = user 3 -> 1 / 1
    assert (m.current.retention_cohort, m.current.retention_returned) == (1, 1)
    # Last week: new in 9-15 Nov = 1, 2, 5; back in 16-22 Nov = 1 and 5 -> 2 / 3
    assert (m.previous.retention_cohort, m.previous.retention_returned) == (3, 2)
    assert m.previous.week1_retention == 2 / 3
    # Joins, though, count every join: last week 3 and 7 = 2; this week 4 = 1
    assert (m.previous.joined, m.current.joined) == (2, 1)


# -- drifting, new and promising -----------------------------------------------------------------


async def test_drifting_members(db: Database) -> None:
    await guild(db)
    # Today is Wed 25 Nov. The last 14 days: 12-25 Nov. The 28 days before: 15 Oct - 11 Nov.
    old = berlin(2026, 1, 1)
    records: list[ActivityRecord | MembershipRecord] = [joined(u, old) for u in (1, 2, 3, 4, 5, 7)]
    records.append(joined(6, old, bot=True))
    for u, days in {
        1: [(10, 20), (10, 22), (10, 25), (11, 1)],  # 4 days -> drifting
        2: [(10, 20), (10, 22), (10, 25)],  # 3 days -> not enough
        3: [(10, 16), (10, 18), (10, 20), (10, 22), (10, 25)],  # 5 days, but see below
        4: [(10, 16), (10, 18), (10, 20), (10, 22), (10, 25), (10, 28)],  # 6 + 1 below
        5: [(10, 16), (10, 18), (10, 20), (10, 22)],  # left the server
        6: [(10, 16), (10, 18), (10, 20), (10, 22)],  # a bot
        7: [(10, 16), (10, 18), (10, 20), (10, 30)],  # 4 days, last 30 Oct
    }.items():
        records += [did(u, K.MESSAGE, berlin(2026, m, d)) for m, d in days]
    # user 3: Thu 12 Nov 00:30 in Berlin (11 Nov 23:30 UTC) is inside the last 14 days
    records.append(did(3, K.MESSAGE, berlin(2026, 11, 12, 0, 30)))
    # user 4: Wed 11 Nov 23:30 in Berlin is the last day before them: 7 days, still drifting
    records.append(did(4, K.MESSAGE, berlin(2026, 11, 11, 23, 30)))
    # user 7 only received reactions lately: passive, still drifting
    records.append(did(7, K.REACTION_RECEIVED, berlin(2026, 11, 20)))
    records.append(left(5, berlin(2026, 11, 20)))
    await record(db, *records)
    async with db.reading() as s:
        drifting = await metrics.drifting_members(s, guild_id=G, now=NOW)
        first = await metrics.drifting_members(s, guild_id=G, now=NOW, limit=1)
    assert [(d.user_id, d.active_days_before, d.last_active_day) for d in drifting] == [
        (4, 7, date(2026, 11, 11)),
        (1, 4, date(2026, 11, 1)),  # ties on 4 days: the most recently active first
        (7, 4, date(2026, 10, 30)),
    ]
    assert [d.user_id for d in first] == [4]


async def test_new_and_promising(db: Database) -> None:
    await guild(db)
    # 30 days before Wed 25 Nov 12:00 UTC is Mon 26 Oct 12:00 UTC.
    await record(
        db,
        joined(1, berlin(2026, 11, 20)),
        joined(2, berlin(2026, 11, 1)),
        joined(3, berlin(2026, 11, 15)),  # never active: left out
        joined(4, berlin(2026, 10, 20)),  # joined 36 days ago: not new
        joined(5, berlin(2026, 11, 10)),
        left(5, berlin(2026, 11, 20)),  # gone
        joined(6, berlin(2026, 11, 20), bot=True),
        joined(8, berlin(2025, 6, 1)),  # an old hand
        # user 1: three blocks = 3
        did(1, K.MESSAGE, berlin(2026, 11, 21, 10, 0)),
        did(1, K.MESSAGE, berlin(2026, 11, 21, 10, 20)),
        did(1, K.MESSAGE, berlin(2026, 11, 22, 10, 0)),
        # user 2: one block + thread 2 + poll vote 1 = 4
        did(2, K.MESSAGE, berlin(2026, 11, 2, 10)),
        did(2, K.THREAD_STARTED, berlin(2026, 11, 2, 10, 1)),
        did(2, K.POLL_VOTE, berlin(2026, 11, 3, 10)),
        did(4, K.MESSAGE, berlin(2026, 11, 2, 10)),
        did(5, K.MESSAGE, berlin(2026, 11, 12, 10)),
        did(6, K.MESSAGE, berlin(2026, 11, 21, 10)),
        did(8, K.MESSAGE, berlin(2026, 11, 21, 10)),
    )
    async with db.reading() as s:
        new = await metrics.new_and_promising(s, guild_id=G, now=NOW)
    assert [(n.user_id, n.score, n.active_days) for n in new] == [(2, 4.0, 2), (1, 3.0, 2)]
    assert new[1].joined_at == berlin(2026, 11, 20)


# -- one member ----------------------------------------------------------------------------------


async def test_member_summary_shows_only_their_own_participation(db: Database) -> None:
    await guild(db)
    await record(
        db,
        joined(1, berlin(2026, 1, 1)),
        joined(2, berlin(2026, 1, 1)),
        joined(3, berlin(2026, 1, 1)),
        # user 1 this week: 5 messages in 2 blocks, 15 minutes of voice, 1 event
        *[did(1, K.MESSAGE, berlin(2026, 11, 23, 10, m)) for m in (0, 1, 2)],
        *[did(1, K.MESSAGE, berlin(2026, 11, 24, 10, m)) for m in (0, 5)],
        did(1, K.VOICE, berlin(2026, 11, 24, 20), amount=900),
        did(1, K.EVENT_ATTENDED, berlin(2026, 11, 24, 21)),
        # user 1 earlier: weeks of 16 Nov and 9 Nov, a gap (2 Nov), then 26 Oct
        did(1, K.MESSAGE, berlin(2026, 11, 16)),
        did(1, K.EVENT_ATTENDED, berlin(2026, 11, 12)),
        did(1, K.MESSAGE, berlin(2026, 10, 27)),
        # user 2: nothing this week yet, active the two weeks before (Sunday night counts)
        did(2, K.MESSAGE, berlin(2026, 11, 22, 23, 30)),
        did(2, K.MESSAGE, berlin(2026, 11, 10)),
        # someone else in the same week does not leak into user 1's numbers
        *[did(3, K.MESSAGE, berlin(2026, 11, 23, 12, m)) for m in range(0, 60, 10)],
    )
    async with db.reading() as s:
        one = await metrics.member_summary(s, guild_id=G, user_id=1, now=NOW)
        two = await metrics.member_summary(s, guild_id=G, user_id=2, now=NOW)
        new = await metrics.member_summary(s, guild_id=G, user_id=42, now=NOW)
    assert (one.messages, one.activity_blocks, one.voice_minutes) == (5, 2, 15)
    assert (one.active_days, one.events_attended, one.events_attended_total) == (2, 1, 2)
    assert one.streak_weeks == 3  # 23 Nov, 16 Nov, 9 Nov; 2 Nov is the gap
    assert one.active_this_week
    # user 2: a week in progress does not break a streak: 16 Nov and 9 Nov = 2
    assert (two.streak_weeks, two.active_this_week, two.messages) == (2, False, 0)
    assert (new.streak_weeks, new.messages, new.events_attended_total) == (0, 0, 0)


async def test_streak_counting() -> None:
    monday = date(2026, 11, 23)
    assert metrics.streak_weeks([], monday) == 0
    assert metrics.streak_weeks([date(2026, 11, 25)], monday) == 1
    # last Sunday and this Monday are two weeks
    assert metrics.streak_weeks([date(2026, 11, 22), date(2026, 11, 23)], monday) == 2
    assert metrics.streak_weeks([date(2026, 11, 8)], monday) == 0  # two weeks ago: broken


async def test_utc_guild_is_the_default(db: Database) -> None:
    await guild(db, tz="UTC")
    await record(
        db,
        joined(1, datetime(2026, 1, 1, tzinfo=UTC)),
        # Sunday 22 Nov 23:30 UTC is last week in UTC (it would be this week in Berlin)
        did(1, K.MESSAGE, datetime(2026, 11, 22, 23, 30, tzinfo=UTC)),
    )
    m = await weekly(db)
    assert m.period.start_utc == datetime(2026, 11, 23, tzinfo=UTC)
    assert (m.current.active, m.previous.active) == (0, 1)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        metrics.week_bounds("UTC", datetime(2026, 11, 25, 12))


# -- attendance from the events feature ---------------------------------------------------------


async def _held_event(db: Database, start: datetime, going: list[int], came: list[int]) -> None:
    """An event that started at ``start`` (UTC), with Going RSVPs and check-ins; then closed."""
    from datetime import timedelta

    from services import events

    async with db.writing() as s:
        spec = events.build_spec(
            title="Meetup",
            starts_at=start,
            duration=timedelta(hours=1),
            timezone=ZoneInfo("Europe/Berlin"),
            now=start - timedelta(days=1),
            location="Café",
        )
        ev = await events.create_event(
            s, guild_id=G, post_channel_id=1, host_id=1, spec=spec, now=start - timedelta(days=1)
        )
        for user in going:
            await events.rsvp(
                s,
                guild_id=G,
                event_id=ev.id,
                user_id=user,
                role_ids=[],
                choice=events.RsvpStatus.GOING,
                now=start - timedelta(hours=1),
            )
        for user in came:
            await events.check_in(
                s, guild_id=G, event_id=ev.id, user_id=user, role_ids=[], now=start
            )
        await events.close_window(s, guild_id=G, event_id=ev.id, now=start + timedelta(hours=2))


async def test_repeat_attendees_and_rsvp_conversion(db: Database) -> None:
    await guild(db)
    # Last week (16-22 Nov): one event; this week (23-29 Nov, now = Wed 25th): two so far.
    await _held_event(db, berlin(2026, 11, 18, 19), going=[1, 2], came=[1])
    await _held_event(db, berlin(2026, 11, 23, 19), going=[1, 2, 3], came=[1, 2])
    await _held_event(db, berlin(2026, 11, 24, 19), going=[2, 3], came=[2, 4])  # 4: no RSVP
    m = await weekly(db)
    # Of the last 4 events before now (all three): 1 came twice, 2 came twice -> 2.
    assert m.current.repeat_attendees == 2
    # This week's Going RSVPs: 3 + 2 = 5, of whom 1, 2 (first) and 2 (second) came -> 3 / 5.
    assert m.current.rsvp_conversion == 3 / 5
    # Last week: only the first event had ended -> nobody came twice; 1 of 2 Going came.
    assert m.previous.repeat_attendees == 0 and m.previous.rsvp_conversion == 1 / 2
