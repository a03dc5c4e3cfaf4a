"""foundation: guild, member, scheduled_action

Revision ID: 0001
Revises:
Create Date: 2026-12-01 11:05:48.249819
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guild",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("moderator_role_id", sa.BigInteger(), nullable=True),
        sa.Column("moderator_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guild")),
    )
    op.create_table(
        "scheduled_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("entity_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("due_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default="5", nullable=False),
        sa.Column("lease_until", models.types.UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", models.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_action")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_scheduled_action_idempotency_key")),
    )
    with op.batch_alter_table("scheduled_action", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduled_action_kind_entity", ["kind", "guild_id", "entity_id"], unique=False
        )
        batch_op.create_index(
            "ix_scheduled_action_status_due_at", ["status", "due_at"], unique=False
        )

    op.create_table(
        "member",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("joined_at", models.types.UTCDateTime(), nullable=True),
        sa.Column("left_at", models.types.UTCDateTime(), nullable=True),
        sa.Column("is_bot", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column(
            "tracking_opt_out", sa.Boolean(), server_default=sa.text("(false)"), nullable=False
        ),
        sa.Column("dm_consent", sa.Boolean(), nullable=True),
        sa.Column("dm_closed", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"], ["guild.id"], name=op.f("fk_member_guild_id_guild"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("guild_id", "user_id", name=op.f("pk_member")),
    )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.create_index("ix_member_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index("ix_member_user_id")

    op.drop_table("member")
    with op.batch_alter_table("scheduled_action", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduled_action_status_due_at")
        batch_op.drop_index("ix_scheduled_action_kind_entity")

    op.drop_table("scheduled_action")
    op.drop_table("guild")
