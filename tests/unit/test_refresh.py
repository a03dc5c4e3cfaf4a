"""The debounced message editor: spaced edits, and the last edit shows the last vote."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, replace
from typing import Any

from cogs._refresh import DebouncedRefresher


@dataclass(frozen=True)
class FakePoll:
    votes: int
    is_closed: bool = False
    message_id: int | None = 1


class FakeCog:
    """Stands in for PollsCog: a vote counter as the database, edits recorded with times."""

    def __init__(self) -> None:
        self.poll = FakePoll(0)
        self.edits: list[tuple[float, int]] = []

    async def read_poll(self, guild_id: int, poll_id: int) -> FakePoll | None:
        return None if self.poll.is_closed else self.poll

    async def edit_message(self, poll: Any) -> None:
        await asyncio.sleep(0.005)  # a REST call takes a little while; votes keep coming
        self.edits.append((asyncio.get_running_loop().time(), poll.votes))


async def test_edits_are_spaced_and_the_last_one_is_exact() -> None:
    cog = FakeCog()
    interval = 0.05
    updater = DebouncedRefresher(cog.read_poll, cog.edit_message, interval=interval)
    for _ in range(60):
        cog.poll = replace(cog.poll, votes=cog.poll.votes + 1)
        updater.touch(1, 7)
        await asyncio.sleep(0.004)
    await asyncio.sleep(interval * 3)
    times = [t for t, _ in cog.edits]
    assert 2 <= len(cog.edits) < 20
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Measured from the start of one edit to the end of the next: never closer than interval.
    assert all(gap >= interval * 0.9 for gap in gaps), gaps
    assert cog.edits[-1][1] == 60


async def test_a_closed_poll_is_never_overwritten() -> None:
    cog = FakeCog()
    updater = DebouncedRefresher(cog.read_poll, cog.edit_message, interval=0.01)
    cog.poll = FakePoll(3, is_closed=True)
    updater.touch(1, 7)
    await asyncio.sleep(0.05)
    assert cog.edits == []
    await updater.close()
