"""Guilds (communities) and their members."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import Snowflake, UTCDateTime


class Guild(Base):
    """Per-community settings. Created lazily the first time Hearth sees the guild."""

    __tablename__ = "guild"

    id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Members holding this role count as moderators, in addition to Manage Server.
    moderator_role_id: Mapped[int | None] = mapped_column(Snowflake)
    # A private channel for moderators: fallbacks (a digest whose DM failed) land here.
    moderator_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    # Feature switches and small per-feature settings, e.g. {"polls": {"enabled": true}}.
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Member(Base):
    """A person (or bot) in a guild, as Hearth knows them; survives leaving (left_at)."""

    __tablename__ = "member"

    guild_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("guild.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The earliest join Hearth has seen (join events and Discord's joined_at): who is "new",
    # cohorts and week-1 retention go by it. joined_at is the latest join.
    first_joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # The member asked Hearth not to record their activity (/privacy, later issue).
    tracking_opt_out: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # None: never asked; True/False: the member's answer. DMs are opt-in (Discord policy).
    dm_consent: Mapped[bool | None] = mapped_column(Boolean)
    # Discord answered 50007 to a DM: stop trying until the member opts in again.
    dm_closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # The last local day with activity that makes the member active (kept by the recorder):
    # "drifting away" starts from the few members whose last day falls in the right window.
    last_active_day: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Read a whole guild at a time and probed by key in every metric: on SQLite the table is
    # clustered on (guild, user) (WITHOUT ROWID), one contiguous range per guild.
    __table_args__ = (Index("ix_member_user_id", "user_id"), {"sqlite_with_rowid": False})
