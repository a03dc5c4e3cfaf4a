"""Benchmark: the weekly metric set from daily rollups against the same numbers from raw events.

    .venv/bin/python -m bench.metrics_bench [--members 10000 --events 10000000 --weeks 12]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--no-sqlite]

What it does:

1. Generates one guild (Europe/Berlin, so the span holds the 2026-10-25 DST change) with
   ``--members`` members and about ``--events`` activity events over ``--weeks`` weeks: a few
   very active members (Pareto-distributed rates), many occasional ones, a third who never
   post, some who go quiet (drifting), newcomers, leavers, bots (whose activity must be
   excluded) and members who opted out (who have none, as the recorder drops it).
2. Writes raw events, activity blocks and daily rollups directly (sqlite3 executemany of plain
   tuples; asyncpg COPY on PostgreSQL), one local day at a time so memory stays flat. The
   rows are exactly what services.activity.ActivityRecorder writes for the same events —
   and the run checks that: a small data set from the same generator goes through the real
   recorder and its activity_daily and activity_block rows must equal the generator's.
3. Times the weekly metric set (services.metrics) from rollups, median of ``--runs`` after one
   warm-up, and the same headline numbers computed with plain GROUP BYs over activity_event,
   checks both give identical results, and prints and records the speed-up in
   bench/RESULTS.md.

The SQLite file lives under bench/data/ (gitignored). PostgreSQL runs in a database created
for the run next to the one in the URL (hearth_bench_<random>) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sqlite3
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from typing import cast as typing_cast
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import Date, Integer, Table, and_, case, cast, func, insert, select, update
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql.selectable import Subquery

from bench._common import machine, read_section, write_section
from cogs.digest import render as digest_render
from models import (
    PASSIVE_KINDS,
    ROLLUP_COLUMN,
    TALK_COUNTERS,
    ActivityBlock,
    ActivityDaily,
    ActivityEvent,
    ActivityKind,
    ActivityWeekly,
    Database,
    Guild,
    Member,
    MembershipEvent,
    MembershipKind,
    create_engine,
)
from models.migrate import upgrade
from services import digest, metrics
from services.activity import ActivityRecord, ActivityRecorder, ensure_guild_row

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"

GUILD = 1_100_000_000_000_000_000
USER0 = 500_000_000_000_000_000
TZ = ZoneInfo("Europe/Berlin")
# Sunday 2026-11-29, 23:00 in Berlin: the current week is all but over.
NOW = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
CHANNELS = [900_000_000_000_000_000 + i for i in range(20)]

# Share of events by kind (messages dominate, as on any server).
KIND_MIX: list[tuple[ActivityKind, float]] = [
    (ActivityKind.MESSAGE, 70.0),
    (ActivityKind.REACTION_GIVEN, 12.0),
    (ActivityKind.REACTION_RECEIVED, 8.0),
    (ActivityKind.VOICE, 4.0),
    (ActivityKind.THREAD_STARTED, 1.0),
    (ActivityKind.POLL_VOTE, 1.5),
    (ActivityKind.RSVP, 1.0),
    (ActivityKind.EVENT_ATTENDED, 0.8),
    (ActivityKind.SHOWCASE_SUBMITTED, 0.5),
    (ActivityKind.SHOWCASE_APPROVED, 0.3),
    (ActivityKind.SHOWCASE_FEATURED, 0.1),
    (ActivityKind.REFERRAL_QUALIFIED, 0.1),
]
KINDS = [k for k, _ in KIND_MIX]
CUM_WEIGHTS = [sum(w for _, w in KIND_MIX[: i + 1]) for i in range(len(KIND_MIX))]
KEYS = ("guild_id", "user_id", "day", "active")
COUNTERS = [
    c.name for c in typing_cast(Table, ActivityDaily.__table__).columns if c.name not in KEYS
]
DAILY_COLUMNS = ["guild_id", "user_id", "day", *COUNTERS, "active"]
WEEKLY_COLUMNS = ["guild_id", "week", "user_id", "active_days", "talk_days", *COUNTERS]
TALK_AT = [COUNTERS.index(c) for c in TALK_COUNTERS]
COUNTER_INDEX = {c: i for i, c in enumerate(COUNTERS)}
KIND_COUNTER = {int(k): COUNTER_INDEX[col] for k, col in ROLLUP_COLUMN.items()}
BLOCKS_AT = COUNTER_INDEX["activity_blocks"]
PASSIVE = {int(k) for k in PASSIVE_KINDS}
MESSAGE = int(ActivityKind.MESSAGE)
VOICE = int(ActivityKind.VOICE)
EVENT_COLUMNS = ["guild_id", "user_id", "kind", "channel_id", "occurred_at", "amount"]


# -- the data set ----------------------------------------------------------------------------------


@dataclass
class Person:
    user_id: int
    joined_at: datetime
    left_at: datetime | None
    is_bot: bool
    opted_out: bool
    rate: float  # expected events per day present
    first: int  # index of the first local day with activity
    last: int  # index after the last local day with activity


@dataclass
class DayChunk:
    day: date
    events: list[tuple[int, int, int, int, int]]  # user, kind, channel, epoch seconds, amount
    rollups: list[tuple[Any, ...]]  # ActivityDaily rows, DAILY_COLUMNS order
    blocks: list[tuple[int, int, int]]  # guild, user, block


class WeeklyRollup:
    """Weekly rollups and last active days from the daily rows, as the recorder keeps them
    (days arrive in order, so a week is finished when the next one starts)."""

    def __init__(self) -> None:
        self.week: date | None = None
        self.rows: dict[int, list[int]] = {}
        self.last_active: dict[int, date] = {}

    def add(self, chunk: DayChunk) -> list[tuple[Any, ...]]:
        week = chunk.day - timedelta(days=chunk.day.weekday())
        done = self.finish() if week != self.week else []
        self.week = week
        for _g, user, day, *counters, active in chunk.rollups:
            row = self.rows.get(user)
            if row is None:
                row = self.rows[user] = [0] * (2 + len(counters))
            row[0] += active
            row[1] += int(any(counters[i] for i in TALK_AT))
            for i, value in enumerate(counters):
                row[2 + i] += value
            if active:
                self.last_active[user] = day
        return done

    def finish(self) -> list[tuple[Any, ...]]:
        done = [(GUILD, self.week, user, *row) for user, row in self.rows.items()]
        self.rows = {}
        return done


@dataclass
class Generator:
    members: int
    events: int
    weeks: int
    seed: int = 1
    now: datetime = NOW
    people: list[Person] = field(default_factory=list)

    def __post_init__(self) -> None:
        today = self.now.astimezone(TZ).date()
        self.days = [today - timedelta(days=i) for i in range(self.weeks * 7 - 1, -1, -1)]
        self.bounds = [
            (
                int(metrics.local_midnight(d, TZ).timestamp()),
                min(
                    int(metrics.local_midnight(d + timedelta(days=1), TZ).timestamp()),
                    int(self.now.timestamp()),
                ),
            )
            for d in self.days
        ]
        self.span_start = datetime.fromtimestamp(self.bounds[0][0], UTC)
        self._make_people()

    def _day_index(self, moment: datetime) -> int:
        day = moment.astimezone(TZ).date()
        return (day - self.days[0]).days

    def _make_people(self) -> None:
        rng = random.Random(self.seed)
        n = self.members
        span = (self.now - self.span_start).total_seconds()
        n_days = len(self.days)
        bots = max(1, n // 500)
        opted = max(1, n // 300)
        for i in range(n):
            is_bot = i < bots
            opted_out = bots <= i < bots + opted
            if rng.random() < 0.85:
                joined = self.span_start - timedelta(seconds=rng.uniform(3600, 365 * 86_400))
            else:
                joined = self.span_start + timedelta(seconds=rng.uniform(0, span - 3600))
            left = None
            if not is_bot and rng.random() < 0.04:
                lo = max(joined, self.span_start).timestamp() + 86_400
                if lo < self.now.timestamp() - 3600:
                    left = datetime.fromtimestamp(rng.uniform(lo, self.now.timestamp()), UTC)
            first = max(0, self._day_index(joined) + 1)  # from the day after joining
            last = n_days if left is None else max(first, self._day_index(left))
            dormant = opted_out or (not is_bot and rng.random() < 0.35)
            if not dormant and not is_bot and rng.random() < 0.08:
                # drifting: goes quiet 15 to 35 days before now
                last = min(last, n_days - rng.randint(15, 35))
            weight = 0.0 if dormant or last <= first else rng.paretovariate(1.16)
            if is_bot:
                weight = 5.0
            self.people.append(
                Person(USER0 + i, joined, left, is_bot, opted_out, weight, first, last)
            )
        # Scale rates so the expected total is the target; cap the heaviest at 1,500 a day.
        for _ in range(3):
            total = sum(p.rate * (p.last - p.first) for p in self.people if p.last > p.first) or 1.0
            for p in self.people:
                p.rate = min(1500.0, p.rate * self.events / total)

    def membership(self) -> list[tuple[int, int, datetime]]:
        """(user, kind, at) join and leave events, in time order."""
        rows = [(p.user_id, int(MembershipKind.JOINED), p.joined_at) for p in self.people]
        rows += [
            (p.user_id, int(MembershipKind.LEFT), p.left_at)
            for p in self.people
            if p.left_at is not None
        ]
        return sorted(rows, key=lambda r: r[2])

    def chunks(self) -> Iterator[DayChunk]:
        """One local day at a time: events in time order, the day's rollups and blocks."""
        rng = random.Random(self.seed * 7919)
        for index, day in enumerate(self.days):
            start, end = self.bounds[index]
            if end <= start:
                continue
            length = end - start
            events: list[tuple[int, int, int, int, int]] = []
            for p in self.people:
                if p.rate <= 0 or not p.first <= index < p.last:
                    continue
                chance = min(0.97, 0.05 + p.rate / (p.rate + 6.0))
                if rng.random() >= chance:
                    continue
                mean = p.rate / chance
                count = 1 if mean <= 1 else 1 + round(rng.expovariate(1 / (mean - 1)))
                kinds = [int(k) for k in rng.choices(KINDS, cum_weights=CUM_WEIGHTS, k=count)]
                if p.is_bot:
                    kinds = [MESSAGE] * count
                sessions = [start + rng.randrange(length) for _ in range(min(8, 1 + count // 25))]
                for kind in kinds:
                    at = min(end - 1, rng.choice(sessions) + rng.randrange(2400))
                    amount = rng.randint(60, 3600) if kind == VOICE else 1
                    events.append((p.user_id, kind, rng.choice(CHANNELS), at, amount))
            events.sort(key=lambda e: e[3])
            yield self._rollup(day, events)

    @staticmethod
    def _rollup(day: date, events: list[tuple[int, int, int, int, int]]) -> DayChunk:
        """What ActivityRecorder._write_activity computes for these events (same rules)."""
        counters: dict[int, list[int]] = {}
        active: dict[int, int] = defaultdict(int)
        blocks: set[tuple[int, int]] = set()
        for user, kind, _channel, at, amount in events:
            row = counters.get(user)
            if row is None:
                row = counters[user] = [0] * len(COUNTERS)
            row[KIND_COUNTER[kind]] += amount
            if kind not in PASSIVE:
                active[user] = 1
            if kind == MESSAGE:
                blocks.add((user, at // 600))
        for user, _block in blocks:
            counters[user][BLOCKS_AT] += 1
        rollups = [(GUILD, u, day, *row, active[u]) for u, row in counters.items()]
        return DayChunk(day, events, rollups, [(GUILD, u, b) for u, b in sorted(blocks)])


# -- loading ---------------------------------------------------------------------------------------


async def prepare(db: Database, gen: Generator) -> None:
    """Guild, members and membership events (small) through SQLAlchemy."""
    now = gen.now
    async with db.writing() as s:
        await ensure_guild_row(s, GUILD, now)
        await s.execute(update(Guild).where(Guild.id == GUILD).values(timezone=TZ.key))
        await s.execute(
            insert(Member),
            [
                {
                    "guild_id": GUILD,
                    "user_id": p.user_id,
                    "joined_at": p.joined_at,
                    "first_joined_at": p.joined_at,
                    "left_at": p.left_at,
                    "is_bot": p.is_bot,
                    "tracking_opt_out": p.opted_out,
                    "created_at": now,
                    "updated_at": now,
                }
                for p in gen.people
            ],
        )
        await s.execute(
            insert(MembershipEvent),
            [
                {"guild_id": GUILD, "user_id": u, "kind": k, "occurred_at": at}
                for u, k, at in gen.membership()
            ],
        )


EVENT_INDEXES = list(typing_cast(Table, ActivityEvent.__table__).indexes)


def _sqlite_time(epoch: int) -> str:
    # SQLAlchemy's SQLite DateTime storage format, so comparisons with bound values hold.
    return time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime(epoch))


def load_sqlite(path: Path, gen: Generator) -> tuple[int, int]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    for index in EVENT_INDEXES:
        conn.execute(f"DROP INDEX {index.name}")
    events = rollups = 0
    weekly = WeeklyRollup()

    def write_weeks(rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(
            f"INSERT INTO activity_weekly ({', '.join(WEEKLY_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(WEEKLY_COLUMNS))})",
            ((g, w.isoformat(), *rest) for g, w, *rest in rows),
        )

    for chunk in gen.chunks():
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO activity_event ({', '.join(EVENT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
            ((GUILD, u, k, c, _sqlite_time(at), amount) for u, k, c, at, amount in chunk.events),
        )
        conn.executemany(
            f"INSERT INTO activity_daily ({', '.join(DAILY_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(DAILY_COLUMNS))})",
            ((g, u, d.isoformat(), *rest) for g, u, d, *rest in chunk.rollups),
        )
        conn.executemany("INSERT INTO activity_block VALUES (?, ?, ?)", chunk.blocks)
        write_weeks(weekly.add(chunk))
        conn.execute("COMMIT")
        events += len(chunk.events)
        rollups += len(chunk.rollups)
    conn.execute("BEGIN")
    write_weeks(weekly.finish())
    conn.executemany(
        "UPDATE member SET last_active_day = ? WHERE guild_id = ? AND user_id = ?",
        ((day.isoformat(), GUILD, user) for user, day in weekly.last_active.items()),
    )
    conn.execute("COMMIT")
    for index in EVENT_INDEXES:
        conn.execute(str(CreateIndex(index).compile(dialect=sqlite_dialect.dialect())))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return events, rollups


EPOCH = datetime(1970, 1, 1)


async def load_postgres(dsn: str, gen: Generator) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        for index in EVENT_INDEXES:
            await conn.execute(f"DROP INDEX {index.name}")
        events = rollups = 0
        weekly = WeeklyRollup()
        for chunk in gen.chunks():
            await conn.copy_records_to_table(
                "activity_weekly", columns=WEEKLY_COLUMNS, records=weekly.add(chunk)
            )
            await conn.copy_records_to_table(
                "activity_event",
                columns=EVENT_COLUMNS,
                records=[
                    (GUILD, u, k, c, EPOCH + timedelta(seconds=at), amount)
                    for u, k, c, at, amount in chunk.events
                ],
            )
            await conn.copy_records_to_table(
                "activity_daily", columns=DAILY_COLUMNS, records=chunk.rollups
            )
            await conn.copy_records_to_table(
                "activity_block", columns=["guild_id", "user_id", "block"], records=chunk.blocks
            )
            events += len(chunk.events)
            rollups += len(chunk.rollups)
        await conn.copy_records_to_table(
            "activity_weekly", columns=WEEKLY_COLUMNS, records=weekly.finish()
        )
        await conn.executemany(
            "UPDATE member SET last_active_day = $1 WHERE guild_id = $2 AND user_id = $3",
            [(day, GUILD, user) for user, day in weekly.last_active.items()],
        )
        for index in EVENT_INDEXES:
            await conn.execute(str(CreateIndex(index).compile(dialect=pg_dialect.dialect())))
        # autovacuum would analyse these tables within minutes of such a load anyway
        await conn.execute("ANALYZE")
        return events, rollups
    finally:
        await conn.close()


# -- the generator writes what the recorder writes ------------------------------------------------


async def verify_generator(workdir: Path) -> str:
    """Feed a small generated data set through the real ActivityRecorder and compare rows."""
    gen = Generator(members=60, events=30_000, weeks=12, seed=99)
    path = workdir / "verify.db"
    path.unlink(missing_ok=True)
    db = Database.from_engine(create_engine(f"sqlite+aiosqlite:///{path}"))
    try:
        await upgrade(db.engine)
        async with db.writing() as s:
            await ensure_guild_row(s, GUILD, NOW)
            await s.execute(update(Guild).where(Guild.id == GUILD).values(timezone=TZ.key))
            await s.execute(
                insert(Member),
                [
                    {"guild_id": GUILD, "user_id": p.user_id, "created_at": NOW, "updated_at": NOW}
                    for p in gen.people
                ],
            )
        recorder = ActivityRecorder(db, batch_size=2_000)
        expected_daily: set[tuple[Any, ...]] = set()
        expected_weekly: set[tuple[Any, ...]] = set()
        expected_blocks: set[tuple[int, int, int]] = set()
        weekly = WeeklyRollup()
        n = 0
        for chunk in gen.chunks():
            expected_daily.update(chunk.rollups)
            expected_weekly.update(weekly.add(chunk))
            expected_blocks.update(chunk.blocks)
            for u, k, c, at, amount in chunk.events:
                when = datetime.fromtimestamp(at, UTC)
                await recorder.put(
                    ActivityRecord(GUILD, u, ActivityKind(k), when, channel_id=c, amount=amount)
                )
                n += 1
        await recorder.close()
        expected_weekly.update(weekly.finish())
        async with db.reading() as s:

            def rows(model: type, names: list[str]) -> Any:
                table = typing_cast(Table, model.__table__)  # type: ignore[attr-defined]
                return select(*(table.c[name] for name in names))

            got_daily = {tuple(r) for r in await s.execute(rows(ActivityDaily, DAILY_COLUMNS))}
            got_weekly = {tuple(r) for r in await s.execute(rows(ActivityWeekly, WEEKLY_COLUMNS))}
            got_blocks = {
                tuple(r)
                for r in await s.execute(rows(ActivityBlock, ["guild_id", "user_id", "block"]))
            }
            got_last = {
                user: day
                for user, day in await s.execute(select(Member.user_id, Member.last_active_day))
                if day is not None
            }
    finally:
        await db.dispose()
        path.unlink(missing_ok=True)
    differ = {
        "daily rollup rows": len(got_daily ^ expected_daily),
        "weekly rollup rows": len(got_weekly ^ expected_weekly),
        "block rows": len(got_blocks ^ expected_blocks),
        "last active days": len(set(got_last.items()) ^ set(weekly.last_active.items())),
    }
    if any(differ.values()):
        raise SystemExit(f"generator and recorder disagree: {differ}")
    return (
        f"{n:,} events, {len(expected_daily):,} daily and {len(expected_weekly):,} weekly "
        f"rollup rows, {len(expected_blocks):,} blocks"
    )


# -- the same numbers from raw events -------------------------------------------------------------

AE = ActivityEvent


def _offsets(lo: datetime, hi: datetime) -> list[tuple[datetime, int]]:
    """(from instant, UTC offset in seconds) for the guild's zone over [lo, hi)."""
    out: list[tuple[datetime, int]] = []
    moment = lo.replace(minute=0, second=0, microsecond=0)
    while moment < hi + timedelta(hours=1):
        offset = moment.astimezone(TZ).utcoffset()
        seconds = int(offset.total_seconds()) if offset is not None else 0
        if not out or out[-1][1] != seconds:
            out.append((moment, seconds))
        moment += timedelta(hours=1)
    return out


def local_day(dialect: str, lo: datetime, hi: datetime) -> Any:
    if dialect == "postgresql":
        return cast(func.timezone(TZ.key, func.timezone("UTC", AE.occurred_at)), Date)
    # SQLite has no time zones: pick the offset in force from the list of changes.
    changes = _offsets(lo, hi)
    whens = [
        (AE.occurred_at >= at, func.date(AE.occurred_at, f"{off:+d} seconds"))
        for at, off in changes[1:]
    ]
    first = func.date(AE.occurred_at, f"{changes[0][1]:+d} seconds")
    return case(*reversed(whens), else_=first) if whens else first


def block_expr(dialect: str) -> Any:
    if dialect == "postgresql":
        return func.floor(func.extract("epoch", AE.occurred_at) / 600)
    return cast(func.strftime("%s", AE.occurred_at), Integer) // 600


def raw_member_activity(dialect: str, w: metrics.WeekWindows) -> Subquery:
    lo = metrics.local_midnight(w.scan_start, TZ)
    hi = metrics.local_midnight(w.scan_end, TZ)
    day = local_day(dialect, lo, hi)
    active = AE.kind.not_in([int(k) for k in PASSIVE_KINDS])
    talk = AE.kind.in_([MESSAGE, VOICE])

    def days(p_lo: datetime, p_hi: datetime, cond: Any) -> Any:
        inside = and_(AE.occurred_at >= p_lo, AE.occurred_at < p_hi, cond)
        return func.count(func.distinct(case((inside, day))))

    def total(kind: ActivityKind, period: metrics.Period) -> Any:
        inside = and_(AE.kind == int(kind), AE.occurred_at >= period.start_utc)
        return func.sum(case((and_(inside, AE.occurred_at < period.end_utc), AE.amount), else_=0))

    cur, prev = w.current, w.previous
    return (
        select(
            AE.user_id.label("user_id"),
            days(cur.start_utc, cur.end_utc, active).label("cur_days"),
            days(prev.start_utc, prev.end_utc, active).label("prev_days"),
            days(metrics.local_midnight(w.mau_start(cur), TZ), cur.end_utc, active).label(
                "cur_mau"
            ),
            days(metrics.local_midnight(w.mau_start(prev), TZ), prev.end_utc, active).label(
                "prev_mau"
            ),
            days(cur.start_utc, cur.end_utc, talk).label("cur_talk"),
            days(prev.start_utc, prev.end_utc, talk).label("prev_talk"),
            total(ActivityKind.EVENT_ATTENDED, cur).label("cur_events"),
            total(ActivityKind.EVENT_ATTENDED, prev).label("prev_events"),
            total(ActivityKind.REFERRAL_QUALIFIED, cur).label("cur_referrals"),
            total(ActivityKind.REFERRAL_QUALIFIED, prev).label("prev_referrals"),
        )
        .where(AE.guild_id == GUILD, AE.occurred_at >= lo, AE.occurred_at < hi)
        .group_by(AE.user_id)
        .subquery("act")
    )


def raw_member_totals(dialect: str, lo: datetime, hi: datetime) -> Subquery:
    day = local_day(dialect, lo, hi)
    active = AE.kind.not_in([int(k) for k in PASSIVE_KINDS])
    columns = sorted({c for c, _ in metrics.WEIGHT_COLUMNS.values()})
    by_column = {col: int(kind) for kind, col in ROLLUP_COLUMN.items()}
    parts = []
    for column in columns:
        if column == "activity_blocks":
            expr = func.count(func.distinct(case((AE.kind == MESSAGE, block_expr(dialect)))))
        else:
            expr = func.sum(case((AE.kind == by_column[column], AE.amount), else_=0))
        parts.append(expr.label(column))
    return (
        select(
            AE.user_id.label("user_id"),
            func.count(func.distinct(case((active, day)))).label("active_days"),
            *parts,
        )
        .where(AE.guild_id == GUILD, AE.occurred_at >= lo, AE.occurred_at < hi)
        .group_by(AE.user_id)
        .subquery("tot")
    )


Headline = tuple[metrics.PeriodValues, metrics.PeriodValues, tuple[metrics.Contributor, ...]]


async def headline_from_rollups(db: Database) -> Headline:
    async with db.reading() as s:
        m = await metrics.weekly_metrics(s, guild_id=GUILD, now=NOW)
    return m.current, m.previous, m.top_contributors


async def headline_from_raw(db: Database) -> Headline:
    dialect = db.engine.dialect.name
    async with db.reading() as s:
        _tz, weights = await metrics.guild_metric_settings(s, GUILD)
        w = metrics.WeekWindows.of(TZ, NOW, 0)
        current, previous = await metrics.weekly_values(
            s, GUILD, w, metrics.ActivitySource.per_member(raw_member_activity(dialect, w))
        )
        hi = metrics.local_midnight(w.scan_end, TZ)
        totals = raw_member_totals(dialect, w.current.start_utc, hi)
        top = await metrics.contributors_from(s, GUILD, totals, weights, 5)
    return current, previous, top


async def full_set(db: Database) -> None:
    """Everything a weekly digest or /stats server reads."""
    async with db.reading() as s:
        await metrics.weekly_metrics(s, guild_id=GUILD, now=NOW)
        await metrics.cohort_table(s, guild_id=GUILD, now=NOW, weeks=8)
        await metrics.drifting_members(s, guild_id=GUILD, now=NOW, limit=10)
        await metrics.new_and_promising(s, guild_id=GUILD, now=NOW, limit=10)


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, Any]:
    result = await fn()  # warm-up (and the value to check)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


# -- running and reporting -------------------------------------------------------------------------


@dataclass
class Measured:
    set_ms: float
    rollup_ms: float
    raw_ms: float
    same: bool
    parts: str
    digest_ms: float = 0.0
    chart_ms: float = 0.0


@dataclass
class Row(Measured):
    backend: str = ""
    version: str = ""
    members: int = 0
    events: int = 0
    rollups: int = 0
    generate_s: float = 0.0

    def markdown(self) -> str:
        return (
            f"| {self.backend} {self.version} | {self.members:,} | {self.events:,} "
            f"| {self.rollups:,} | {self.generate_s:.0f} s | {self.set_ms:.1f} ms "
            f"| {self.rollup_ms:.1f} ms | {self.raw_ms:,.0f} ms "
            f"| {self.raw_ms / self.rollup_ms:,.0f}× | {'yes' if self.same else '**NO**'} "
            f"| {self.parts} | {self.digest_ms:.0f} ms | {self.chart_ms:.0f} ms |"
        )


async def measure(db: Database, runs: int, raw_runs: int) -> Measured:
    set_ms, _ = await timed(lambda: full_set(db), runs)
    rollup_ms, from_rollups = await timed(lambda: headline_from_rollups(db), runs)
    raw_ms, from_raw = await timed(lambda: headline_from_raw(db), raw_runs)
    same = from_rollups == from_raw
    if not same:
        print("MISMATCH\n rollups:", from_rollups, "\n raw:    ", from_raw)
    parts = []
    for name, fn in PARTS.items():
        ms, _ = await timed(lambda fn=fn: one(db, fn), runs)  # type: ignore[misc]
        parts.append(f"{name} {ms:.0f}")
    digest_ms, built = await timed(lambda: build_digest(db), runs)
    chart_ms, png = await timed(lambda: asyncio.to_thread(render_chart, built), runs)
    assert png.startswith(b"\x89PNG")
    return Measured(set_ms, rollup_ms, raw_ms, same, " · ".join(parts), digest_ms, chart_ms)


async def build_digest(db: Database) -> Any:
    """The whole weekly digest (numbers, lists, series, cohorts) for last week, as sent."""
    async with db.reading() as s:
        return await digest.build_digest(s, guild_id=GUILD, now=NOW, weeks_ago=1)


def render_chart(built: Any) -> bytes:
    return digest_render.chart(built, "Bench guild")


async def one(db: Database, fn: Callable[..., Awaitable[Any]]) -> None:
    async with db.reading() as s:
        await fn(s, guild_id=GUILD, now=NOW)


PARTS: dict[str, Callable[..., Awaitable[Any]]] = {
    "cohorts": metrics.cohort_table,
    "drifting": metrics.drifting_members,
    "new": metrics.new_and_promising,
}


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def run_sqlite(args: argparse.Namespace, gen: Generator) -> Row:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"metrics_{args.members}_{args.events}_{args.weeks}.db"
    remove_sqlite(path)
    url = f"sqlite+aiosqlite:///{path}"
    started = time.perf_counter()
    db = Database.from_engine(create_engine(url))
    await upgrade(db.engine)
    await prepare(db, gen)
    await db.dispose()
    events, rollups = await asyncio.to_thread(load_sqlite, path, gen)
    generate_s = time.perf_counter() - started
    print(f"SQLite: generated {events:,} events, {rollups:,} rollup rows in {generate_s:.0f} s")
    db = Database.from_engine(create_engine(url))
    try:
        measured = await measure(db, args.runs, args.raw_runs)
    finally:
        await db.dispose()
    if not args.keep:
        remove_sqlite(path)
    return row_of(measured, "SQLite", sqlite3.sqlite_version, args, events, rollups, generate_s)


def row_of(
    measured: Measured,
    backend: str,
    version: str,
    args: argparse.Namespace,
    events: int,
    rollups: int,
    generate_s: float,
) -> Row:
    return Row(
        **vars(measured),
        backend=backend,
        version=version,
        members=args.members,
        events=events,
        rollups=rollups,
        generate_s=generate_s,
    )


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def run_postgres(args: argparse.Namespace, gen: Generator) -> Row:
    admin = metrics_url = args.postgres
    name = f"hearth_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_dsn(admin))
    try:
        version = str(await conn.fetchval("SHOW server_version")).split()[0]
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    metrics_url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        started = time.perf_counter()
        db = Database.from_engine(create_engine(metrics_url))
        await upgrade(db.engine)
        await prepare(db, gen)
        await db.dispose()
        events, rollups = await load_postgres(_dsn(metrics_url), gen)
        generate_s = time.perf_counter() - started
        print(
            f"PostgreSQL: generated {events:,} events, {rollups:,} rollup rows "
            f"in {generate_s:.0f} s"
        )
        db = Database.from_engine(create_engine(metrics_url))
        try:
            measured = await measure(db, args.runs, args.raw_runs)
        finally:
            await db.dispose()
    finally:
        if args.keep:
            print(f"kept {metrics_url}")
        else:
            conn = await asyncpg.connect(_dsn(admin))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
    return row_of(measured, "PostgreSQL", version, args, events, rollups, generate_s)


START, END = "<!-- metrics-bench:start -->", "<!-- metrics-bench:end -->"
HEADER = (
    "| Backend | Members | Events | Rollup rows | Generate | Weekly set (rollups) "
    "| weekly_metrics (rollups) | same from raw events | Speed-up | Same numbers "
    "| Other parts of the set (ms) | Digest built | Digest chart |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|"
)


def write_results(rows: list[Row], args: argparse.Namespace, checked: str) -> None:
    kept: dict[str, str] = {}
    for line in read_section(START, END).splitlines():
        match = re.match(r"\| (SQLite|PostgreSQL) ", line)
        if match:
            kept[match.group(1)] = line
    for row in rows:
        kept[row.backend] = row.markdown()
    body = "\n".join(
        [
            START,
            "## Metrics: weekly set from rollups vs raw events (`bench/metrics_bench.py`)",
            "",
            f"Machine: {machine()}.",
            "",
            "Reproduce: `.venv/bin/python -m bench.metrics_bench --members "
            f"{args.members} --events {args.events} --weeks {args.weeks} "
            "--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test`",
            "",
            "One guild in Europe/Berlin (the span holds the 2026-10-25 DST change), uneven "
            "activity (Pareto rates, a third never active, 8% drifting, newcomers, leavers, "
            "bots, opt-outs). *Generate* is the whole data set: schema, members, raw events, "
            "blocks and rollups, written in bulk (executemany / COPY) exactly as the recorder "
            f"would write them (checked each run through the real recorder: {checked}). "
            "*Digest built* = `services.digest.build_digest` for last week, everything the "
            "creator's DM shows except the chart (targets: <= 200 ms); *Digest chart* = its PNG "
            "(target <= 1 s). "
            "*Weekly set* = `weekly_metrics` (this week and last, top 5) + `cohort_table` "
            "(8 weeks) + `drifting_members` + `new_and_promising`. *weekly_metrics* vs *raw*: "
            "the same headline numbers and top contributors, once from rollups, once with "
            "GROUP BYs over `activity_event`; *Same numbers* compares the two results in full. "
            f"Medians of {args.runs} runs (raw: {args.raw_runs}) after one warm-up. SQLite "
            "without ANALYZE (Hearth never runs it); PostgreSQL analysed after the load, as "
            "autovacuum would.",
            "",
            HEADER,
            *[kept[b] for b in ("SQLite", "PostgreSQL") if b in kept],
            END,
        ]
    )
    write_section(START, END, body)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--postgres", help="an admin URL; a throwaway database is made next to it")
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--raw-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the data (SQLite file, database)")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    if args.weeks < 5:
        parser.error("--weeks must be at least 5 (the metric set reads five weeks back)")

    DATA.mkdir(parents=True, exist_ok=True)
    checked = await verify_generator(DATA)
    print(f"generator == recorder on a sample: {checked}")
    gen = Generator(args.members, args.events, args.weeks, seed=args.seed)
    rows = []
    if not args.no_sqlite:
        rows.append(await run_sqlite(args, gen))
    if args.postgres:
        rows.append(await run_postgres(args, gen))
    print()
    print(HEADER)
    for row in rows:
        print(row.markdown())
    if not args.no_write:
        write_results(rows, args, checked)
    if not all(r.same for r in rows):
        raise SystemExit("rollups and raw events disagree")
    slow = [r for r in rows if r.backend == "SQLite" and r.set_ms > 100]
    if slow:
        print(f"NOTE: SQLite weekly set took {slow[0].set_ms:.0f} ms (> 100 ms target)")
    if any(r.raw_ms / r.rollup_ms < 10 for r in rows):
        print("NOTE: speed-up below the 10x target")


if __name__ == "__main__":
    asyncio.run(main())
