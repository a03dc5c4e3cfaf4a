"""events: occurrences, RSVPs, attendance, reminders sent

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EventId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _child(name: str, *columns: sa.Column, pk: list[str]) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("event_id", EventId, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f(f"fk_{name}_event_id_event"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(*pk, name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", EventId, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("series_id", EventId, nullable=True),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("host_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("post_channel_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("starts_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("ends_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("member_role_id", sa.BigInteger(), nullable=True),
        sa.Column("repeat", sa.String(length=10), server_default="none", nullable=False),
        sa.Column("rsvp_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("discord_event_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=10), server_default="scheduled", nullable=False),
        sa.Column("cancel_reason", sa.String(length=300), nullable=True),
        sa.Column("created_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"], ["guild.id"], name=op.f("fk_event_guild_id_guild"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_guild_id", ["guild_id", "starts_at"], unique=False)

    _child(
        "event_rsvp",
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("promoted_unseen", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("updated_at", models.types.UTCDateTime(), nullable=False),
        pk=["event_id", "user_id"],
    )
    _child(
        "event_attendance",
        sa.Column("voice_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("present_since", models.types.UTCDateTime(), nullable=True),
        sa.Column("checked_in_at", models.types.UTCDateTime(), nullable=True),
        sa.Column("attended_at", models.types.UTCDateTime(), nullable=True),
        pk=["event_id", "user_id"],
    )
    _child(
        "event_reminder",
        sa.Column("minutes_before", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sent_at", models.types.UTCDateTime(), nullable=False),
        pk=["event_id", "user_id", "minutes_before"],
    )


def downgrade() -> None:
    op.drop_table("event_reminder")
    op.drop_table("event_attendance")
    op.drop_table("event_rsvp")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_guild_id")
    op.drop_table("event")
