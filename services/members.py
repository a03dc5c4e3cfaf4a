"""A member's choices about Hearth: DMs are opt-in, and a closed inbox is respected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member, dialect_insert
from services.activity import ensure_guild_row


@dataclass(frozen=True)
class DmStatus:
    consent: bool | None  # None: never asked
    closed: bool  # Discord said this member does not accept DMs from us (50007)

    @property
    def may_dm(self) -> bool:
        return bool(self.consent) and not self.closed


async def dm_status(session: AsyncSession, *, guild_id: int, user_id: int) -> DmStatus:
    row = (
        await session.execute(
            select(Member.dm_consent, Member.dm_closed).where(
                Member.guild_id == guild_id, Member.user_id == user_id
            )
        )
    ).first()
    return DmStatus(None, False) if row is None else DmStatus(row[0], bool(row[1]))


async def set_dm_consent(
    session: AsyncSession, *, guild_id: int, user_id: int, consent: bool, now: datetime
) -> None:
    """The member's answer; saying yes again also clears a closed inbox (they fixed it)."""
    await ensure_guild_row(session, guild_id, now)
    insert = dialect_insert(session)
    values = {"dm_consent": consent, "updated_at": now}
    if consent:
        values["dm_closed"] = False
    await session.execute(
        insert(Member)
        .values(guild_id=guild_id, user_id=user_id, created_at=now, **values)
        .on_conflict_do_update(index_elements=["guild_id", "user_id"], set_=values)
    )


async def mark_dms_closed(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> None:
    """Discord refused a DM (50007): stop trying until the member opts in again."""
    await session.execute(
        update(Member)
        .where(Member.guild_id == guild_id, Member.user_id == user_id)
        .values(dm_closed=True, updated_at=now)
    )
