"""The writer process (ACTIVITY_WRITER=process): it writes exactly what the recorder writes
in-process, loses nothing when it dies, and follows the recorder's time zones."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select

from models import (
    ActivityBlock,
    ActivityDaily,
    ActivityEvent,
    ActivityKind,
    ActivityWeekly,
    Database,
    Member,
    MembershipEvent,
    MembershipKind,
)
from services.activity import ActivityRecord, ActivityRecorder, MembershipRecord
from services.activity_writer import ProcessWriter, pack, unpack

G = 100_000_000_000_000_001
T0 = datetime(2026, 10, 24, 20, 0, tzinfo=UTC)  # the Berlin DST change is in the span


def history(n: int = 3_000, seed: int = 3) -> list[ActivityRecord | MembershipRecord]:
    rng = random.Random(seed)
    kinds = [ActivityKind.MESSAGE] * 6 + [
        ActivityKind.REACTION_GIVEN,
        ActivityKind.REACTION_RECEIVED,
        ActivityKind.VOICE,
        ActivityKind.POLL_VOTE,
    ]
    records: list[ActivityRecord | MembershipRecord] = [
        MembershipRecord(G, u, MembershipKind.JOINED, T0 - timedelta(days=3)) for u in range(1, 40)
    ]
    for _ in range(n):
        kind = rng.choice(kinds)
        at = T0 + timedelta(seconds=rng.randint(0, 3 * 86_400), microseconds=rng.randint(0, 999))
        amount = rng.randint(60, 900) if kind is ActivityKind.VOICE else 1
        records.append(ActivityRecord(G, rng.randint(1, 40), kind, at, rng.randint(1, 3), amount))
    return records


async def snapshot(db: Database) -> dict[str, list[tuple[object, ...]]]:
    out: dict[str, list[tuple[object, ...]]] = {}
    async with db.reading() as s:
        for model in (ActivityDaily, ActivityWeekly, ActivityBlock, MembershipEvent):
            rows = (await s.scalars(select(model))).all()
            columns = [c.name for c in model.__table__.columns if c.name != "id"]
            out[model.__tablename__] = sorted(tuple(getattr(r, c) for c in columns) for r in rows)
        events = await s.execute(
            select(
                ActivityEvent.user_id,
                ActivityEvent.kind,
                ActivityEvent.channel_id,
                ActivityEvent.occurred_at,
                ActivityEvent.amount,
            )
        )
        out["activity_event"] = sorted(tuple(r) for r in events)
        members = await s.execute(
            select(Member.user_id, Member.first_joined_at, Member.last_active_day)
        )
        out["member"] = sorted(tuple(r) for r in members)
    return out


async def clear(db: Database) -> None:
    async with db.writing() as s:
        for model in (
            ActivityEvent,
            ActivityBlock,
            ActivityDaily,
            ActivityWeekly,
            MembershipEvent,
            Member,
        ):
            await s.execute(delete(model))


async def record(
    db: Database, records: list[ActivityRecord | MembershipRecord], **kw: object
) -> ActivityRecorder:
    recorder = ActivityRecorder(db, batch_size=700, **kw)  # type: ignore[arg-type]
    recorder.set_timezone(G, ZoneInfo("Europe/Berlin"))
    await recorder.start()
    await recorder.put_many(records)
    await recorder.close()
    return recorder


def test_records_survive_the_trip_exactly() -> None:
    records = history(500)
    assert unpack(pack(records)) == records


async def test_the_writer_process_writes_what_the_recorder_writes(
    db: Database, database_url: str
) -> None:
    records = history()
    await record(db, records, writer=ProcessWriter(database_url))
    through_process = await snapshot(db)
    await clear(db)
    await record(db, records)
    assert through_process == await snapshot(db)
    assert len(through_process["activity_event"]) == 3_000
    # Berlin days, not UTC ones: the zone set on the recorder reached the writer.
    days = {row[2] for row in through_process["activity_daily"]}
    assert date(2026, 10, 27) in days  # 2026-10-26 23:xx UTC is already the 27th in Berlin


async def test_a_dead_writer_loses_nothing(db: Database, database_url: str) -> None:
    records = history(2_000, seed=9)
    writer = ProcessWriter(database_url)
    recorder = ActivityRecorder(db, batch_size=500)
    recorder.writer = writer
    await recorder.start()
    await recorder.put_many(records[:800])
    await recorder.flush()
    assert writer._proc is not None
    writer._proc.kill()  # the writer dies mid-stream
    await writer._proc.wait()
    await recorder.put_many(records[800:])
    await recorder.close()  # the rest is written in-process
    assert recorder.writer is None
    async with db.reading() as s:
        events = await s.scalar(select(func.count()).select_from(ActivityEvent))
    assert events == sum(isinstance(r, ActivityRecord) for r in records)


async def test_a_batch_retried_after_a_lost_acknowledgement_counts_once(db: Database) -> None:
    # The writer committed, then died before saying so: the recorder retries the same batch
    # (same id) in-process, and the retry is skipped.
    records = history(300, seed=5)
    recorder = ActivityRecorder(db)
    recorder.set_timezone(G, ZoneInfo("Europe/Berlin"))
    await recorder._write(records, "batch-1")
    once = await snapshot(db)
    await recorder._write(records, "batch-1")
    assert await snapshot(db) == once
    await recorder._write(records[:10], "batch-2")  # a new batch is written
    assert await snapshot(db) != once
