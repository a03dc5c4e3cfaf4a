"""polls: poll, options, ballots

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 22:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PollId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "poll",
        sa.Column("id", PollId, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("creator_id", sa.BigInteger(), nullable=False),
        sa.Column("question", sa.String(length=300), nullable=False),
        sa.Column("choices", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("anonymous", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("hide_results", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("voter_role_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("closes_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("closed_at", models.types.UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.BigInteger(), nullable=True),
        sa.Column("voters", sa.Integer(), nullable=True),
        sa.Column("eligible", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["guild_id"], ["guild.id"], name=op.f("fk_poll_guild_id_guild"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll")),
    )
    with op.batch_alter_table("poll", schema=None) as batch_op:
        batch_op.create_index("ix_poll_guild_id", ["guild_id", "closed_at"], unique=False)

    op.create_table(
        "poll_option",
        sa.Column("poll_id", PollId, nullable=False),
        sa.Column("position", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["poll.id"], name=op.f("fk_poll_option_poll_id_poll"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("poll_id", "position", name=op.f("pk_poll_option")),
    )
    op.create_table(
        "poll_ballot",
        sa.Column("poll_id", PollId, nullable=False),
        sa.Column("voter", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("picks", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["poll.id"], name=op.f("fk_poll_ballot_poll_id_poll"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("poll_id", "voter", name=op.f("pk_poll_ballot")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("poll_ballot")
    op.drop_table("poll_option")
    with op.batch_alter_table("poll", schema=None) as batch_op:
        batch_op.drop_index("ix_poll_guild_id")
    op.drop_table("poll")
