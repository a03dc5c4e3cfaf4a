"""Polls: the question, its options, and one ballot per voter.

A ballot stores the voter's picks as a bitmask (bit i = option i; at most 25 options), so a
vote is one row that one upsert replaces: a double click cannot leave two votes, and a
multi-choice limit is checked against one locked row.

Anonymous polls: the ballot's ``voter`` is an HMAC of (poll, member) under a key from the
settings (never stored here) and ``user_id`` is NULL. Ballots carry no timestamp and no
surrogate id (nothing orders them by arrival), and at close they are deleted: only the
per-option counts in ``poll_option.votes`` and ``poll.voters`` remain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import Snowflake, UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid); PostgreSQL wants BIGINT.
PollId = BigInteger().with_variant(Integer(), "sqlite")

MAX_OPTIONS = 25


class Poll(Base):
    __tablename__ = "poll"

    id: Mapped[int] = mapped_column(PollId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guild.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(Snowflake)
    # Set once the poll message is posted (the message needs the poll's id for its buttons).
    message_id: Mapped[int | None] = mapped_column(Snowflake)
    creator_id: Mapped[int] = mapped_column(Snowflake)
    question: Mapped[str] = mapped_column(String(300))
    # How many options one member may pick.
    choices: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # results=at_close: tallies stay hidden until the poll closes (no herding).
    hide_results: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Only members holding this role may vote. Tier roles plug in here: a tier is a role.
    voter_role_id: Mapped[int | None] = mapped_column(Snowflake)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who closed it early with /poll close (None: it closed on schedule).
    closed_by: Mapped[int | None] = mapped_column(Snowflake)
    # Frozen at close: members who voted, and members who could have.
    voters: Mapped[int | None] = mapped_column(Integer)
    eligible: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_poll_guild_id", "guild_id", "closed_at"),)


class PollOption(Base):
    __tablename__ = "poll_option"

    poll_id: Mapped[int] = mapped_column(
        PollId, ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(String(80))
    # The final count, written at close (while open, counts come from the ballots).
    votes: Mapped[int | None] = mapped_column(Integer)


class PollBallot(Base):
    __tablename__ = "poll_ballot"

    poll_id: Mapped[int] = mapped_column(
        PollId, ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True
    )
    # Public polls: the member's id in decimal; anonymous polls: HMAC-SHA256 hex of the member.
    voter: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Public polls only (exports, "who voted"); always NULL for anonymous polls.
    user_id: Mapped[int | None] = mapped_column(Snowflake)
    picks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # No rowid on SQLite: a hidden rowid would record the order ballots arrived in.
    __table_args__ = ({"sqlite_with_rowid": False},)
