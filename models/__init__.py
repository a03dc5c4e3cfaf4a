"""SQLAlchemy tables, types and the engine factory. Never imports discord."""

from models.base import Base
from models.community import Guild, Member
from models.database import Database, backend_name, create_engine, normalize_url
from models.scheduling import ActionStatus, ScheduledAction

__all__ = [
    "ActionStatus",
    "Base",
    "Database",
    "Guild",
    "Member",
    "ScheduledAction",
    "backend_name",
    "create_engine",
    "normalize_url",
]
