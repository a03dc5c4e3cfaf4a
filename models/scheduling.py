"""The scheduled-action table: everything Hearth must do later is a row here."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import Snowflake, UTCDateTime


class ActionStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # gave up after max attempts
    SKIPPED = "skipped"  # too late for its kind's policy, coalesced, or cancelled


class ScheduledAction(Base):
    __tablename__ = "scheduled_action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    # NULL for work that belongs to no guild (housekeeping); such rows go to shard 0.
    guild_id: Mapped[int | None] = mapped_column(Snowflake)
    entity_id: Mapped[int | None] = mapped_column(Snowflake)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Plain strings (not a DB enum) so adding a status needs no ALTER TYPE on PostgreSQL.
    status: Mapped[str] = mapped_column(String(16), default=ActionStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # Makes scheduling idempotent: scheduling the same thing twice is a no-op.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The ticker's claim query: due pending rows and running rows with lapsed leases.
        Index("ix_scheduled_action_status_due_at", "status", "due_at"),
        Index("ix_scheduled_action_kind_entity", "kind", "guild_id", "entity_id"),
    )
