"""The weekly digest: who receives it, and one row per delivery (the exactly-once key)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import Snowflake, UTCDateTime


class DigestRecipient(Base):
    """Who gets the digest. None configured: the server owner."""

    __tablename__ = "digest_recipient"

    guild_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("guild.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    added_by: Mapped[int] = mapped_column(Snowflake)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Discord refused a DM (50007): served in the moderators' channel until they re-add.
    dm_closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class DigestDelivery(Base):
    """One digest to one recipient in one week (the ISO week, in the server's time zone, in
    which it is delivered; ``week`` is its Monday). The primary key is what makes delivery
    exactly once across restarts, DST changes and several bot processes."""

    __tablename__ = "digest_delivery"

    guild_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("guild.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    # sending (claimed), dm, channel (DMs closed: posted in the moderators' channel), failed
    status: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
