"""activity_batch: ids of written recorder batches (exactly-once across a writer crash)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 23:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_batch",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("written_at", models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_batch")),
    )


def downgrade() -> None:
    op.drop_table("activity_batch")
