"""weekly rollups, each member's first join and last active day, one raw-event index less

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 20:40:00.000000

Both are filled from the daily rollups already recorded, so an existing database gets the
same metrics after the upgrade as before it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = (
    "messages",
    "activity_blocks",
    "reactions_given",
    "reactions_received",
    "voice_seconds",
    "threads_started",
    "votes",
    "rsvps",
    "events_attended",
    "submissions",
    "approvals",
    "features",
    "referrals",
)
TALK = "(messages > 0 OR voice_seconds > 0)"


def upgrade() -> None:
    # On SQLite, cluster the daily rollups on their key (rebuilt WITHOUT ROWID): they are
    # now read by member (one contiguous range each), guild-wide weeks come from
    # activity_weekly.
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "activity_daily", recreate="always", table_kwargs={"sqlite_with_rowid": False}
        ):
            pass
    # Raw events are read only by guild and time; the per-member index cost every insert.
    with op.batch_alter_table("activity_event", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_event_guild_user_time")
    op.create_table(
        "activity_weekly",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("active_days", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("talk_days", sa.SmallInteger(), server_default="0", nullable=False),
        *(sa.Column(c, sa.Integer(), server_default="0", nullable=False) for c in COUNTERS),
        sa.PrimaryKeyConstraint("guild_id", "week", "user_id", name=op.f("pk_activity_weekly")),
        sqlite_with_rowid=False,
    )
    # Members are read a whole guild at a time and probed by key in every metric: on SQLite,
    # cluster them on (guild, user) too (rebuilt WITHOUT ROWID).
    with op.batch_alter_table(
        "member",
        recreate="always" if op.get_bind().dialect.name == "sqlite" else "auto",
        table_kwargs={"sqlite_with_rowid": False},
    ) as batch_op:
        batch_op.add_column(sa.Column("first_joined_at", models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_active_day", sa.Date(), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        monday = "date_trunc('week', day)::date"
    else:  # strftime('%w'): 0 is Sunday
        monday = "date(day, '-' || ((CAST(strftime('%w', day) AS INTEGER) + 6) % 7) || ' days')"
    sums = ", ".join(f"SUM({c})" for c in COUNTERS)
    op.execute(
        f"INSERT INTO activity_weekly (guild_id, week, user_id, active_days, talk_days, "
        f"{', '.join(COUNTERS)}) "
        f"SELECT guild_id, {monday} AS week, user_id, SUM(active), "
        f"SUM(CASE WHEN {TALK} THEN 1 ELSE 0 END), {sums} "
        f"FROM activity_daily GROUP BY guild_id, {monday}, user_id"
    )
    first_event = (
        "(SELECT MIN(e.occurred_at) FROM membership_event e WHERE e.guild_id = member.guild_id "
        "AND e.user_id = member.user_id AND e.kind = 1)"
    )
    op.execute("UPDATE member SET first_joined_at = joined_at")
    op.execute(
        f"UPDATE member SET first_joined_at = {first_event} WHERE {first_event} IS NOT NULL "
        f"AND (first_joined_at IS NULL OR {first_event} < first_joined_at)"
    )
    op.execute(
        "UPDATE member SET last_active_day = (SELECT MAX(d.day) FROM activity_daily d "
        "WHERE d.guild_id = member.guild_id AND d.user_id = member.user_id AND d.active = 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("activity_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_event_guild_user_time",
            ["guild_id", "user_id", "occurred_at"],
            unique=False,
        )
    with op.batch_alter_table(
        "member",
        recreate="always" if op.get_bind().dialect.name == "sqlite" else "auto",
        table_kwargs={"sqlite_with_rowid": True},
    ) as batch_op:
        batch_op.drop_column("last_active_day")
        batch_op.drop_column("first_joined_at")
    op.drop_table("activity_weekly")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "activity_daily", recreate="always", table_kwargs={"sqlite_with_rowid": True}
        ):
            pass
