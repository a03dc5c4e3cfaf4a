"""Guild records: created the first time Hearth sees a server, holding its settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Guild, dialect_insert
from services.errors import InvalidInputError


@dataclass(frozen=True)
class GuildSettings:
    guild_id: int
    timezone: str
    moderator_role_id: int | None
    moderator_channel_id: int | None


async def ensure_guild(session: AsyncSession, *, guild_id: int, name: str, now: datetime) -> None:
    """Create the guild's row if new, or refresh its name. Idempotent and race-free."""
    insert = dialect_insert(session)
    stmt = insert(Guild).values(
        id=guild_id, name=name[:100], timezone="UTC", features={}, created_at=now, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"], set_={"name": stmt.excluded.name, "updated_at": now}
    )
    await session.execute(stmt)


async def get_guild_settings(session: AsyncSession, guild_id: int) -> GuildSettings:
    row = await session.scalar(select(Guild).where(Guild.id == guild_id))
    if row is None:
        return GuildSettings(guild_id, "UTC", None, None)
    return GuildSettings(row.id, row.timezone, row.moderator_role_id, row.moderator_channel_id)


def parse_timezone(name: str) -> ZoneInfo:
    """An IANA time zone by name, or a DomainError saying how to write one."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            f"I don't know the time zone {name!r}. Use an IANA name like Europe/Berlin or "
            "America/New_York."
        ) from None


async def set_timezone(session: AsyncSession, *, guild_id: int, name: str, now: datetime) -> str:
    """Set the server's time zone (weeks, digests and event times use it); returns its name."""
    zone = parse_timezone(name)
    await session.execute(
        update(Guild).where(Guild.id == guild_id).values(timezone=zone.key, updated_at=now)
    )
    return zone.key


async def set_moderation(
    session: AsyncSession,
    *,
    guild_id: int,
    now: datetime,
    role_id: int | None = None,
    channel_id: int | None = None,
) -> GuildSettings:
    """Set the moderator role and/or the private moderators' channel (None: unchanged)."""
    values: dict[str, object] = {"updated_at": now}
    if role_id is not None:
        values["moderator_role_id"] = role_id
    if channel_id is not None:
        values["moderator_channel_id"] = channel_id
    await session.execute(update(Guild).where(Guild.id == guild_id).values(**values))
    return await get_guild_settings(session, guild_id)
