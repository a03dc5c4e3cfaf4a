"""Scheduled actions: everything Hearth must do later is a row, claimed with a lease.

Why not APScheduler's job stores: they need a sync engine (blocking the event loop), drop jobs
that were due while the bot was down, and run jobs twice with two processes (DISCORD-NOTES.md).
APScheduler only provides the heartbeat that calls :meth:`ActionTicker.tick`; the table is the
truth, so a restart, a crash or a second process never loses or doubles an action:

- scheduling is idempotent (a unique key per action);
- claiming is atomic: one UPDATE .. WHERE id IN (SELECT .. FOR UPDATE SKIP LOCKED) ..
  RETURNING (on SQLite the writing transaction is BEGIN IMMEDIATE, which serialises claimers);
- a claim is a lease: a handler that dies mid-run is claimed again once its lease lapses;
- completion is fenced by the attempt number, so a stale worker cannot overwrite a newer run.
Handlers must therefore be idempotent (their side effects guarded by unique keys).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from models import ActionStatus, Database, ScheduledAction, dialect_insert

log = logging.getLogger(__name__)

Handler = Callable[["Action"], Awaitable[None]]


def utcnow() -> datetime:
    return datetime.now(UTC)


class LatePolicy(enum.StrEnum):
    """What to do with an action found later than its due time (the bot was down, say)."""

    RUN = "run"  # run it anyway: closing a poll late is better than never
    SKIP = "skip"  # past ``late_after`` it is pointless: a "starts in 1 hour" reminder
    COALESCE = "coalesce"  # of a backlog for the same entity only the newest runs


@dataclass(frozen=True)
class ActionKind:
    name: str
    handler: Handler
    late_policy: LatePolicy = LatePolicy.RUN
    late_after: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class Action:
    """A claimed action as its handler sees it."""

    id: int
    kind: str
    guild_id: int | None
    entity_id: int | None
    payload: dict[str, Any]
    due_at: datetime
    attempts: int
    max_attempts: int
    idempotency_key: str


class ActionRegistry:
    """Kinds of action and their handlers; cogs register theirs in ``cog_load``."""

    def __init__(self) -> None:
        self._kinds: dict[str, ActionKind] = {}

    def register(
        self,
        name: str,
        handler: Handler,
        *,
        late_policy: LatePolicy = LatePolicy.RUN,
        late_after: timedelta = timedelta(minutes=10),
    ) -> None:
        if name in self._kinds:
            raise ValueError(f"a handler for scheduled action kind {name!r} is already registered")
        self._kinds[name] = ActionKind(name, handler, late_policy, late_after)

    def unregister(self, name: str) -> None:
        self._kinds.pop(name, None)

    def get(self, name: str) -> ActionKind | None:
        return self._kinds.get(name)

    def names(self) -> list[str]:
        return sorted(self._kinds)


async def schedule_action(
    session: AsyncSession,
    *,
    kind: str,
    key: str,
    due_at: datetime,
    now: datetime,
    guild_id: int | None = None,
    entity_id: int | None = None,
    payload: dict[str, Any] | None = None,
    max_attempts: int = 5,
) -> bool:
    """Schedule ``kind`` at ``due_at`` unless an action with ``key`` exists. True if new."""
    values = {
        "kind": kind,
        "idempotency_key": key,
        "due_at": due_at,
        "guild_id": guild_id,
        "entity_id": entity_id,
        "payload": payload,
        "status": ActionStatus.PENDING.value,
        "attempts": 0,
        "max_attempts": max_attempts,
        "created_at": now,
    }
    insert = dialect_insert(session)
    stmt = (
        insert(ScheduledAction)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def reschedule_action(session: AsyncSession, *, key: str, due_at: datetime) -> bool:
    """Move a still-pending action to a new time (an event was edited, say)."""
    result = await session.execute(
        update(ScheduledAction)
        .where(
            ScheduledAction.idempotency_key == key,
            ScheduledAction.status == ActionStatus.PENDING.value,
        )
        .values(due_at=due_at)
    )
    return bool(getattr(result, "rowcount", 0))


async def cancel_actions(
    session: AsyncSession,
    *,
    now: datetime,
    key: str | None = None,
    kind: str | None = None,
    guild_id: int | None = None,
    entity_id: int | None = None,
) -> int:
    """Mark matching pending actions skipped ("cancelled"); returns how many."""
    conditions: list[ColumnElement[bool]] = [ScheduledAction.status == ActionStatus.PENDING.value]
    if key is not None:
        conditions.append(ScheduledAction.idempotency_key == key)
    if kind is not None:
        conditions.append(ScheduledAction.kind == kind)
    if guild_id is not None:
        conditions.append(ScheduledAction.guild_id == guild_id)
    if entity_id is not None:
        conditions.append(ScheduledAction.entity_id == entity_id)
    if len(conditions) == 1:
        raise ValueError("cancel_actions needs at least one of key, kind, guild_id, entity_id")
    result = await session.execute(
        update(ScheduledAction)
        .where(*conditions)
        .values(status=ActionStatus.SKIPPED.value, finished_at=now, last_error="cancelled")
    )
    return int(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class SchedulerHealth:
    pending: int
    overdue: int
    running: int
    failed: int
    next_due_at: datetime | None


async def scheduler_health(
    session: AsyncSession, *, now: datetime, overdue_after: timedelta = timedelta(minutes=1)
) -> SchedulerHealth:
    """Counts for /hearth health: a growing ``overdue`` means nothing is ticking."""
    sa = ScheduledAction
    rows = (await session.execute(select(sa.status, func.count()).group_by(sa.status))).all()
    counts = {status: int(n) for status, n in rows}
    overdue = await session.scalar(
        select(func.count()).where(
            sa.status == ActionStatus.PENDING.value, sa.due_at < now - overdue_after
        )
    )
    next_due = await session.scalar(
        select(func.min(sa.due_at)).where(sa.status == ActionStatus.PENDING.value)
    )
    return SchedulerHealth(
        pending=counts.get(ActionStatus.PENDING.value, 0),
        overdue=int(overdue or 0),
        running=counts.get(ActionStatus.RUNNING.value, 0),
        failed=counts.get(ActionStatus.FAILED.value, 0),
        next_due_at=next_due,
    )


def backoff(attempts: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential backoff: base, 2*base, 4*base ... capped."""
    return min(base * (1 << max(attempts - 1, 0)), cap)


