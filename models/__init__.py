"""SQLAlchemy tables, types and the engine factory. Never imports discord."""

from models.activity import (
    PASSIVE_KINDS,
    ROLLUP_COLUMN,
    ActivityBlock,
    ActivityDaily,
    ActivityEvent,
    ActivityKind,
    MembershipEvent,
    MembershipKind,
)
from models.base import Base
from models.community import Guild, Member
from models.database import Database, backend_name, create_engine, normalize_url
from models.scheduling import ActionStatus, ScheduledAction

__all__ = [
    "PASSIVE_KINDS",
    "ROLLUP_COLUMN",
    "ActionStatus",
    "ActivityBlock",
    "ActivityDaily",
    "ActivityEvent",
    "ActivityKind",
    "Base",
    "Database",
    "Guild",
    "Member",
    "MembershipEvent",
    "MembershipKind",
    "ScheduledAction",
    "backend_name",
    "create_engine",
    "normalize_url",
]
