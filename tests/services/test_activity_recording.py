"""The recorder writes every record once, keeps rollups exact, and stays bounded."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from models import (
    ActivityBlock,
    ActivityDaily,
    ActivityEvent,
    ActivityKind,
    Database,
    Member,
    MembershipEvent,
    MembershipKind,
)
from services.activity import (
    ActivityRecord,
    ActivityRecorder,
    MembershipRecord,
    prune_raw_events,
    set_tracking_opt_out,
)
from services.guilds import ensure_guild

G = 1_000_000_000_000_000
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday


def msg(user: int, at: datetime, channel: int = 1) -> ActivityRecord:
    return ActivityRecord(G, user, ActivityKind.MESSAGE, at, channel_id=channel)


async def daily(db: Database, user: int) -> dict[date, ActivityDaily]:
    async with db.reading() as s:
        rows = await s.scalars(
            select(ActivityDaily).where(ActivityDaily.guild_id == G, ActivityDaily.user_id == user)
        )
        return {r.day: r for r in rows}


async def count(db: Database, model: type) -> int:
    async with db.reading() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_blocks_count_distinct_ten_minute_intervals_across_batches(db: Database) -> None:
    rec = ActivityRecorder(db, batch_size=3)
    # 08:00, 08:01, 08:09 -> one block; 08:10 -> second; 09:00 -> third; a spam burst adds none
    times = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=9, seconds=59)]
    times += [T0 + timedelta(minutes=10), T0 + timedelta(hours=1)]
    times += [T0 + timedelta(hours=1, seconds=i) for i in range(20)]
    await rec.put_many(msg(7, t) for t in times)
    await rec.close()
    day = (await daily(db, 7))[date(2026, 11, 30)]
    assert (day.messages, day.activity_blocks, day.active) == (25, 3, 1)
    # The same block seen again after a "restart" (a new recorder) does not count twice.
    again = ActivityRecorder(db)
    await again.put(msg(7, T0 + timedelta(minutes=5)))
    await again.close()
    day = (await daily(db, 7))[date(2026, 11, 30)]
    assert (day.messages, day.activity_blocks) == (26, 3)
    assert await count(db, ActivityEvent) == 26 and await count(db, ActivityBlock) == 3


async def test_rollups_use_the_guilds_local_day_and_passive_kinds_are_not_active(
    db: Database,
) -> None:
    async with db.writing() as s:
        await ensure_guild(s, guild_id=G, name="g", now=T0)
        from models import Guild

        guild = await s.get(Guild, G)
        assert guild is not None
        guild.timezone = "America/New_York"
    rec = ActivityRecorder(db)
    late_evening_ny = datetime(2026, 12, 1, 3, 30, tzinfo=UTC)  # Nov 30, 22:30 in New York
    await rec.put(msg(1, late_evening_ny))
    await rec.put(ActivityRecord(G, 2, ActivityKind.REACTION_RECEIVED, late_evening_ny))
    await rec.put(ActivityRecord(G, 1, ActivityKind.VOICE, late_evening_ny, amount=900))
    await rec.close()
    one = await daily(db, 1)
    assert list(one) == [date(2026, 11, 30)]
    assert one[date(2026, 11, 30)].voice_seconds == 900
    two = (await daily(db, 2))[date(2026, 11, 30)]
    assert (two.reactions_received, two.active) == (1, 0)


async def test_opted_out_members_are_not_recorded(db: Database) -> None:
    async with db.writing() as s:
        await set_tracking_opt_out(s, guild_id=G, user_id=9, opted_out=True, now=T0)
    rec = ActivityRecorder(db)
    await rec.start()
    await rec.put(msg(9, T0))
    await rec.put(msg(8, T0))
    await rec.close()
    assert await daily(db, 9) == {} and len(await daily(db, 8)) == 1


async def test_a_burst_of_50000_is_all_recorded_with_bounded_memory(db: Database) -> None:
    rec = ActivityRecorder(db, batch_size=2_000, max_buffer=5_000, flush_interval=0.05)
    await rec.start()
    peak = 0

    async def produce(offset: int) -> None:
        nonlocal peak
        for i in range(10_000):
            await rec.put(msg(offset + i % 50, T0 + timedelta(seconds=i)))
            peak = max(peak, rec.buffered)

    await asyncio.gather(*(produce(u * 100) for u in range(5)))
    await rec.close()
    assert peak <= 5_000
    assert await count(db, ActivityEvent) == 50_000
    async with db.reading() as s:
        assert await s.scalar(select(func.sum(ActivityDaily.messages))) == 50_000


async def test_many_waiting_handlers_are_served_in_order_and_cancelled_ones_skipped(
    db: Database,
) -> None:
    """discord.py runs each handler as its own task: 20,000 of them put() at once into a
    buffer of 1,000. Each gets a slot in turn, the buffer never overflows, handlers cancelled
    while waiting neither record nor block the others, and closing the recorder while the
    rest still wait writes their records too."""
    rec = ActivityRecorder(db, batch_size=1_000, max_buffer=1_000, flush_interval=0.05)
    await rec.start()
    peak = 0

    async def handler(i: int) -> None:
        nonlocal peak
        await rec.put(msg(i % 97, T0 + timedelta(seconds=i)))
        peak = max(peak, rec.buffered)

    tasks = [asyncio.create_task(handler(i)) for i in range(20_000)]
    await asyncio.sleep(0)  # every handler has run to its put()
    cancelled = tasks[5_000:5_100]
    for task in cancelled:
        task.cancel()
    # Shut down while most handlers still wait for room: close() writes their records too.
    await rec.close()
    # Every handler has finished by now; a wait here means one was left waiting forever.
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    assert peak <= 1_000
    assert all(t.cancelled() for t in cancelled)
    assert await count(db, ActivityEvent) == 20_000 - len(cancelled)


async def test_membership_changes_update_members_and_history(db: Database) -> None:
    rec = ActivityRecorder(db)
    await rec.put(MembershipRecord(G, 5, MembershipKind.JOINED, T0))
    await rec.put(MembershipRecord(G, 5, MembershipKind.LEFT, T0 + timedelta(days=1)))
    await rec.put(MembershipRecord(G, 5, MembershipKind.JOINED, T0 + timedelta(days=2)))
    await rec.close()
    async with db.reading() as s:
        member = await s.get(Member, (G, 5))
    assert member is not None and member.left_at is None
    assert member.joined_at == T0 + timedelta(days=2)
    assert await count(db, MembershipEvent) == 3


async def test_pruning_keeps_rollups(db: Database) -> None:
    rec = ActivityRecorder(db)
    await rec.put(msg(1, T0 - timedelta(days=100)))
    await rec.put(msg(1, T0))
    await rec.close()
    async with db.writing() as s:
        assert await prune_raw_events(s, now=T0, keep_days=90) == 1
    assert await count(db, ActivityEvent) == 1 and await count(db, ActivityBlock) == 1
    assert len(await daily(db, 1)) == 2


async def test_weekly_rollups_and_last_active_day_agree_with_the_daily_rollups(
    db: Database,
) -> None:
    """Random activity over four Berlin weeks around the 2026-10-25 DST change, written in
    batches of random size (a day is split across batches): each weekly row is the sum of its
    days, active_days and talk_days count the days that were active / had a message or voice,
    and each member's last_active_day is their last active day."""
    import random

    from models import ActivityWeekly, Guild
    from services.activity import sync_members

    rng = random.Random(4)
    start = datetime(2026, 10, 12, 0, 0, tzinfo=UTC)
    users = list(range(1, 13))
    async with db.writing() as s:
        await ensure_guild(s, guild_id=G, name="g", now=start)
        guild = await s.get(Guild, G)
        assert guild is not None
        guild.timezone = "Europe/Berlin"
        await sync_members(s, guild_id=G, members=[(u, start, False) for u in users], now=start)
    records = [
        ActivityRecord(
            G,
            rng.choice(users),
            kind := rng.choice(list(ActivityKind)),
            start + timedelta(seconds=rng.randrange(28 * 86_400)),
            amount=rng.randint(1, 900) if kind is ActivityKind.VOICE else 1,
        )
        for _ in range(3_000)
    ]
    records.sort(key=lambda r: r.occurred_at)
    rec = ActivityRecorder(db, batch_size=1)
    for record in records:
        rec.batch_size = rng.randint(1, 400)
        await rec.put(record)
    await rec.close()

    counters = [c.name for c in ActivityWeekly.__table__.columns][3:]
    expected: dict[tuple[date, int], dict[str, int]] = {}
    last: dict[int, date] = {}
    async with db.reading() as s:
        for d in await s.scalars(select(ActivityDaily)):
            row = expected.setdefault(
                (d.day - timedelta(days=d.day.weekday()), d.user_id), dict.fromkeys(counters, 0)
            )
            for c in counters:
                if c == "active_days":
                    row[c] += d.active
                elif c == "talk_days":
                    row[c] += int(d.messages > 0 or d.voice_seconds > 0)
                else:
                    row[c] += getattr(d, c)
            if d.active:
                last[d.user_id] = max(last.get(d.user_id, d.day), d.day)
        got = {
            (w.week, w.user_id): {c: getattr(w, c) for c in counters}
            for w in await s.scalars(select(ActivityWeekly))
        }
        members = dict((await s.execute(select(Member.user_id, Member.last_active_day))).all())
    assert len(expected) > 30 and got == expected
    assert all(week.weekday() == 0 for week, _ in got)
    assert {u: d for u, d in members.items() if d is not None} == last


async def test_raw_events_read_back_exactly_as_they_were_recorded(db: Database) -> None:
    """Raw events bypass Core's parameter processing (see insert_raw_events): what the ORM
    reads back must be the same instants, to the microsecond, whatever zone they came in."""
    from zoneinfo import ZoneInfo

    berlin = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Berlin"))
    times = [T0, T0 + timedelta(microseconds=1), berlin]
    rec = ActivityRecorder(db)
    await rec.put_many(
        ActivityRecord(G, 3, ActivityKind.VOICE, t, channel_id=None, amount=60) for t in times
    )
    await rec.close()
    async with db.reading() as s:
        got = (await s.scalars(select(ActivityEvent).order_by(ActivityEvent.occurred_at))).all()
        between = await s.scalar(
            select(func.count())
            .select_from(ActivityEvent)
            .where(ActivityEvent.occurred_at > T0, ActivityEvent.occurred_at <= berlin)
        )
    assert [e.occurred_at for e in got] == sorted(times)
    assert all(e.occurred_at.tzinfo is not None for e in got)
    assert [(e.kind, e.amount, e.channel_id) for e in got] == [(4, 60, None)] * 3
    assert between == 2  # compared in SQL against bound values, the stored text orders right
