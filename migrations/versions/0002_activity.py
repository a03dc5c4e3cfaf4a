"""activity: raw events, blocks, daily rollups, membership

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 11:16:08.279648
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_block",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", "block", name=op.f("pk_activity_block")),
    )
    op.create_table(
        "activity_daily",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("messages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("activity_blocks", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reactions_given", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reactions_received", sa.Integer(), server_default="0", nullable=False),
        sa.Column("voice_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("threads_started", sa.Integer(), server_default="0", nullable=False),
        sa.Column("votes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rsvps", sa.Integer(), server_default="0", nullable=False),
        sa.Column("events_attended", sa.Integer(), server_default="0", nullable=False),
        sa.Column("submissions", sa.Integer(), server_default="0", nullable=False),
        sa.Column("approvals", sa.Integer(), server_default="0", nullable=False),
        sa.Column("features", sa.Integer(), server_default="0", nullable=False),
        sa.Column("referrals", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.SmallInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", "day", name=op.f("pk_activity_daily")),
    )
    with op.batch_alter_table("activity_daily", schema=None) as batch_op:
        batch_op.create_index("ix_activity_daily_guild_day", ["guild_id", "day"], unique=False)

    op.create_table(
        "activity_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("amount", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_event")),
    )
    with op.batch_alter_table("activity_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_event_guild_time", ["guild_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_activity_event_guild_user_time",
            ["guild_id", "user_id", "occurred_at"],
            unique=False,
        )

    op.create_table(
        "membership_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("occurred_at", models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_event")),
    )
    with op.batch_alter_table("membership_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_membership_event_guild_time", ["guild_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_membership_event_guild_user", ["guild_id", "user_id", "occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("membership_event", schema=None) as batch_op:
        batch_op.drop_index("ix_membership_event_guild_user")
        batch_op.drop_index("ix_membership_event_guild_time")

    op.drop_table("membership_event")
    with op.batch_alter_table("activity_event", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_event_guild_user_time")
        batch_op.drop_index("ix_activity_event_guild_time")

    op.drop_table("activity_event")
    with op.batch_alter_table("activity_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_daily_guild_day")

    op.drop_table("activity_daily")
    op.drop_table("activity_block")
