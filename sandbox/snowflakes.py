"""Snowflake ids that carry a timestamp, like Discord's.

discord.py derives ``created_at`` from ids, and Hearth's activity statistics bucket messages by it,
so a scripted message sent ``at=`` a past datetime must get an id for that instant.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1420070400000
_COUNTER_BITS = 22
_COUNTER_MASK = (1 << _COUNTER_BITS) - 1


def snowflake_time(snowflake: int) -> datetime:
    """Return the UTC datetime encoded in ``snowflake``."""
    ms = (snowflake >> _COUNTER_BITS) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso(dt: datetime) -> str:
    """ISO-8601 with an explicit UTC offset, the way Discord formats timestamps."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


class SnowflakeGenerator:
    """Issues unique, time-ordered snowflakes for one sandbox.

    The low 22 bits (worker, process, increment on Discord) are used as one counter so that a
    burst of millions of ids in the same millisecond stays unique.
    """

    def __init__(self) -> None:
        self._counter = 0
        self._last_ms = 0

    def next(self, at: datetime | None = None) -> int:
        """A fresh id for now, or for ``at`` (which may lie in the past)."""
        self._counter = (self._counter + 1) & _COUNTER_MASK
        if at is None:
            ms = int(time.time() * 1000)
            if ms < self._last_ms:
                ms = self._last_ms
            self._last_ms = ms
        else:
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            ms = int(at.timestamp() * 1000)
        if ms < DISCORD_EPOCH_MS:
            raise ValueError("cannot create a snowflake before 2015-01-01")
        return ((ms - DISCORD_EPOCH_MS) << _COUNTER_BITS) | self._counter
