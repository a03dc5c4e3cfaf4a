"""Column types shared by every table.

Snowflakes are 64-bit unsigned on Discord's side but always fit a signed BIGINT for the next
few centuries (the top bit is set only after 2084), so BigInteger is safe on both backends.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

Snowflake = BigInteger


def as_date(value: Any) -> date:
    """A Date column's value as a date. SQLite hands back its stored text where SQLAlchemy
    loses the column type: max() over a CASE, or RETURNING of a multi-row upsert."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no time zones and returns naive values; PostgreSQL returns aware ones. Storing
    naive UTC and re-attaching UTC on the way out keeps comparisons and arithmetic identical on
    both, and refuses naive datetimes on the way in (a naive value is a bug waiting for a DST
    change).
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column; pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite via raw SQL paths
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
