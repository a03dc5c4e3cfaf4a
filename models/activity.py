"""Participation: raw activity events, membership changes, and daily per-member rollups.

Message content is never stored: an event says who did what kind of thing, where and when.
Raw events are pruned after a retention period; rollups and membership changes are kept.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import Snowflake, UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid); PostgreSQL wants BIGINT here.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class ActivityKind(enum.IntEnum):
    """Stored as small integers: a raw event row stays small at tens of millions of rows."""

    MESSAGE = 1
    REACTION_GIVEN = 2
    REACTION_RECEIVED = 3
    VOICE = 4  # amount = seconds counted (not alone, not self-deafened)
    THREAD_STARTED = 5
    POLL_VOTE = 6
    RSVP = 7
    EVENT_ATTENDED = 8
    SHOWCASE_SUBMITTED = 9
    SHOWCASE_APPROVED = 10
    SHOWCASE_FEATURED = 11
    REFERRAL_QUALIFIED = 12


class ActivityEvent(Base):
    __tablename__ = "activity_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    user_id: Mapped[int] = mapped_column(Snowflake)
    kind: Mapped[int] = mapped_column(SmallInteger)
    channel_id: Mapped[int | None] = mapped_column(Snowflake)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    # One index: raw events are written per event and read only by guild and time (pruning,
    # audits). Per-member questions are answered from the rollups.
    __table_args__ = (Index("ix_activity_event_guild_time", "guild_id", "occurred_at"),)


class ActivityBatch(Base):
    """One row per batch the recorder wrote, in the batch's own transaction: a batch retried
    after an unknown outcome (its writer process died before acknowledging) is skipped if it
    was in fact committed. Pruned with the raw events."""

    __tablename__ = "activity_batch"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ActivityBlock(Base):
    """One row per member per 10-minute interval with at least one message.

    The unique key makes counting "activity blocks" exact across batches and restarts: a block
    is counted in the rollup only when its row is newly inserted.
    """

    __tablename__ = "activity_block"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    # Seconds since the Unix epoch // 600.
    block: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class RollupCounters:
    """The counters every rollup keeps (mixed into the daily and the weekly table)."""

    messages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    activity_blocks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reactions_given: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reactions_received: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    voice_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    threads_started: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    votes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rsvps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    events_attended: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    submissions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    approvals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    features: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    referrals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ActivityDaily(RollupCounters, Base):
    """Per member per local day (in the guild's time zone at recording time) counters."""

    __tablename__ = "activity_daily"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # 1 when the member did anything that makes them "active" that day (not merely received).
    active: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")

    # Read by member (a member's days: drifting, new members, /stats me) and written by key:
    # on SQLite the table is clustered on its key (WITHOUT ROWID), so a member's days are one
    # contiguous range. PostgreSQL's planner still prefers the (guild, day) index for the few
    # candidates' days (drifting, new members): without it, it scans the table.
    __table_args__ = (
        Index("ix_activity_daily_guild_day", "guild_id", "day"),
        {"sqlite_with_rowid": False},
    )


class ActivityWeekly(RollupCounters, Base):
    """Per member per local ISO week (keyed by its Monday): the daily counters summed, and on
    how many of the week's days the member was active and talked (message or voice).

    The key is (guild, week, member), and on SQLite the table is WITHOUT ROWID, so one week of
    a guild is one contiguous range: the weekly metric set reads one row per active member and
    week instead of one per active day, with no lookups from an index into the table.
    """

    __tablename__ = "activity_weekly"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    active_days: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    talk_days: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")

    __table_args__ = ({"sqlite_with_rowid": False},)


class MembershipKind(enum.IntEnum):
    JOINED = 1
    LEFT = 2


class MembershipEvent(Base):
    """Joins and leaves, kept for good: member counts, cohorts and retention read these."""

    __tablename__ = "membership_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    user_id: Mapped[int] = mapped_column(Snowflake)
    kind: Mapped[int] = mapped_column(SmallInteger)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_membership_event_guild_time", "guild_id", "occurred_at"),
        Index("ix_membership_event_guild_user", "guild_id", "user_id", "occurred_at"),
    )


# Which rollup column each kind adds to, and whether it makes the member "active" that day.
ROLLUP_COLUMN: dict[ActivityKind, str] = {
    ActivityKind.MESSAGE: "messages",
    ActivityKind.REACTION_GIVEN: "reactions_given",
    ActivityKind.REACTION_RECEIVED: "reactions_received",
    ActivityKind.VOICE: "voice_seconds",
    ActivityKind.THREAD_STARTED: "threads_started",
    ActivityKind.POLL_VOTE: "votes",
    ActivityKind.RSVP: "rsvps",
    ActivityKind.EVENT_ATTENDED: "events_attended",
    ActivityKind.SHOWCASE_SUBMITTED: "submissions",
    ActivityKind.SHOWCASE_APPROVED: "approvals",
    ActivityKind.SHOWCASE_FEATURED: "features",
    ActivityKind.REFERRAL_QUALIFIED: "referrals",
}
PASSIVE_KINDS = frozenset(
    {
        ActivityKind.REACTION_RECEIVED,
        ActivityKind.SHOWCASE_APPROVED,
        ActivityKind.SHOWCASE_FEATURED,
        ActivityKind.REFERRAL_QUALIFIED,
    }
)
# Counters whose growth makes a member active that day, and those that make them a
# communicator (Discord's definition: sent a message or spoke in voice).
ACTIVE_COUNTERS = tuple(sorted({c for k, c in ROLLUP_COLUMN.items() if k not in PASSIVE_KINDS}))
TALK_COUNTERS = ("messages", "voice_seconds")