class ActionTicker:
    """Claims due actions and runs their handlers without ever blocking the event loop.

    ``tick()`` only claims and spawns: handlers run as tasks, at most ``concurrency`` at once,
    so a slow handler delays neither the next tick nor anything else on the loop.
    """

    def __init__(
        self,
        db: Database,
        registry: ActionRegistry,
        *,
        worker_id: str,
        clock: Callable[[], datetime] = utcnow,
        concurrency: int = 8,
        lease: timedelta = timedelta(minutes=2),
        backoff_base: timedelta = timedelta(seconds=10),
        backoff_cap: timedelta = timedelta(minutes=30),
        shard_count: int | None = None,
        shard_ids: tuple[int, ...] | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.worker_id = worker_id
        self.clock = clock
        self.concurrency = concurrency
        self.lease = lease
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.shard_count = shard_count
        self.shard_ids = shard_ids
        self.last_tick_at: datetime | None = None
        self.last_tick_error: str | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._tick_lock = asyncio.Lock()

    @property
    def running(self) -> int:
        return len(self._running)

    def _shard_condition(self) -> ColumnElement[bool] | None:
        if self.shard_count is None or self.shard_ids is None:
            return None
        sa = ScheduledAction
        mine = (sa.guild_id.op(">>")(literal_column("22")) % self.shard_count).in_(self.shard_ids)
        if 0 in self.shard_ids:  # guild-less housekeeping goes to shard 0, like DMs
            return or_(sa.guild_id.is_(None), mine)
        return and_(sa.guild_id.is_not(None), mine)

    async def claim(self, limit: int) -> list[Action]:
        """Atomically claim up to ``limit`` due (or lease-lapsed) actions for this worker."""
        now = self.clock()
        sa = ScheduledAction
        due = or_(
            and_(sa.status == ActionStatus.PENDING.value, sa.due_at <= now),
            and_(sa.status == ActionStatus.RUNNING.value, sa.lease_until < now),
        )
        candidates = select(sa.id).where(due)
        shard = self._shard_condition()
        if shard is not None:
            candidates = candidates.where(shard)
        candidates = candidates.order_by(sa.due_at, sa.id).limit(limit)
        candidates = candidates.with_for_update(skip_locked=True)  # ignored on SQLite
        stmt = (
            update(sa)
            .where(sa.id.in_(candidates.scalar_subquery()))
            .values(
                status=ActionStatus.RUNNING.value,
                attempts=sa.attempts + 1,
                lease_until=now + self.lease,
                claimed_by=self.worker_id,
            )
            .returning(
                sa.id,
                sa.kind,
                sa.guild_id,
                sa.entity_id,
                sa.payload,
                sa.due_at,
                sa.attempts,
                sa.max_attempts,
                sa.idempotency_key,
            )
            .execution_options(synchronize_session=False)
        )
        async with self.db.writing() as session:
            rows = (await session.execute(stmt)).all()
        return [
            Action(
                id=r.id,
                kind=r.kind,
                guild_id=r.guild_id,
                entity_id=r.entity_id,
                payload=r.payload or {},
                due_at=r.due_at,
                attempts=r.attempts,
                max_attempts=r.max_attempts,
                idempotency_key=r.idempotency_key,
            )
            for r in sorted(rows, key=lambda r: (r.due_at, r.id))
        ]

    async def tick(self) -> int:
        """Claim what is due and start running it; returns how many were claimed."""
        async with self._tick_lock:
            free = self.concurrency - len(self._running)
            self.last_tick_at = self.clock()
            if free <= 0:
                return 0
            try:
                actions = await self.claim(free)
            except Exception as exc:  # the database may be briefly away; try next tick
                self.last_tick_error = f"{type(exc).__name__}: {exc}"
                log.warning("scheduled-action tick failed: %s", self.last_tick_error)
                return 0
            self.last_tick_error = None
            for action in actions:
                task = asyncio.create_task(self._run(action), name=f"action-{action.kind}")
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            return len(actions)

    async def run_due(self) -> int:
        """Tick until nothing is due, waiting for every handler (start-up catch-up, tests)."""
        total = 0
        while True:
            was_busy = bool(self._running)
            claimed = await self.tick()
            await self.wait_idle()
            total += claimed
            if claimed == 0 and not was_busy:
                return total

    async def wait_idle(self) -> None:
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def close(self, grace: float = 10.0) -> None:
        """Let running handlers finish for ``grace`` seconds, then cancel them.

        A cancelled action's lease is released so it runs again promptly on the next start.
        """
        if not self._running:
            return
        _done, pending = await asyncio.wait(list(self._running), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self, action: Action) -> None:
        kind = self.registry.get(action.kind)
        now = self.clock()
        try:
            if kind is None:
                await self._finish(action, ActionStatus.FAILED, f"no handler for {action.kind!r}")
                log.error("no handler registered for scheduled action kind %r", action.kind)
                return
            if action.attempts > action.max_attempts:
                await self._finish(action, ActionStatus.FAILED, "lease lapsed too many times")
                return
            late_by = now - action.due_at
            if kind.late_policy is LatePolicy.SKIP and late_by > kind.late_after:
                log.info(
                    "skipping %s %s: %s late (limit %s)",
                    action.kind,
                    action.idempotency_key,
                    late_by,
                    kind.late_after,
                )
                await self._finish(action, ActionStatus.SKIPPED, f"late by {late_by}")
                return
            if kind.late_policy is LatePolicy.COALESCE and await self._has_newer(action, now):
                await self._finish(action, ActionStatus.SKIPPED, "coalesced into a newer one")
                return
            await kind.handler(action)
        except asyncio.CancelledError:
            await asyncio.shield(self._release(action))
            raise
        except Exception as exc:
            await self._failed(action, exc)
        else:
            await self._finish(action, ActionStatus.DONE, None)

    async def _has_newer(self, action: Action, now: datetime) -> bool:
        sa = ScheduledAction
        async with self.db.reading() as session:
            newer = await session.scalar(
                select(func.count()).where(
                    sa.kind == action.kind,
                    sa.guild_id == action.guild_id
                    if action.guild_id is not None
                    else sa.guild_id.is_(None),
                    sa.entity_id == action.entity_id
                    if action.entity_id is not None
                    else sa.entity_id.is_(None),
                    sa.id != action.id,
                    sa.due_at <= now,
                    sa.due_at > action.due_at,
                    sa.status.in_([ActionStatus.PENDING.value, ActionStatus.RUNNING.value]),
                )
            )
        return bool(newer)

    def _fenced(self, action: Action) -> ColumnElement[bool]:
        sa = ScheduledAction
        return and_(
            sa.id == action.id,
            sa.status == ActionStatus.RUNNING.value,
            sa.claimed_by == self.worker_id,
            sa.attempts == action.attempts,
        )

    async def _finish(self, action: Action, status: ActionStatus, error: str | None) -> None:
        async with self.db.writing() as session:
            await session.execute(
                update(ScheduledAction)
                .where(self._fenced(action))
                .values(
                    status=status.value,
                    finished_at=self.clock(),
                    lease_until=None,
                    last_error=error,
                )
            )

    async def _failed(self, action: Action, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if action.attempts >= action.max_attempts:
            log.error(
                "scheduled action %s (%s) failed for good after %d attempts",
                action.idempotency_key,
                action.kind,
                action.attempts,
                exc_info=exc,
            )
            await self._finish(action, ActionStatus.FAILED, error)
            return
        retry_at = self.clock() + backoff(
            action.attempts, base=self.backoff_base, cap=self.backoff_cap
        )
        log.warning(
            "scheduled action %s (%s) failed (attempt %d of %d), retrying at %s: %s",
            action.idempotency_key,
            action.kind,
            action.attempts,
            action.max_attempts,
            retry_at.isoformat(),
            error,
        )
        async with self.db.writing() as session:
            await session.execute(
                update(ScheduledAction)
                .where(self._fenced(action))
                .values(
                    status=ActionStatus.PENDING.value,
                    due_at=retry_at,
                    lease_until=None,
                    claimed_by=None,
                    last_error=error,
                )
            )

    async def _release(self, action: Action) -> None:
        try:
            async with self.db.writing() as session:
                await session.execute(
                    update(ScheduledAction)
                    .where(self._fenced(action))
                    .values(status=ActionStatus.PENDING.value, lease_until=None, claimed_by=None)
                )
        except Exception:  # shutting down; the lease will lapse on its own
            log.warning("could not release %s on shutdown", action.idempotency_key)
