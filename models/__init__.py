"""SQLAlchemy tables, types and the engine factory. Never imports discord."""

from models.activity import (
    ACTIVE_COUNTERS,
    PASSIVE_KINDS,
    ROLLUP_COLUMN,
    TALK_COUNTERS,
    ActivityBatch,
    ActivityBlock,
    ActivityDaily,
    ActivityEvent,
    ActivityKind,
    ActivityWeekly,
    MembershipEvent,
    MembershipKind,
)
from models.base import Base
from models.community import Guild, Member
from models.database import Database, backend_name, create_engine, dialect_insert, normalize_url
from models.digest import DigestDelivery, DigestRecipient
from models.events import (
    Event,
    EventAttendance,
    EventReminder,
    EventRsvp,
    EventStatus,
    RsvpStatus,
)
from models.polls import MAX_OPTIONS, Poll, PollBallot, PollOption
from models.scheduling import ActionStatus, ScheduledAction

__all__ = [
    "ACTIVE_COUNTERS",
    "MAX_OPTIONS",
    "PASSIVE_KINDS",
    "ROLLUP_COLUMN",
    "TALK_COUNTERS",
    "ActionStatus",
    "ActivityBatch",
    "ActivityBlock",
    "ActivityDaily",
    "ActivityEvent",
    "ActivityKind",
    "ActivityWeekly",
    "Base",
    "Database",
    "DigestDelivery",
    "DigestRecipient",
    "Event",
    "EventAttendance",
    "EventReminder",
    "EventRsvp",
    "EventStatus",
    "Guild",
    "Member",
    "MembershipEvent",
    "MembershipKind",
    "Poll",
    "PollBallot",
    "PollOption",
    "RsvpStatus",
    "ScheduledAction",
    "backend_name",
    "create_engine",
    "dialect_insert",
    "normalize_url",
]
