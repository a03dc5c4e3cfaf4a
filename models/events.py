"""Events: occurrences with RSVPs (capacity, first-come waitlist), attendance and reminders.

A recurring event is a series of rows, one per occurrence (``series_id`` = the first one's
id): each occurrence has its own RSVPs and attendance, so repeat attendance is countable.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import Snowflake, UTCDateTime

EventId = BigInteger().with_variant(Integer(), "sqlite")


class EventStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    ENDED = "ended"  # the attendance window closed; attendance is final


class RsvpStatus(enum.StrEnum):
    GOING = "going"
    MAYBE = "maybe"
    DECLINED = "declined"
    WAITLIST = "waitlist"


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guild.id", ondelete="CASCADE"))
    # The first occurrence's id for every occurrence of a recurring event (its own id if single).
    series_id: Mapped[int | None] = mapped_column(EventId)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    host_id: Mapped[int] = mapped_column(Snowflake)
    # Where it happens: a voice or stage channel, or free text for elsewhere.
    channel_id: Mapped[int | None] = mapped_column(Snowflake)
    location: Mapped[str | None] = mapped_column(String(100))
    # Where its message is posted.
    post_channel_id: Mapped[int] = mapped_column(Snowflake)
    message_id: Mapped[int | None] = mapped_column(Snowflake)
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None] = mapped_column(Integer)
    # Only members holding this role may RSVP (tier roles plug in here: a tier is a role).
    member_role_id: Mapped[int | None] = mapped_column(Snowflake)
    repeat: Mapped[str] = mapped_column(String(10), default="none", server_default="none")
    # Handed out under the event row's lock: the order of Going and waitlist, first come first.
    rsvp_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    discord_event_id: Mapped[int | None] = mapped_column(Snowflake)
    status: Mapped[str] = mapped_column(
        String(10), default=EventStatus.SCHEDULED.value, server_default="scheduled"
    )
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_event_guild_id", "guild_id", "starts_at"),)


class EventRsvp(Base):
    __tablename__ = "event_rsvp"

    event_id: Mapped[int] = mapped_column(
        EventId, ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(10))
    # Position in line (going and waitlist): the event's rsvp_seq when the member joined it.
    seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Moved from the waitlist to Going and not told yet (no DMs): told next time they interact.
    promoted_unseen: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventAttendance(Base):
    """Who was really there: voice time in the window, or a check-in."""

    __tablename__ = "event_attendance"

    event_id: Mapped[int] = mapped_column(
        EventId, ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    voice_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # In the event's channel since (an open voice session inside the window).
    present_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set once the member counts as attended (voice threshold reached, or checked in).
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventReminder(Base):
    """One row per reminder sent: written before the DM, so it is never sent twice."""

    __tablename__ = "event_reminder"

    event_id: Mapped[int] = mapped_column(
        EventId, ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    minutes_before: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
