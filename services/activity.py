"""Recording participation: buffered, batched, exact, and bounded in memory.

Gateway handlers call :meth:`ActivityRecorder.put` with a small record (never message
content). Records wait in a bounded buffer and are written in one transaction per batch:

1. raw events (one executemany straight through the driver: see :func:`insert_raw_events`);
2. activity blocks (10-minute intervals with a message) inserted ON CONFLICT DO NOTHING ..
   RETURNING, so a block counts once even across batches and restarts;
3. daily per-member rollups upserted with ``col = col + excluded.col`` .. RETURNING the new
   totals: a day whose active (or talk) counters now equal what this batch added became an
   active (or talking) day just now — every record counts at least 1, so a counter that was
   0 before is exactly the batch's delta;
4. weekly per-member rollups (the week's Monday, local) upserted the same way, with those
   newly active and talking days added to ``active_days`` and ``talk_days``;
5. each member's ``last_active_day`` moved forward.

With a ``writer`` (services.activity_writer.ProcessWriter, the default in production) the
same ``_write`` runs in a process of its own; each batch carries an id written in the same
transaction (``activity_batch``), so a retried batch is never written twice.

The buffer is flushed at least every ``flush_interval`` seconds, when it reaches
``batch_size``, and on close (SIGTERM loses nothing; a hard kill loses at most the unflushed
second). When it holds ``max_buffer`` records, ``put`` waits for a flush: a burst slows the
handlers down instead of growing memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Table, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    ACTIVE_COUNTERS,
    PASSIVE_KINDS,
    ROLLUP_COLUMN,
    TALK_COUNTERS,
    ActivityBatch,
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
    dialect_insert,
)
from models.types import as_date

log = logging.getLogger(__name__)

BLOCK_SECONDS = 600
# Core tables, not ORM entities: an upsert through Core skips the ORM's per-row bookkeeping.
EVENT_TABLE = cast(Table, ActivityEvent.__table__)
MEMBERSHIP_TABLE = cast(Table, MembershipEvent.__table__)
ROLLUP_COUNTERS = sorted(set(ROLLUP_COLUMN.values()) | {"activity_blocks"})
DAILY_TABLE = cast(Table, ActivityDaily.__table__)
BLOCK_TABLE = cast(Table, ActivityBlock.__table__)
WEEKLY_TABLE = cast(Table, ActivityWeekly.__table__)
MEMBER_TABLE = cast(Table, Member.__table__)
WEEKLY_COUNTERS = [*ROLLUP_COUNTERS, "active_days", "talk_days"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class ActivityRecord(NamedTuple):
    """One sign of participation. A NamedTuple, not a frozen dataclass: one is built per
    gateway event, and a tuple is built four times faster."""

    guild_id: int
    user_id: int
    kind: ActivityKind
    occurred_at: datetime
    channel_id: int | None = None
    amount: int = 1


class MembershipRecord(NamedTuple):
    guild_id: int
    user_id: int
    kind: MembershipKind
    occurred_at: datetime
    is_bot: bool = False


Record = ActivityRecord | MembershipRecord


def block_of(moment: datetime) -> int:
    return int(moment.timestamp()) // BLOCK_SECONDS


EVENT_COLUMNS = ("guild_id", "user_id", "kind", "channel_id", "occurred_at", "amount")
PLACEHOLDERS = {
    "qmark": lambda n: ", ".join("?" * n),
    "numeric_dollar": lambda n: ", ".join(f"${i}" for i in range(1, n + 1)),
}


async def insert_raw_events(session: AsyncSession, records: list[ActivityRecord]) -> None:
    """Raw events in one executemany straight through the driver.

    The one place Hearth writes below SQLAlchemy Core, and why: it is the only per-event
    write, and Core's per-row parameter processing (the UTC datetime type, then SQLite's
    datetime formatting) cost more than the database's own insert (bench/ingest.py). Values
    are stored exactly as ``UTCDateTime`` stores them: naive UTC, which SQLite keeps as
    ``YYYY-MM-DD HH:MM:SS.ffffff`` text; a test reads them back through the ORM.
    """
    connection = await session.connection()
    dialect = connection.dialect
    sql = (
        f"INSERT INTO {EVENT_TABLE.name} ({', '.join(EVENT_COLUMNS)}) "
        f"VALUES ({PLACEHOLDERS[dialect.paramstyle](len(EVENT_COLUMNS))})"
    )
    as_text = dialect.name == "sqlite"
    rows = []
    for r in records:
        at = r.occurred_at
        if at.tzinfo is not UTC:
            if at.tzinfo is None:
                raise ValueError("naive occurred_at; activity times must be aware")
            at = at.astimezone(UTC)
        naive = at.replace(tzinfo=None)
        stored = naive.isoformat(" ", "microseconds") if as_text else naive
        rows.append((r.guild_id, r.user_id, int(r.kind), r.channel_id, stored, r.amount))
    await connection.exec_driver_sql(sql, rows)


class ActivityRecorder:
    """The one way activity reaches the database (see module docstring)."""

    def __init__(
        self,
        db: Database,
        *,
        batch_size: int = 5_000,
        max_buffer: int = 50_000,
        flush_interval: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        writer: Any | None = None,
    ) -> None:
        self.db = db
        # A ProcessWriter (services.activity_writer) writes batches in a process of its own;
        # None: written here.
        self.writer = writer
        self._tz_names: dict[int, str] = {}  # zones set here, passed on to the writer
        self._pending: tuple[str, int] | None = None  # (id, size) of the batch being written
        self.batch_size = batch_size
        self.max_buffer = max_buffer
        self.flush_interval = flush_interval
        self.clock = clock
        self._buffer: list[Record] = []
        self._waiters: deque[asyncio.Future[None]] = deque()  # put() calls waiting for space
        self._closing = False
        self._reserved = 0  # slots handed to waiters that have not appended yet
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._timezones: dict[int, ZoneInfo] = {}
        self._opted_out: set[tuple[int, int]] = set()
        self.recorded = 0  # records written since start (for health and benchmarks)
        self.last_error: str | None = None

    # -- configuration -------------------------------------------------------------------------

    async def load_exclusions(self) -> None:
        """Read who opted out of tracking, so their activity is never recorded."""
        async with self.db.reading() as session:
            rows = await session.execute(
                select(Member.guild_id, Member.user_id).where(Member.tracking_opt_out.is_(True))
            )
            self._opted_out = {(g, u) for g, u in rows}

    def set_opt_out(self, guild_id: int, user_id: int, opted_out: bool) -> None:
        if opted_out:
            self._opted_out.add((guild_id, user_id))
        else:
            self._opted_out.discard((guild_id, user_id))

    def is_excluded(self, guild_id: int, user_id: int) -> bool:
        return (guild_id, user_id) in self._opted_out

    def set_timezone(self, guild_id: int, tz: ZoneInfo) -> None:
        self._timezones[guild_id] = tz
        self._tz_names[guild_id] = tz.key

    # -- producing -----------------------------------------------------------------------------

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def offer(self, record: Record) -> bool:
        """Queue a record if there is room, without waiting; False when the buffer is full
        (then ``await put(record)``). Gateway handlers call this first: no coroutine per
        event in the common case.

        Activity of members who opted out is dropped, and so is a record of nothing
        (``amount`` < 1): every stored record adds at least 1 to a counter, which is what
        tells the recorder when a day becomes active. Both count as taken."""
        if isinstance(record, ActivityRecord) and (
            record.amount < 1 or self.is_excluded(record.guild_id, record.user_id)
        ):
            return True
        if self._waiters or len(self._buffer) + self._reserved >= self.max_buffer:
            return False
        self._buffer.append(record)
        if len(self._buffer) >= self.batch_size:
            self._wake.set()
        return True

    async def put(self, record: Record) -> None:
        """Queue a record; waits (backpressure) while the buffer is full (see :meth:`offer`)."""
        if self.offer(record):
            return
        # Full: wait in line (FIFO). A flush hands each freed slot to one waiter; nobody
        # re-checks a full buffer, so tens of thousands of waiting handlers cost one
        # future each, not a scramble after every flush.
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake.set()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._reserved -= 1  # handed a slot, then cancelled: give it back
                self._hand_out_space()
            raise
        self._reserved -= 1
        self._buffer.append(record)
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    async def put_many(self, records: Iterable[Record]) -> None:
        for record in records:
            await self.put(record)

    # -- consuming -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.load_exclusions()
        if self.writer is not None:
            await self.writer.start()
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="activity-recorder")

    async def close(self) -> None:
        """Stop the background flusher, then write everything still buffered — and the
        records of handlers still waiting for room.

        The flusher is asked to stop, not cancelled: cancelling it while a batch commits could
        leave the batch both written and still buffered, to be written twice."""
        if self._task is not None:
            self._closing = True
            self._wake.set()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        while self._buffer or self._waiters or self._reserved:
            if self._buffer:
                if await self.flush() == 0 and self._buffer:
                    log.error("could not write %d activity records on close", len(self._buffer))
                    return
            else:
                self._hand_out_space()
                await asyncio.sleep(0)  # handlers handed a slot put their record in
        if self.writer is not None:
            await self.writer.close()

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            while self._buffer and not self._closing:
                if await self.flush() == 0:
                    break  # the database is away; keep the records and try again later

    async def flush(self) -> int:
        """Write up to ``batch_size`` buffered records in one transaction; returns how many."""
        async with self._flush_lock:
            # A batch that failed is retried as the same batch (same records, same id), so a
            # write whose outcome was unknown is not written twice.
            if self._pending is None:
                size = min(len(self._buffer), self.batch_size)
                self._pending = (uuid.uuid4().hex, size) if size else None
            if self._pending is None:
                self._hand_out_space()
                return 0
            batch_id, size = self._pending
            batch = self._buffer[:size]
            try:
                await self._write(batch, batch_id)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("writing %d activity records failed; will retry", len(batch))
                return 0
            self._pending = None
            del self._buffer[: len(batch)]
            self.recorded += len(batch)
            self.last_error = None
        self._hand_out_space()
        return len(batch)

    def _hand_out_space(self) -> None:
        """Give free buffer slots to waiting put() calls, first come first served."""
        free = self.max_buffer - len(self._buffer) - self._reserved
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a cancelled waiter gives its turn away
                waiter.set_result(None)
                self._reserved += 1
                free -= 1

    async def _timezone_map(self, session: AsyncSession, guild_ids: set[int]) -> None:
        unknown = guild_ids - self._timezones.keys()
        if unknown:
            rows = await session.execute(
                select(Guild.id, Guild.timezone).where(Guild.id.in_(unknown))
            )
            found = {guild_id: tz for guild_id, tz in rows}
            for guild_id in unknown:
                self._timezones[guild_id] = ZoneInfo(found.get(guild_id, "UTC"))

    def _day(self, guild_id: int, moment: datetime) -> date:
        return moment.astimezone(self._timezones[guild_id]).date()

    async def _write(self, batch: list[Record], batch_id: str) -> None:
        if self.writer is not None:
            if self.writer.alive:
                await self.writer.write(batch, batch_id, dict(self._tz_names))
                return
            log.error("the activity writer process is gone: writing activity in-process")
            self.writer = None
        activity = [r for r in batch if isinstance(r, ActivityRecord)]
        membership = [r for r in batch if isinstance(r, MembershipRecord)]
        async with self.db.writing() as session:
            first_time = await session.execute(
                dialect_insert(session)(ActivityBatch)
                .values(id=batch_id, written_at=self.clock())
                .on_conflict_do_nothing(index_elements=["id"])
            )
            if not getattr(first_time, "rowcount", 1):
                log.warning("activity batch %s was already written; skipped", batch_id)
                return
            await self._timezone_map(session, {r.guild_id for r in batch})
            # Membership first: a newcomer's member row exists before their first message
            # of the same batch moves its last_active_day.
            if membership:
                await self._write_membership(session, membership)
            if activity:
                await self._write_activity(session, activity)

    async def _write_activity(self, session: AsyncSession, records: list[ActivityRecord]) -> None:
        await insert_raw_events(session, records)
        rollup: dict[tuple[int, int, date], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(ROLLUP_COUNTERS, 0) | {"active": 0}
        )
        blocks: dict[tuple[int, int, int], date] = {}
        days: dict[tuple[int, int], date] = {}  # (guild, second) -> local day: bursts share seconds
        for r in records:
            second = int(r.occurred_at.timestamp())
            day = days.get((r.guild_id, second))
            if day is None:
                day = days[(r.guild_id, second)] = self._day(r.guild_id, r.occurred_at)
            row = rollup[(r.guild_id, r.user_id, day)]
            row[ROLLUP_COLUMN[r.kind]] += r.amount
            if r.kind not in PASSIVE_KINDS:
                row["active"] = 1
            if r.kind is ActivityKind.MESSAGE:
                blocks.setdefault((r.guild_id, r.user_id, second // BLOCK_SECONDS), day)
        if blocks:
            insert = dialect_insert(session)
            b = BLOCK_TABLE.c
            stmt = (
                insert(BLOCK_TABLE)
                .on_conflict_do_nothing()
                .returning(b.guild_id, b.user_id, b.block)
            )
            result = await session.execute(
                stmt, [{"guild_id": g, "user_id": u, "block": b} for g, u, b in blocks]
            )
            for g, u, b in result:
                rollup[(g, u, blocks[(g, u, b)])]["activity_blocks"] += 1
        await self._upsert_rollups(session, rollup)

    async def _upsert_rollups(
        self, session: AsyncSession, rollup: dict[tuple[int, int, date], dict[str, int]]
    ) -> None:
        insert = dialect_insert(session)
        greatest = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
        daily = insert(DAILY_TABLE)
        t = DAILY_TABLE.c
        active_total = sum((t[c] for c in ACTIVE_COUNTERS[1:]), t[ACTIVE_COUNTERS[0]])
        talk_total = t[TALK_COUNTERS[0]] + t[TALK_COUNTERS[1]]
        daily = daily.on_conflict_do_update(
            index_elements=["guild_id", "user_id", "day"],
            set_={
                **{c: t[c] + daily.excluded[c] for c in ROLLUP_COUNTERS},
                "active": greatest(t.active, daily.excluded.active),
            },
        ).returning(t.guild_id, t.user_id, t.day, active_total, talk_total)
        totals = await session.execute(
            daily,
            [
                {"guild_id": g, "user_id": u, "day": d, **counters}
                for (g, u, d), counters in rollup.items()
            ],
        )
        weekly: dict[tuple[int, date, int], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(WEEKLY_COUNTERS, 0)
        )
        for (g, u, d), counters in rollup.items():
            row = weekly[(g, d - timedelta(days=d.weekday()), u)]
            for c in ROLLUP_COUNTERS:
                row[c] += counters[c]
        last_active: dict[tuple[int, int], date] = {}
        for g, u, d, active_now, talk_now in totals:
            d = as_date(d)
            counters = rollup[(g, u, d)]
            added = sum(counters[c] for c in ACTIVE_COUNTERS)
            talked = sum(counters[c] for c in TALK_COUNTERS)
            row = weekly[(g, d - timedelta(days=d.weekday()), u)]
            if added and active_now == added:
                row["active_days"] += 1
            if talked and talk_now == talked:
                row["talk_days"] += 1
            if added and d > last_active.get((g, u), date.min):
                last_active[(g, u)] = d
        stmt = insert(WEEKLY_TABLE)
        w = WEEKLY_TABLE.c
        stmt = stmt.on_conflict_do_update(
            index_elements=["guild_id", "week", "user_id"],
            set_={c: w[c] + stmt.excluded[c] for c in WEEKLY_COUNTERS},
        )
        await session.execute(
            stmt,
            [
                {"guild_id": g, "week": wk, "user_id": u, **counters}
                for (g, wk, u), counters in weekly.items()
            ],
        )
        if last_active:
            m = MEMBER_TABLE.c
            await session.execute(
                update(MEMBER_TABLE)
                .where(m.guild_id == bindparam("g"), m.user_id == bindparam("u"))
                .where(or_(m.last_active_day.is_(None), m.last_active_day < bindparam("d")))
                .values(last_active_day=bindparam("d", type_=Date())),
                [{"g": g, "u": u, "d": d} for (g, u), d in last_active.items()],
            )

    async def _write_membership(
        self, session: AsyncSession, records: list[MembershipRecord]
    ) -> None:
        await session.execute(
            MEMBERSHIP_TABLE.insert(),
            [
                {
                    "guild_id": r.guild_id,
                    "user_id": r.user_id,
                    "kind": int(r.kind),
                    "occurred_at": r.occurred_at,
                }
                for r in records
            ],
        )
        now = self.clock()
        insert = dialect_insert(session)
        for r in sorted(records, key=lambda r: r.occurred_at):
            await ensure_guild_row(session, r.guild_id, now)
            joined = r.kind is MembershipKind.JOINED
            stmt = insert(Member).values(
                guild_id=r.guild_id,
                user_id=r.user_id,
                joined_at=r.occurred_at if joined else None,
                first_joined_at=r.occurred_at if joined else None,
                left_at=None if joined else r.occurred_at,
                is_bot=r.is_bot,
                created_at=now,
                updated_at=now,
            )
            changes: dict[str, Any] = {"updated_at": now}
            if joined:
                changes |= {
                    "joined_at": r.occurred_at,
                    "left_at": None,
                    "first_joined_at": earliest_join(stmt),
                }
            else:
                changes |= {"left_at": r.occurred_at}
            await session.execute(
                stmt.on_conflict_do_update(index_elements=["guild_id", "user_id"], set_=changes)
            )


def earliest_join(stmt: Any) -> Any:
    """ON CONFLICT value of first_joined_at: the earlier of the stored and the new one."""
    stored, new = MEMBER_TABLE.c.first_joined_at, stmt.excluded.first_joined_at
    return case((or_(stored.is_(None), new < stored), new), else_=stored)


async def ensure_guild_row(session: AsyncSession, guild_id: int, now: datetime) -> None:
    insert = dialect_insert(session)
    await session.execute(
        insert(Guild)
        .values(id=guild_id, name="", timezone="UTC", features={}, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
    )


async def sync_members(
    session: AsyncSession,
    *,
    guild_id: int,
    members: Iterable[tuple[int, datetime | None, bool]],
    now: datetime,
) -> int:
    """Make sure every current member has a row (start-up: members who joined while Hearth
    was away). ``members`` is (user_id, joined_at, is_bot). Existing rows are left alone
    except that a member seen present is no longer marked as left, and an earlier join than
    the one on record becomes their first join. Returns rows created."""
    insert = dialect_insert(session)
    rows = [
        {
            "guild_id": guild_id,
            "user_id": user_id,
            "joined_at": joined_at,
            "first_joined_at": joined_at,
            "left_at": None,
            "is_bot": is_bot,
            "created_at": now,
            "updated_at": now,
        }
        for user_id, joined_at, is_bot in members
    ]
    if not rows:
        return 0
    before = await session.scalar(
        select(func.count()).select_from(Member).where(Member.guild_id == guild_id)
    )
    stmt = insert(Member)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["guild_id", "user_id"],
            set_={"left_at": None, "first_joined_at": earliest_join(stmt)},
        ),
        rows,
    )
    after = await session.scalar(
        select(func.count()).select_from(Member).where(Member.guild_id == guild_id)
    )
    # Activity recorded before a member had a row (a message in the moments between READY
    # and this sync) could not move their last_active_day; catch up from the rollups.
    d = ActivityDaily
    mine = and_(d.guild_id == Member.guild_id, d.user_id == Member.user_id, d.active == 1)
    await session.execute(
        update(Member)
        .where(Member.guild_id == guild_id, Member.last_active_day.is_(None))
        .where(select(d.day).where(mine).exists())
        .values(last_active_day=select(func.max(d.day)).where(mine).scalar_subquery())
    )
    return int(after or 0) - int(before or 0)


async def set_tracking_opt_out(
    session: AsyncSession, *, guild_id: int, user_id: int, opted_out: bool, now: datetime
) -> None:
    """Record a member's choice; their activity stops being recorded from now on."""
    await ensure_guild_row(session, guild_id, now)
    insert = dialect_insert(session)
    await session.execute(
        insert(Member)
        .values(
            guild_id=guild_id,
            user_id=user_id,
            tracking_opt_out=opted_out,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_update(
            index_elements=["guild_id", "user_id"],
            set_={"tracking_opt_out": opted_out, "updated_at": now},
        )
    )


async def prune_raw_events(session: AsyncSession, *, now: datetime, keep_days: int = 90) -> int:
    """Delete raw events and activity blocks older than ``keep_days``; rollups stay."""
    cutoff = now - timedelta(days=keep_days)
    result = await session.execute(delete(ActivityEvent).where(ActivityEvent.occurred_at < cutoff))
    await session.execute(delete(ActivityBlock).where(ActivityBlock.block < block_of(cutoff)))
    await session.execute(delete(ActivityBatch).where(ActivityBatch.written_at < cutoff))
    return int(getattr(result, "rowcount", 0))


__all__ = [
    "ActivityRecord",
    "ActivityRecorder",
    "MembershipRecord",
    "block_of",
    "prune_raw_events",
    "set_tracking_opt_out",
    "sync_members",
]
