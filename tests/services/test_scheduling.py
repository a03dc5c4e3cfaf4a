"""Scheduled actions on SQLite and PostgreSQL: due work runs once, late work follows its
kind's policy, failures retry with backoff, lapsed leases are re-claimed."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from models import ActionStatus, Database, ScheduledAction, create_engine
from services.scheduling import (
    Action,
    ActionRegistry,
    ActionTicker,
    LatePolicy,
    cancel_actions,
    reschedule_action,
    schedule_action,
    scheduler_health,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


async def add(db: Database, key: str, due: datetime, kind: str = "test", **kw: object) -> bool:
    async with db.writing() as s:
        return await schedule_action(s, kind=kind, key=key, due_at=due, now=T0, **kw)  # type: ignore[arg-type]


async def statuses(db: Database) -> dict[str, str]:
    async with db.reading() as s:
        rows = (
            await s.execute(select(ScheduledAction.idempotency_key, ScheduledAction.status))
        ).all()
    return {k: st for k, st in rows}


def recording_registry(kind: str = "test", **kw: object) -> tuple[ActionRegistry, list[Action]]:
    registry = ActionRegistry()
    ran: list[Action] = []

    async def handler(action: Action) -> None:
        ran.append(action)

    registry.register(kind, handler, **kw)  # type: ignore[arg-type]
    return registry, ran


async def test_scheduling_is_idempotent(db: Database) -> None:
    assert await add(db, "poll:close:1", T0)
    assert not await add(db, "poll:close:1", T0 + timedelta(hours=1))
    async with db.reading() as s:
        assert await s.scalar(select(func.count()).select_from(ScheduledAction)) == 1
        assert await s.scalar(select(ScheduledAction.due_at)) == T0


async def test_due_actions_run_once_and_future_ones_wait(db: Database) -> None:
    clock = Clock()
    registry, ran = recording_registry()
    await add(db, "past", T0 - timedelta(hours=3), entity_id=7, guild_id=42, payload={"a": 1})
    await add(db, "now", T0)
    await add(db, "future", T0 + timedelta(minutes=5))
    ticker = ActionTicker(db, registry, worker_id="w1", clock=clock)

    assert await ticker.run_due() == 2
    assert sorted(a.idempotency_key for a in ran) == ["now", "past"]
    past = next(a for a in ran if a.idempotency_key == "past")
    assert (past.guild_id, past.entity_id, past.payload, past.attempts) == (42, 7, {"a": 1}, 1)
    assert await ticker.run_due() == 0  # nothing runs twice

    clock.advance(minutes=5)
    assert await ticker.run_due() == 1
    assert await statuses(db) == {"past": "done", "now": "done", "future": "done"}


async def test_actions_due_while_the_bot_was_stopped_run_at_start(db: Database) -> None:
    # Scheduled by one "process", which then stops before the action is due.
    await add(db, "reminder", T0 + timedelta(minutes=1))
    # A new process starts two hours later and catches up at once.
    registry, ran = recording_registry()
    later = ActionTicker(db, registry, worker_id="restarted", clock=Clock(T0 + timedelta(hours=2)))
    assert await later.run_due() == 1
    assert [a.idempotency_key for a in ran] == ["reminder"]


async def test_late_policy_skip_and_coalesce(db: Database) -> None:
    clock = Clock(T0 + timedelta(hours=1))
    registry = ActionRegistry()
    ran: list[str] = []

    async def handler(action: Action) -> None:
        ran.append(action.idempotency_key)

    registry.register(
        "remind", handler, late_policy=LatePolicy.SKIP, late_after=timedelta(minutes=10)
    )
    registry.register("refresh", handler, late_policy=LatePolicy.COALESCE)
    await add(db, "remind-stale", T0, kind="remind")  # an hour late: pointless now
    await add(db, "remind-fresh", T0 + timedelta(minutes=55), kind="remind")
    for i in range(3):
        await add(db, f"refresh-{i}", T0 + timedelta(minutes=i), kind="refresh", entity_id=5)
    await add(db, "refresh-other", T0, kind="refresh", entity_id=6)

    await ActionTicker(db, registry, worker_id="w", clock=clock).run_due()

    assert sorted(ran) == ["refresh-2", "refresh-other", "remind-fresh"]
    st = await statuses(db)
    assert st["remind-stale"] == st["refresh-0"] == st["refresh-1"] == "skipped"


async def test_failures_retry_with_backoff_then_give_up(db: Database) -> None:
    clock = Clock()
    registry = ActionRegistry()
    calls: list[int] = []

    async def flaky(action: Action) -> None:
        calls.append(action.attempts)
        raise RuntimeError("Discord is having a day")

    registry.register("test", flaky)
    await add(db, "flaky", T0, max_attempts=3)
    ticker = ActionTicker(
        db, registry, worker_id="w", clock=clock, backoff_base=timedelta(seconds=10)
    )

    await ticker.run_due()
    assert calls == [1]
    async with db.reading() as s:
        row = await s.scalar(select(ScheduledAction))
    assert row is not None and row.status == "pending" and row.due_at == T0 + timedelta(seconds=10)
    assert row.last_error is not None and "Discord is having a day" in row.last_error

    clock.advance(seconds=9)
    assert await ticker.run_due() == 0  # not before the backoff
    clock.advance(seconds=1)
    await ticker.run_due()
    clock.advance(seconds=20)  # second backoff doubles
    await ticker.run_due()
    assert calls == [1, 2, 3]
    assert (await statuses(db))["flaky"] == "failed"
    clock.advance(hours=1)
    assert await ticker.run_due() == 0


async def test_a_handler_killed_mid_run_is_retried_after_its_lease_expires(db: Database) -> None:
    clock = Clock()
    started = asyncio.Event()
    registry = ActionRegistry()
    ran: list[str] = []

    async def hangs(action: Action) -> None:
        started.set()
        await asyncio.Event().wait()

    registry.register("test", hangs)
    await add(db, "job", T0)
    # Worker A claims the job, then "dies": its handler never completes and never reports.
    dead = ActionTicker(db, registry, worker_id="A", clock=clock, lease=timedelta(minutes=2))
    assert await dead.tick() == 1
    await started.wait()
    assert (await statuses(db))["job"] == "running"
    dead_task = next(iter(dead._running))

    registry2, ran2 = recording_registry()
    survivor = ActionTicker(db, registry2, worker_id="B", clock=clock, lease=timedelta(minutes=2))
    assert await survivor.run_due() == 0  # lease still held by A
    clock.advance(minutes=2, seconds=1)
    assert await survivor.run_due() == 1
    assert [a.attempts for a in ran2] == [2]
    assert (await statuses(db))["job"] == "done"
    del ran

    # A's late completion cannot overwrite B's (fenced by attempt number).
    dead_task.cancel()
    await asyncio.gather(dead_task, return_exceptions=True)
    async with db.reading() as s:
        row = await s.scalar(select(ScheduledAction))
    assert row is not None and row.status == "done" and row.claimed_by == "B"


async def test_the_ticker_never_blocks_the_event_loop(db: Database) -> None:
    """tick() claims and returns while handlers are still running; the loop stays free."""
    clock = Clock()
    gate = asyncio.Event()
    entered: list[int] = []
    registry = ActionRegistry()

    async def slow(action: Action) -> None:
        entered.append(action.id)
        await gate.wait()

    registry.register("test", slow)
    for i in range(5):
        await add(db, f"slow-{i}", T0)
    ticker = ActionTicker(db, registry, worker_id="w", clock=clock, concurrency=3)
    assert await ticker.tick() == 3  # returns although all three handlers are blocked
    assert await ticker.tick() == 0  # at capacity: claims nothing more, still returns
    await asyncio.sleep(0)
    assert len(entered) == 3
    gate.set()  # only possible because tick() gave the loop back
    await ticker.run_due()
    assert set((await statuses(db)).values()) == {"done"}


async def test_cancel_reschedule_and_health(db: Database) -> None:
    clock = Clock()
    registry, ran = recording_registry()
    await add(db, "a", T0 - timedelta(minutes=5), entity_id=1)
    await add(db, "b", T0, entity_id=2)
    await add(db, "c", T0 + timedelta(hours=1), entity_id=3)
    async with db.writing() as s:
        assert await cancel_actions(s, now=T0, entity_id=2) == 1
        assert await reschedule_action(s, key="c", due_at=T0 - timedelta(seconds=1))
    with pytest.raises(ValueError):
        async with db.writing() as s:
            await cancel_actions(s, now=T0)
    async with db.reading() as s:
        health = await scheduler_health(s, now=T0)
    assert (health.pending, health.overdue, health.failed) == (2, 1, 0)
    assert health.next_due_at == T0 - timedelta(minutes=5)
    await ActionTicker(db, registry, worker_id="w", clock=clock).run_due()
    assert sorted(a.idempotency_key for a in ran) == ["a", "c"]


async def test_unknown_kind_fails_visibly(db: Database) -> None:
    await add(db, "orphan", T0, kind="nobody-handles-this")
    await ActionTicker(db, ActionRegistry(), worker_id="w", clock=Clock()).run_due()
    assert (await statuses(db))["orphan"] == "failed"


async def test_shard_filter_claims_only_own_guilds(db: Database) -> None:
    def guild_on_shard(shard: int, count: int) -> int:
        return (shard + count * 10) << 22  # (id >> 22) % count == shard

    for shard in range(2):
        await add(db, f"g{shard}", T0, guild_id=guild_on_shard(shard, 2))
    await add(db, "global", T0)
    registry, ran = recording_registry()
    one = ActionTicker(db, registry, worker_id="s1", clock=Clock(), shard_count=2, shard_ids=(1,))
    await one.run_due()
    assert [a.idempotency_key for a in ran] == ["g1"]
    zero = ActionTicker(db, registry, worker_id="s0", clock=Clock(), shard_count=2, shard_ids=(0,))
    await zero.run_due()
    assert sorted(a.idempotency_key for a in ran) == ["g0", "g1", "global"]


async def test_two_tickers_on_one_database_run_1000_actions_once(
    db: Database, database_url: str
) -> None:
    """Two processes' worth of tickers (separate engines and pools) race for the same rows."""
    clock = Clock()
    async with db.writing() as s:
        for i in range(1000):
            await schedule_action(
                s, kind="test", key=f"bulk-{i}", due_at=T0 - timedelta(seconds=i % 7), now=T0
            )
    runs: Counter[str] = Counter()

    def make(worker: str, database: Database) -> ActionTicker:
        registry = ActionRegistry()

        async def handler(action: Action) -> None:
            runs[action.idempotency_key] += 1
            await asyncio.sleep(0)

        registry.register("test", handler)
        return ActionTicker(database, registry, worker_id=worker, clock=clock, concurrency=16)

    other = Database.from_engine(create_engine(database_url))
    try:
        a, b = make("A", db), make("B", other)
        await asyncio.gather(a.run_due(), b.run_due())
    finally:
        await other.dispose()
    assert len(runs) == 1000, "an action was lost"
    assert max(runs.values()) == 1, "an action ran twice"
    async with db.reading() as s:
        rows = (
            await s.execute(
                select(ScheduledAction.claimed_by, func.count()).group_by(
                    ScheduledAction.claimed_by
                )
            )
        ).all()
        done = await s.scalar(
            select(func.count()).where(ScheduledAction.status == ActionStatus.DONE.value)
        )
    assert done == 1000
    assert {w for w, _ in rows} <= {"A", "B"}
