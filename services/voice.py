"""Voice sessions: minutes in voice or stage channels that count as participation.

Time counts while a member is in a channel, not deafened, and at least one other person (not a
bot) is there too: sitting alone, or deafened and AFK, is not participating. A session's
counted seconds become one VOICE activity record when the member leaves or moves (or Hearth
shuts down), attributed to that moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from models import ActivityKind
from services.activity import ActivityRecord


@dataclass
class _Presence:
    channel_id: int
    deafened: bool
    is_bot: bool
    counted_seconds: float = 0.0
    counting_since: datetime | None = None


@dataclass
class VoiceTracker:
    """Pure bookkeeping; the cog feeds it voice state changes in order."""

    _present: dict[tuple[int, int], _Presence] = field(default_factory=dict)

    def _company(self, guild_id: int, channel_id: int) -> int:
        return sum(
            1
            for (g, _u), p in self._present.items()
            if g == guild_id and p.channel_id == channel_id and not p.is_bot
        )

    def _settle(self, guild_id: int, channel_id: int, at: datetime) -> None:
        for (g, _u), p in self._present.items():
            if g == guild_id and p.channel_id == channel_id and p.counting_since is not None:
                p.counted_seconds += max(0.0, (at - p.counting_since).total_seconds())
                p.counting_since = None

    def _resume(self, guild_id: int, channel_id: int, at: datetime) -> None:
        humans = self._company(guild_id, channel_id)
        for (g, _u), p in self._present.items():
            if g != guild_id or p.channel_id != channel_id:
                continue
            counts = not p.is_bot and not p.deafened and humans >= 2
            p.counting_since = at if counts else None

    def update(
        self,
        *,
        guild_id: int,
        user_id: int,
        channel_id: int | None,
        deafened: bool,
        is_bot: bool,
        at: datetime,
    ) -> list[ActivityRecord]:
        """Apply one voice state change; returns the record of a session that ended."""
        key = (guild_id, user_id)
        ended: list[ActivityRecord] = []
        before = self._present.get(key)
        touched = {c for c in (before.channel_id if before else None, channel_id) if c is not None}
        for channel in touched:
            self._settle(guild_id, channel, at)
        if before is not None and before.channel_id != channel_id:
            ended.extend(self._end(guild_id, user_id, before, at))
            del self._present[key]
            before = None
        if channel_id is not None:
            if before is None:
                self._present[key] = _Presence(channel_id, deafened, is_bot)
            else:
                before.deafened = deafened
        for channel in touched:
            self._resume(guild_id, channel, at)
        return ended

    def _end(
        self, guild_id: int, user_id: int, presence: _Presence, at: datetime
    ) -> list[ActivityRecord]:
        seconds = int(presence.counted_seconds)
        if presence.is_bot or seconds <= 0:
            return []
        return [
            ActivityRecord(
                guild_id,
                user_id,
                ActivityKind.VOICE,
                at,
                channel_id=presence.channel_id,
                amount=seconds,
            )
        ]

    def close_all(self, at: datetime) -> list[ActivityRecord]:
        """End every open session (shutdown), returning their records."""
        records: list[ActivityRecord] = []
        for guild_id, channel_id in {(g, p.channel_id) for (g, _), p in self._present.items()}:
            self._settle(guild_id, channel_id, at)
        for (guild_id, user_id), presence in self._present.items():
            records.extend(self._end(guild_id, user_id, presence, at))
        self._present.clear()
        return records

    def forget_guild(self, guild_id: int) -> None:
        for key in [k for k in self._present if k[0] == guild_id]:
            del self._present[key]
