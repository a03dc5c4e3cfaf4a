"""Debounced edits of a public message (a poll's tallies, an event's RSVP counts).

A rush of clicks must not become a rush of edits (Discord rate-limits message edits per
channel), yet the message must end up exact. ``touch()`` after each committed change: the
first edit after a quiet spell goes at once, later changes within ``interval`` share one edit.
The pending entry is removed *before* the state is read, so a change committed during an edit
schedules another one: the last edit always shows the last change. Edits of one entity, and
any final edit done under :meth:`lock`, never overlap; ``load`` returning None (closed,
cancelled, deleted) skips the edit, so a live update never overwrites a final one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class DebouncedRefresher(Generic[T]):
    def __init__(
        self,
        load: Callable[[int, int], Awaitable[T | None]],
        edit: Callable[[T], Awaitable[None]],
        interval: float = 2.0,
    ) -> None:
        self.load = load
        self.edit = edit
        self.interval = interval
        self._pending: dict[int, asyncio.Task[None]] = {}  # waiting for their turn
        self._tasks: set[asyncio.Task[None]] = set()  # all, waiting or editing
        self._last_edit: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def lock(self, entity_id: int) -> asyncio.Lock:
        return self._locks.setdefault(entity_id, asyncio.Lock())

    def touch(self, guild_id: int, entity_id: int) -> None:
        if entity_id in self._pending:
            return
        loop = asyncio.get_running_loop()
        wait = max(0.0, self._last_edit.get(entity_id, 0.0) + self.interval - loop.time())
        task = asyncio.create_task(self._edit_after(guild_id, entity_id, wait))
        self._pending[entity_id] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _edit_after(self, guild_id: int, entity_id: int, wait: float) -> None:
        try:
            await asyncio.sleep(wait)
        finally:
            self._pending.pop(entity_id, None)
        try:
            async with self.lock(entity_id):
                current = await self.load(guild_id, entity_id)
                if current is None:
                    return
                self._last_edit[entity_id] = asyncio.get_running_loop().time()
                await self.edit(current)
        except Exception:  # a failed live update is repaired by the next one or the final one
            log.warning("could not refresh the message of %s", entity_id, exc_info=True)

    def forget(self, entity_id: int) -> None:
        self._last_edit.pop(entity_id, None)
        self._locks.pop(entity_id, None)

    async def close(self) -> None:
        """Stop every update, including one reading or editing right now: nothing may hold a
        database session once the bot's engine is disposed."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
