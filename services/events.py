"""Events: create, RSVP with capacity and a first-come waitlist, attendance, reminders.

Exact under a rush: an RSVP locks the event row (``SELECT .. FOR UPDATE`` on PostgreSQL;
SQLite's BEGIN IMMEDIATE serialises writers), counts Going, and hands out a place in line from
the event's own counter, so 200 simultaneous Going clicks on 50 seats give exactly 50 going
and 150 waitlisted, in click order (DISCORD-NOTES.md measured the traps). When someone leaves
Going, the first in line is promoted in the same transaction.

Attendance is real: minutes in the event's voice or stage channel inside the window (10
minutes before the start to 30 after the end), or a check-in for events held elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from models import (
    Event,
    EventAttendance,
    EventReminder,
    EventRsvp,
    EventStatus,
    Guild,
    Member,
    RsvpStatus,
    ScheduledAction,
    dialect_insert,
)
from services.activity import ensure_guild_row
from services.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from services.lookup import matching, parse_reference
from services.scheduling import cancel_actions, schedule_action
from services.when import REPEATS, next_occurrence

REMIND_ACTION = "events.remind"
OPEN_ACTION = "events.window_open"
CLOSE_ACTION = "events.window_close"
WINDOW_BEFORE = timedelta(minutes=10)
WINDOW_AFTER = timedelta(minutes=30)
MAX_TITLE = 100
MAX_DESCRIPTION = 1000
MAX_LOCATION = 100
MAX_CAPACITY = 10_000
DEFAULT_ATTENDANCE_MINUTES = 10
DEFAULT_REMINDERS = (24 * 60, 60)  # minutes before the start
REPEAT_LABELS = {
    "none": "does not repeat",
    "weekly": "every week",
    "biweekly": "every 2 weeks",
    "monthly": "every month",
}


# -- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSettings:
    timezone: str = "UTC"
    attendance_minutes: int = DEFAULT_ATTENDANCE_MINUTES
    reminders: tuple[int, ...] = DEFAULT_REMINDERS


async def get_event_settings(session: AsyncSession, guild_id: int) -> EventSettings:
    row = (
        await session.execute(select(Guild.timezone, Guild.features).where(Guild.id == guild_id))
    ).first()
    if row is None:
        return EventSettings()
    events: dict[str, Any] = (row.features or {}).get("events") or {}
    return EventSettings(
        timezone=row.timezone,
        attendance_minutes=int(events.get("attendance_minutes", DEFAULT_ATTENDANCE_MINUTES)),
        reminders=tuple(int(m) for m in events.get("reminders", DEFAULT_REMINDERS)),
    )


async def set_event_settings(
    session: AsyncSession,
    *,
    guild_id: int,
    now: datetime,
    attendance_minutes: int | None = None,
    reminders: Sequence[int] | None = None,
) -> EventSettings:
    """Moderators: minutes in voice that count as attending; reminder times before start."""
    if attendance_minutes is not None and not 1 <= attendance_minutes <= 240:
        raise InvalidInputError("Attendance needs between 1 and 240 minutes in the channel.")
    if reminders is not None and any(not 5 <= m <= 7 * 24 * 60 for m in reminders):
        raise InvalidInputError("Reminders can go out between 5 minutes and 7 days before.")
    await ensure_guild_row(session, guild_id, now)
    guild = await session.get(Guild, guild_id, with_for_update=True)
    assert guild is not None
    features = dict(guild.features or {})
    events = dict(features.get("events") or {})
    if attendance_minutes is not None:
        events["attendance_minutes"] = attendance_minutes
    if reminders is not None:
        events["reminders"] = sorted(set(reminders), reverse=True)
    features["events"] = events
    guild.features = features
    guild.updated_at = now
    await session.flush()
    return await get_event_settings(session, guild_id)


# -- input ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSpec:
    title: str
    starts_at: datetime
    duration: timedelta
    timezone: str
    capacity: int | None = None
    channel_id: int | None = None
    location: str | None = None
    description: str | None = None
    member_role_id: int | None = None
    repeat: str = "none"


def _text(value: str | None, *, what: str, limit: int, required: bool = False) -> str | None:
    text = " ".join(value.split()) if value and what != "description" else (value or "").strip()
    if not text:
        if required:
            raise InvalidInputError(f"The {what} is empty.")
        return None
    if len(text) > limit:
        raise InvalidInputError(
            f"The {what} is {len(text)} characters long; at most {limit} fit. Could you shorten it?"
        )
    return text


def build_spec(
    *,
    title: str,
    starts_at: datetime,
    duration: timedelta,
    timezone: ZoneInfo,
    now: datetime,
    capacity: int | None = None,
    channel_id: int | None = None,
    location: str | None = None,
    description: str | None = None,
    member_role_id: int | None = None,
    repeat: str | None = None,
) -> EventSpec:
    """Validate /event create's input (times already parsed); raise with what to fix."""
    clean_title = _text(title, what="title", limit=MAX_TITLE, required=True)
    assert clean_title is not None
    if starts_at <= now:
        stamp = int(starts_at.timestamp())
        raise InvalidInputError(
            f"That time (<t:{stamp}:f>) has already passed. Events need a start in the future."
        )
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidInputError(
            f"Capacity is the number of seats: between 1 and {MAX_CAPACITY:,}, or leave it "
            "empty for no limit."
        )
    if not timedelta(minutes=1) <= duration <= timedelta(hours=24):
        raise InvalidInputError("An event lasts between 1 minute and 24 hours.")
    place = _text(location, what="location", limit=MAX_LOCATION)
    if channel_id is None and place is None:
        raise InvalidInputError(
            "Say where it happens: pick a voice or stage `channel`, or write a `location` "
            "(a place or a link)."
        )
    chosen = repeat or "none"
    if chosen not in REPEATS:
        raise InvalidInputError(f"`repeat` is one of: {', '.join(REPEATS)}.")
    return EventSpec(
        title=clean_title,
        starts_at=starts_at,
        duration=duration,
        timezone=timezone.key,
        capacity=capacity,
        channel_id=channel_id,
        location=None if channel_id is not None else place,
        description=_text(description, what="description", limit=MAX_DESCRIPTION),
        member_role_id=member_role_id,
        repeat=chosen,
    )


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSnapshot:
    """An event and its people at one moment: what every rendering needs."""

    id: int
    guild_id: int
    series_id: int | None
    title: str
    description: str | None
    host_id: int
    channel_id: int | None
    location: str | None
    post_channel_id: int
    message_id: int | None
    timezone: str
    starts_at: datetime
    ends_at: datetime
    capacity: int | None
    member_role_id: int | None
    repeat: str
    status: str
    cancel_reason: str | None
    discord_event_id: int | None
    going: tuple[int, ...] = ()
    maybe: tuple[int, ...] = ()
    waitlist: tuple[int, ...] = ()
    declined: tuple[int, ...] = ()
    attended: tuple[int, ...] = ()

    @property
    def window_start(self) -> datetime:
        return self.starts_at - WINDOW_BEFORE

    @property
    def window_end(self) -> datetime:
        return self.ends_at + WINDOW_AFTER

    def in_window(self, now: datetime) -> bool:
        return self.status == EventStatus.SCHEDULED and self.window_start <= now < self.window_end

    @property
    def is_cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED

    @property
    def is_ended(self) -> bool:
        return self.status == EventStatus.ENDED

    @property
    def seats_left(self) -> int | None:
        return None if self.capacity is None else max(0, self.capacity - len(self.going))

    @property
    def held_elsewhere(self) -> bool:
        return self.channel_id is None


async def _load(
    session: AsyncSession, guild_id: int, event_id: int, *, lock: bool = False
) -> Event:
    stmt = select(Event).where(Event.id == event_id)
    if lock:
        stmt = stmt.with_for_update()
    event = (await session.execute(stmt)).scalar_one_or_none()
    if event is None or event.guild_id != guild_id:
        raise NotFoundError(f"I can't find event #{event_id} in this server.")
    return event


async def _snapshot(session: AsyncSession, event: Event) -> EventSnapshot:
    rows = (
        await session.execute(
            select(EventRsvp.user_id, EventRsvp.status)
            .where(EventRsvp.event_id == event.id)
            .order_by(EventRsvp.seq, EventRsvp.updated_at, EventRsvp.user_id)
        )
    ).all()
    by_status: dict[str, list[int]] = {s.value: [] for s in RsvpStatus}
    for user_id, status in rows:
        by_status[status].append(int(user_id))
    attended = await session.scalars(
        select(EventAttendance.user_id)
        .where(EventAttendance.event_id == event.id, EventAttendance.attended_at.is_not(None))
        .order_by(EventAttendance.attended_at, EventAttendance.user_id)
    )
    return EventSnapshot(
        id=event.id,
        guild_id=event.guild_id,
        series_id=event.series_id,
        title=event.title,
        description=event.description,
        host_id=event.host_id,
        channel_id=event.channel_id,
        location=event.location,
        post_channel_id=event.post_channel_id,
        message_id=event.message_id,
        timezone=event.timezone,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        capacity=event.capacity,
        member_role_id=event.member_role_id,
        repeat=event.repeat,
        status=event.status,
        cancel_reason=event.cancel_reason,
        discord_event_id=event.discord_event_id,
        going=tuple(by_status[RsvpStatus.GOING]),
        maybe=tuple(by_status[RsvpStatus.MAYBE]),
        waitlist=tuple(by_status[RsvpStatus.WAITLIST]),
        declined=tuple(by_status[RsvpStatus.DECLINED]),
        attended=tuple(int(u) for u in attended),
    )


async def get_event(session: AsyncSession, *, guild_id: int, event_id: int) -> EventSnapshot:
    return await _snapshot(session, await _load(session, guild_id, event_id))


async def list_upcoming(
    session: AsyncSession, *, guild_id: int, now: datetime, limit: int = 20
) -> list[EventSnapshot]:
    """Scheduled events not yet over, soonest first."""
    events = (
        await session.scalars(
            select(Event)
            .where(
                Event.guild_id == guild_id,
                Event.status == EventStatus.SCHEDULED.value,
                Event.ends_at > now,
                Event.message_id.is_not(None),
            )
            .order_by(Event.starts_at, Event.id)
            .limit(limit)
        )
    ).all()
    return [await _snapshot(session, e) for e in events]


@dataclass(frozen=True)
class EventChoice:
    id: int
    title: str
    starts_at: datetime
    status: str


async def search_events(
    session: AsyncSession, *, guild_id: int, text: str, now: datetime, limit: int = 25
) -> list[EventChoice]:
    """For autocomplete: by number or title; upcoming first, then the most recent."""
    stmt = select(Event.id, Event.title, Event.starts_at, Event.status).where(
        Event.guild_id == guild_id, Event.message_id.is_not(None)
    )
    condition = matching(text, Event.id, Event.title)
    if condition is not None:
        stmt = stmt.where(condition)
    past = Event.ends_at <= now
    # Upcoming soonest first, then past events most recent first.
    seconds = (
        func.extract("epoch", Event.starts_at)
        if session.get_bind().dialect.name == ("postgresql")
        else func.julianday(Event.starts_at)
    )
    stmt = stmt.order_by(past, case((past, -seconds), else_=seconds)).limit(limit)
    rows = (await session.execute(stmt)).all()
    return [EventChoice(r.id, r.title, r.starts_at, r.status) for r in rows]


def parse_event_reference(raw: str) -> int:
    return parse_reference(raw, "an event")


# -- writing --------------------------------------------------------------------------------


def action_key(event_id: int, what: str) -> str:
    return f"event:{event_id}:{what}"


async def _schedule_for(
    session: AsyncSession, event: Event, settings: EventSettings, now: datetime, suffix: str = ""
) -> None:
    """Reminders still ahead, the attendance window's opening and closing. ``suffix`` makes
    the keys new when an edit reschedules (cancelled rows keep the old keys)."""
    for minutes in settings.reminders:
        due = event.starts_at - timedelta(minutes=minutes)
        if due > now:
            await schedule_action(
                session,
                kind=REMIND_ACTION,
                key=action_key(event.id, f"remind:{minutes}{suffix}"),
                due_at=due,
                now=now,
                guild_id=event.guild_id,
                entity_id=event.id,
                payload={"minutes_before": minutes},
            )
    for kind, what, due in (
        (OPEN_ACTION, "open", max(now, event.starts_at - WINDOW_BEFORE)),
        (CLOSE_ACTION, "close", event.ends_at + WINDOW_AFTER),
    ):
        await schedule_action(
            session,
            kind=kind,
            key=action_key(event.id, f"{what}{suffix}"),
            due_at=due,
            now=now,
            guild_id=event.guild_id,
            entity_id=event.id,
        )


async def _cancel_scheduled(session: AsyncSession, event_id: int, now: datetime) -> None:
    for kind in (REMIND_ACTION, OPEN_ACTION, CLOSE_ACTION):
        await cancel_actions(session, now=now, kind=kind, entity_id=event_id)


async def create_event(
    session: AsyncSession,
    *,
    guild_id: int,
    post_channel_id: int,
    host_id: int,
    spec: EventSpec,
    now: datetime,
    series_id: int | None = None,
) -> EventSnapshot:
    """Store an event and schedule its reminders and attendance window."""
    await ensure_guild_row(session, guild_id, now)
    event = Event(
        guild_id=guild_id,
        series_id=series_id,
        title=spec.title,
        description=spec.description,
        host_id=host_id,
        channel_id=spec.channel_id,
        location=spec.location,
        post_channel_id=post_channel_id,
        timezone=spec.timezone,
        starts_at=spec.starts_at,
        ends_at=spec.starts_at + spec.duration,
        capacity=spec.capacity,
        member_role_id=spec.member_role_id,
        repeat=spec.repeat,
        status=EventStatus.SCHEDULED.value,
        rsvp_seq=0,
        created_at=now,
        updated_at=now,
    )
    session.add(event)
    await session.flush()
    if event.series_id is None:
        event.series_id = event.id
    await _schedule_for(session, event, await get_event_settings(session, guild_id), now)
    await session.flush()
    return await _snapshot(session, event)


async def attach_message(
    session: AsyncSession, *, event_id: int, message_id: int, discord_event_id: int | None
) -> None:
    await session.execute(
        update(Event)
        .where(Event.id == event_id)
        .values(message_id=message_id, discord_event_id=discord_event_id)
    )


async def discard_event(session: AsyncSession, *, event_id: int, now: datetime) -> None:
    """Its message could not be posted: forget the event as if it never was."""
    await _cancel_scheduled(session, event_id, now)
    event = await session.get(Event, event_id)
    if event is not None:
        await session.delete(event)


def _check_manager(event: Event, user_id: int, is_moderator: bool, doing: str) -> None:
    if user_id != event.host_id and not is_moderator:
        raise PermissionDeniedError(
            f"Only the event's host or a moderator can {doing} it. Ask <@{event.host_id}>."
        )


@dataclass(frozen=True)
class RsvpResult:
    event: EventSnapshot
    status: str  # the member's status now
    previous: str | None
    promoted: tuple[int, ...] = ()  # members moved from the waitlist to Going

    @property
    def changed(self) -> bool:
        return self.status != self.previous


@dataclass(frozen=True)
class RsvpReceipt:
    result: RsvpResult
    waitlist_position: int | None = None


async def rsvp(
    session: AsyncSession,
    *,
    guild_id: int,
    event_id: int,
    user_id: int,
    role_ids: Iterable[int],
    choice: RsvpStatus,
    now: datetime,
) -> RsvpReceipt:
    """Going / Maybe / Can't go. Going beyond capacity joins the waitlist, first come first
    served; leaving Going promotes the first in line. Changes allowed until the start, a
    first answer until the end."""
    if choice == RsvpStatus.WAITLIST:
        raise ValueError("the waitlist is not a choice: choose going")
    event = await _load(session, guild_id, event_id, lock=True)
    if event.status == EventStatus.CANCELLED:
        raise PermissionDeniedError(
            "This event was cancelled"
            + (f": {event.cancel_reason}" if event.cancel_reason else ".")
        )
    if event.status == EventStatus.ENDED or now >= event.ends_at:
        raise PermissionDeniedError(
            f"This event ended <t:{int(event.ends_at.timestamp())}:R>; RSVPs are closed."
        )
    mine = await session.get(EventRsvp, (event.id, user_id), with_for_update=True)
    # The role is needed to come, not to give a seat up (a member who lost it can still say
    # they can't make it, and the next in line moves up).
    needs_role = mine is None or choice == RsvpStatus.GOING
    if (
        needs_role
        and event.member_role_id is not None
        and event.member_role_id not in set(role_ids)
    ):
        raise PermissionDeniedError(
            f"This event is for members with the <@&{event.member_role_id}> role; you don't have "
            "it, so you can't RSVP."
        )
    previous = mine.status if mine is not None else None
    same = previous == choice or (previous == RsvpStatus.WAITLIST and choice == RsvpStatus.GOING)
    if mine is not None and now >= event.starts_at and not same:
        raise PermissionDeniedError(
            f"The event started <t:{int(event.starts_at.timestamp())}:R>; RSVPs can't be "
            "changed any more."
        )
    promoted: tuple[int, ...] = ()
    target: RsvpStatus = choice
    if choice == RsvpStatus.GOING and previous not in (RsvpStatus.GOING, RsvpStatus.WAITLIST):
        going = await _count(session, event.id, RsvpStatus.GOING)
        if event.capacity is not None and going >= event.capacity:
            target = RsvpStatus.WAITLIST
    elif choice == RsvpStatus.GOING:
        target = RsvpStatus(previous or choice)  # already going, or already in line: keep the place
    if mine is None:
        event.rsvp_seq += 1
        mine = EventRsvp(
            event_id=event.id, user_id=user_id, status=target, seq=event.rsvp_seq, updated_at=now
        )
        session.add(mine)
    elif target != previous:
        if target in (RsvpStatus.GOING, RsvpStatus.WAITLIST):
            event.rsvp_seq += 1
            mine.seq = event.rsvp_seq  # back of the line when (re)joining it
        mine.status = target
        mine.updated_at = now
        mine.promoted_unseen = False
    await session.flush()
    if previous == RsvpStatus.GOING and target != RsvpStatus.GOING:
        promoted = await _promote(session, event, now)
    snapshot = await _snapshot(session, event)
    position = snapshot.waitlist.index(user_id) + 1 if target == RsvpStatus.WAITLIST else None
    result = RsvpResult(event=snapshot, status=target, previous=previous, promoted=promoted)
    return RsvpReceipt(result=result, waitlist_position=position)


async def _count(session: AsyncSession, event_id: int, status: RsvpStatus) -> int:
    n = await session.scalar(
        select(func.count()).where(EventRsvp.event_id == event_id, EventRsvp.status == status)
    )
    return int(n or 0)


async def _promote(session: AsyncSession, event: Event, now: datetime) -> tuple[int, ...]:
    """Fill free seats from the front of the waitlist (the event row is locked)."""
    if event.capacity is None:
        free = await _count(session, event.id, RsvpStatus.WAITLIST)
    else:
        free = event.capacity - await _count(session, event.id, RsvpStatus.GOING)
    if free <= 0:
        return ()
    first = (
        await session.scalars(
            select(EventRsvp.user_id)
            .where(EventRsvp.event_id == event.id, EventRsvp.status == RsvpStatus.WAITLIST)
            .order_by(EventRsvp.seq)
            .limit(free)
        )
    ).all()
    if not first:
        return ()
    await session.execute(
        update(EventRsvp)
        .where(EventRsvp.event_id == event.id, EventRsvp.user_id.in_(first))
        .values(status=RsvpStatus.GOING.value, promoted_unseen=True, updated_at=now)
    )
    return tuple(int(u) for u in first)


async def mark_promotion_seen(
    session: AsyncSession, *, event_id: int, user_ids: Sequence[int]
) -> None:
    """They were told (by DM)."""
    if user_ids:
        await session.execute(
            update(EventRsvp)
            .where(EventRsvp.event_id == event_id, EventRsvp.user_id.in_(user_ids))
            .values(promoted_unseen=False)
        )


async def take_promotion_notices(
    session: AsyncSession, *, guild_id: int, user_id: int
) -> list[tuple[int, str, datetime]]:
    """Events where this member moved up from the waitlist and has not been told: tell them
    now (next time they interact) and mark them told. (event id, title, start)."""
    rows = (
        await session.execute(
            select(Event.id, Event.title, Event.starts_at)
            .join(EventRsvp, EventRsvp.event_id == Event.id)
            .where(
                Event.guild_id == guild_id,
                EventRsvp.user_id == user_id,
                EventRsvp.promoted_unseen.is_(True),
                EventRsvp.status == RsvpStatus.GOING.value,
            )
        )
    ).all()
    if rows:
        await session.execute(
            update(EventRsvp)
            .where(EventRsvp.user_id == user_id, EventRsvp.event_id.in_([r[0] for r in rows]))
            .values(promoted_unseen=False)
        )
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


async def cancel_event(
    session: AsyncSession,
    *,
    guild_id: int,
    event_id: int,
    user_id: int,
    is_moderator: bool,
    reason: str | None,
    now: datetime,
) -> EventSnapshot:
    event = await _load(session, guild_id, event_id, lock=True)
    _check_manager(event, user_id, is_moderator, "cancel")
    if event.status != EventStatus.SCHEDULED:
        raise InvalidInputError(f"Event #{event.id} is already {event.status}.")
    event.status = EventStatus.CANCELLED.value
    event.cancel_reason = _text(reason, what="reason", limit=300)
    event.updated_at = now
    await _cancel_scheduled(session, event.id, now)
    await session.flush()
    return await _snapshot(session, event)


@dataclass(frozen=True)
class EventChanges:
    title: str | None = None
    starts_at: datetime | None = None
    duration: timedelta | None = None
    timezone: str | None = None
    capacity: int | None = None
    remove_capacity: bool = False
    channel_id: int | None = None
    location: str | None = None
    description: str | None = None

    def empty(self) -> bool:
        return self == EventChanges()


async def edit_event(
    session: AsyncSession,
    *,
    guild_id: int,
    event_id: int,
    user_id: int,
    is_moderator: bool,
    changes: EventChanges,
    now: datetime,
) -> tuple[EventSnapshot, tuple[int, ...]]:
    """Change an event (host or moderator); reschedule what depends on its time; seats added
    go to the waitlist in order. Returns the event and who was promoted."""
    event = await _load(session, guild_id, event_id, lock=True)
    _check_manager(event, user_id, is_moderator, "edit")
    if event.status != EventStatus.SCHEDULED:
        raise InvalidInputError(f"Event #{event.id} is {event.status}; it can't be edited.")
    if changes.empty():
        raise InvalidInputError("Tell me what to change: give at least one option.")
    if changes.title is not None:
        title = _text(changes.title, what="title", limit=MAX_TITLE, required=True)
        assert title is not None
        event.title = title
    if changes.description is not None:
        event.description = _text(changes.description, what="description", limit=MAX_DESCRIPTION)
    if changes.location is not None:
        event.location = _text(changes.location, what="location", limit=MAX_LOCATION)
        event.channel_id = None
    place_before = event.channel_id
    if changes.channel_id is not None:
        event.channel_id = changes.channel_id
        event.location = None
    if event.channel_id is None and event.location is None:
        raise InvalidInputError(
            "An event needs a place: a voice or stage `channel`, or a `location`."
        )
    if changes.capacity is not None:
        if not 1 <= changes.capacity <= MAX_CAPACITY:
            raise InvalidInputError(f"Capacity is between 1 and {MAX_CAPACITY:,} seats.")
        going = await _count(session, event.id, RsvpStatus.GOING)
        if changes.capacity < going:
            raise InvalidInputError(
                f"{going} members are already going; capacity can't go below that. "
                "(Nobody is removed from an event they were promised a seat at.)"
            )
        event.capacity = changes.capacity
    if changes.remove_capacity:
        event.capacity = None
    if changes.timezone is not None:
        event.timezone = changes.timezone
    duration = changes.duration or (event.ends_at - event.starts_at)
    if not timedelta(minutes=1) <= duration <= timedelta(hours=24):
        raise InvalidInputError("An event lasts between 1 minute and 24 hours.")
    starts_at = changes.starts_at or event.starts_at
    if changes.starts_at is not None and starts_at <= now:
        raise InvalidInputError("The new start has already passed; pick a time in the future.")
    moved = starts_at != event.starts_at or starts_at + duration != event.ends_at
    event.starts_at, event.ends_at = starts_at, starts_at + duration
    event.updated_at = now
    if moved or event.channel_id != place_before:
        await _forget_open_sessions(session, event.id)
    if moved:
        await _cancel_scheduled(session, event.id, now)
        # Reminders sent for the old time say the wrong time: the new ones go out again.
        await session.execute(delete(EventReminder).where(EventReminder.event_id == event.id))
        # The old keys are taken (cancelled rows keep them): new keys for this edit, numbered
        # by how many actions the event has had, so no two edits ever share one.
        generation = await session.scalar(
            select(func.count()).where(
                ScheduledAction.entity_id == event.id,
                ScheduledAction.kind.in_((REMIND_ACTION, OPEN_ACTION, CLOSE_ACTION)),
            )
        )
        stamp = f"{int(starts_at.timestamp())}:{generation}"
        settings = await get_event_settings(session, guild_id)
        await _schedule_for(session, event, settings, now, suffix=f":{stamp}")
    if event.capacity is None or changes.capacity is not None:
        promoted = await _promote(session, event, now)
    else:
        promoted = ()
    await session.flush()
    return await _snapshot(session, event), promoted


async def _forget_open_sessions(session: AsyncSession, event_id: int) -> None:
    """The event moved (in time or place): time counted for the old window or channel is not
    attendance of the new one. Members who already attended keep it."""
    await session.execute(
        update(EventAttendance)
        .where(EventAttendance.event_id == event_id, EventAttendance.attended_at.is_(None))
        .values(present_since=None, voice_seconds=0)
    )
    await session.execute(
        update(EventAttendance)
        .where(EventAttendance.event_id == event_id)
        .values(present_since=None)
    )


# -- attendance ---------------------------------------------------------------------------


def _overlap(start: datetime, end: datetime, event: Event | EventSnapshot) -> float:
    lo = max(start, event.starts_at - WINDOW_BEFORE)
    hi = min(end, event.ends_at + WINDOW_AFTER)
    return max(0.0, (hi - lo).total_seconds())


def _window_condition(now: datetime) -> ColumnElement[bool]:
    """starts_at - 10 min <= now < ends_at + 30 min, written so the columns stay bare."""
    return and_(
        Event.status == EventStatus.SCHEDULED.value,
        Event.starts_at <= now + WINDOW_BEFORE,
        Event.ends_at > now - WINDOW_AFTER,
    )


async def channels_with_open_window(session: AsyncSession, *, now: datetime) -> set[int]:
    """Voice and stage channels of events whose attendance window is open, in any server."""
    rows = await session.scalars(
        select(Event.channel_id).where(_window_condition(now), Event.channel_id.is_not(None))
    )
    return {int(c) for c in rows if c is not None}


async def events_in_window(
    session: AsyncSession, *, guild_id: int, channel_id: int | None, now: datetime
) -> list[Event]:
    stmt = select(Event).where(Event.guild_id == guild_id, _window_condition(now))
    if channel_id is not None:
        stmt = stmt.where(Event.channel_id == channel_id)
    return list((await session.scalars(stmt)).all())


@dataclass(frozen=True)
class Attended:
    event_id: int
    user_id: int
    channel_id: int | None
    at: datetime


async def voice_moved(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    left_channel_id: int | None,
    joined_channel_id: int | None,
    now: datetime,
) -> list[Attended]:
    """A member left and/or joined a voice channel: keep their time in event windows."""
    newly: list[Attended] = []
    if left_channel_id is not None:
        for event in await events_in_window(
            session, guild_id=guild_id, channel_id=left_channel_id, now=now
        ):
            newly += await _leave(session, event, user_id, now)
    if joined_channel_id is not None:
        for event in await events_in_window(
            session, guild_id=guild_id, channel_id=joined_channel_id, now=now
        ):
            await _arrive(session, event, user_id, now)
    return newly


async def reconcile_presence(
    session: AsyncSession,
    *,
    guild_id: int,
    channel_id: int,
    present: Sequence[int],
    now: datetime,
) -> None:
    """After a restart: who is in an event's channel now. Members still there keep their
    session (they were seen before and are seen now); a session of a member who left while
    Hearth was away is dropped uncounted, since when they left is unknown (attendance is
    claimed only on evidence); members there without a session start counting now."""
    here = set(present)
    for event in await events_in_window(session, guild_id=guild_id, channel_id=channel_id, now=now):
        rows = (
            await session.scalars(
                select(EventAttendance).where(
                    EventAttendance.event_id == event.id,
                    EventAttendance.present_since.is_not(None),
                )
            )
        ).all()
        for row in rows:
            if row.user_id not in here:
                row.present_since = None
        for user_id in here:
            await _arrive(session, event, user_id, now)
    await session.flush()


async def _attendance_row(session: AsyncSession, event_id: int, user_id: int) -> EventAttendance:
    insert = dialect_insert(session)
    await session.execute(
        insert(EventAttendance)
        .values(event_id=event_id, user_id=user_id, voice_seconds=0)
        .on_conflict_do_nothing(index_elements=["event_id", "user_id"])
    )
    row = await session.get(EventAttendance, (event_id, user_id), with_for_update=True)
    assert row is not None
    return row


async def _arrive(session: AsyncSession, event: Event, user_id: int, now: datetime) -> None:
    row = await _attendance_row(session, event.id, user_id)
    if row.present_since is None:
        row.present_since = max(now, event.starts_at - WINDOW_BEFORE)


async def _leave(
    session: AsyncSession, event: Event, user_id: int, now: datetime
) -> list[Attended]:
    row = await session.get(EventAttendance, (event.id, user_id), with_for_update=True)
    if row is None or row.present_since is None:
        return []
    row.voice_seconds += int(_overlap(row.present_since, now, event))
    row.present_since = None
    return await _maybe_attended(session, event, row, now)


async def _maybe_attended(
    session: AsyncSession, event: Event, row: EventAttendance, now: datetime
) -> list[Attended]:
    if row.attended_at is not None:
        return []
    settings = await get_event_settings(session, event.guild_id)
    if row.checked_in_at is None and row.voice_seconds < settings.attendance_minutes * 60:
        return []
    row.attended_at = now
    return [Attended(event.id, row.user_id, event.channel_id, now)]


async def check_in(
    session: AsyncSession,
    *,
    guild_id: int,
    event_id: int,
    user_id: int,
    role_ids: Iterable[int],
    now: datetime,
) -> tuple[EventSnapshot, list[Attended]]:
    """The Check in button (events held elsewhere), during the attendance window only."""
    event = await _load(session, guild_id, event_id)
    snapshot = await _snapshot(session, event)
    if event.member_role_id is not None and event.member_role_id not in set(role_ids):
        raise PermissionDeniedError(
            f"This event is for members with the <@&{event.member_role_id}> role."
        )
    if snapshot.is_cancelled:
        raise PermissionDeniedError("This event was cancelled, so there is nothing to check in to.")
    if not snapshot.in_window(now):
        opens = int(snapshot.window_start.timestamp())
        if now < snapshot.window_start:
            raise PermissionDeniedError(
                f"Check-in opens <t:{opens}:R>, 10 minutes before the start."
            )
        raise PermissionDeniedError("Check-in for this event is closed.")
    row = await _attendance_row(session, event.id, user_id)
    if row.checked_in_at is None:
        row.checked_in_at = now
    newly = await _maybe_attended(session, event, row, now)
    await session.flush()
    return await _snapshot(session, event), newly


async def open_window(
    session: AsyncSession, *, guild_id: int, event_id: int, present: Sequence[int], now: datetime
) -> EventSnapshot | None:
    """The window opens: members already in the channel start counting from now."""
    event = await _load(session, guild_id, event_id, lock=True)
    if event.status != EventStatus.SCHEDULED:
        return None
    for user_id in present:
        await _arrive(session, event, user_id, now)
    await session.flush()
    return await _snapshot(session, event)


@dataclass(frozen=True)
class WindowClosed:
    event: EventSnapshot
    attended: list[Attended]
    next_spec: EventSpec | None  # the next occurrence of a recurring event, to create


async def close_window(
    session: AsyncSession, *, guild_id: int, event_id: int, now: datetime
) -> WindowClosed | None:
    """The window closes: open voice sessions end at the window's end; attendance is final;
    a recurring event's next occurrence is returned for the caller to create and post."""
    event = await _load(session, guild_id, event_id, lock=True)
    if event.status != EventStatus.SCHEDULED:
        return None
    end = event.ends_at + WINDOW_AFTER
    open_rows = (
        await session.scalars(
            select(EventAttendance).where(
                EventAttendance.event_id == event.id, EventAttendance.present_since.is_not(None)
            )
        )
    ).all()
    attended: list[Attended] = []
    for row in open_rows:
        assert row.present_since is not None
        row.voice_seconds += int(_overlap(row.present_since, min(now, end), event))
        row.present_since = None
        attended += await _maybe_attended(session, event, row, min(now, end))
    event.status = EventStatus.ENDED.value
    event.updated_at = now
    next_spec = None
    if event.repeat != "none":
        zone = ZoneInfo(event.timezone)
        # The series' first occurrence holds its day of month and local time: a monthly event
        # on the 31st returns to the 31st after February, a 02:30 moved by a DST gap to 02:30.
        first = await session.get(Event, event.series_id) if event.series_id else None
        anchor = (first or event).starts_at.astimezone(zone)

        def step(after: datetime) -> datetime:
            return next_occurrence(
                after,
                tz=zone,
                repeat=event.repeat,
                anchor_day=anchor.day,
                anchor_time=anchor.time().replace(tzinfo=None),
            )

        start = step(event.starts_at)
        while start <= now:  # the bot was down for a whole period: skip to the next ahead
            start = step(start)
        next_spec = EventSpec(
            title=event.title,
            starts_at=start,
            duration=event.ends_at - event.starts_at,
            timezone=event.timezone,
            capacity=event.capacity,
            channel_id=event.channel_id,
            location=event.location,
            description=event.description,
            member_role_id=event.member_role_id,
            repeat=event.repeat,
        )
    await session.flush()
    return WindowClosed(await _snapshot(session, event), attended, next_spec)


async def attendance_details(
    session: AsyncSession, *, guild_id: int, event_id: int
) -> dict[int, tuple[int, bool]]:
    """Per member with an attendance row: (voice seconds in the window, checked in)."""
    event = await _load(session, guild_id, event_id)
    rows = await session.execute(
        select(
            EventAttendance.user_id, EventAttendance.voice_seconds, EventAttendance.checked_in_at
        ).where(EventAttendance.event_id == event.id)
    )
    return {int(u): (int(s), c is not None) for u, s, c in rows}


# -- reminders --------------------------------------------------------------------------------


async def claim_reminders(
    session: AsyncSession, *, guild_id: int, event_id: int, minutes_before: int, now: datetime
) -> tuple[EventSnapshot, list[int]] | None:
    """Who gets this reminder: Going members who accepted DMs and whose inbox is open, each
    claimed once (a row per member and reminder, written before the DM is sent, so a restart
    never sends it twice). None if the event was cancelled or has started: skip."""
    event = await _load(session, guild_id, event_id)
    if event.status != EventStatus.SCHEDULED or now >= event.starts_at:
        return None
    candidates = (
        await session.scalars(
            select(EventRsvp.user_id)
            .join(
                Member,
                and_(Member.guild_id == event.guild_id, Member.user_id == EventRsvp.user_id),
            )
            .where(
                EventRsvp.event_id == event.id,
                EventRsvp.status == RsvpStatus.GOING.value,
                Member.dm_consent.is_(True),
                Member.dm_closed.is_(False),
            )
            .order_by(EventRsvp.seq)
        )
    ).all()
    if not candidates:
        return await _snapshot(session, event), []
    insert = dialect_insert(session)
    claimed = (
        await session.scalars(
            insert(EventReminder)
            .values(
                [
                    {
                        "event_id": event.id,
                        "user_id": u,
                        "minutes_before": minutes_before,
                        "sent_at": now,
                    }
                    for u in candidates
                ]
            )
            .on_conflict_do_nothing(index_elements=["event_id", "user_id", "minutes_before"])
            .returning(EventReminder.user_id)
        )
    ).all()
    return await _snapshot(session, event), sorted(int(u) for u in claimed)


# -- metrics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttendanceStats:
    events: int  # events that ended in the period
    rsvps_going: int
    attended: int
    attended_of_going: int
    repeat_attendees: int  # attended at least 2 of the server's last 4 ended events

    @property
    def conversion(self) -> float | None:
        return self.attended_of_going / self.rsvps_going if self.rsvps_going else None


async def attendance_stats(
    session: AsyncSession, *, guild_id: int, start: datetime, end: datetime
) -> AttendanceStats:
    """Events that started in [start, end): RSVP-to-attendance conversion; and repeat
    attendees over the last 4 ended events before ``end``."""
    in_period = and_(
        Event.guild_id == guild_id,
        Event.status == EventStatus.ENDED.value,
        Event.starts_at >= start,
        Event.starts_at < end,
    )
    ids = list((await session.scalars(select(Event.id).where(in_period))).all())
    going = attended = attended_of_going = 0
    if ids:
        going = int(
            await session.scalar(
                select(func.count()).where(
                    EventRsvp.event_id.in_(ids), EventRsvp.status == RsvpStatus.GOING.value
                )
            )
            or 0
        )
        came = EventAttendance.attended_at.is_not(None)
        attended = int(
            await session.scalar(
                select(func.count()).where(EventAttendance.event_id.in_(ids), came)
            )
            or 0
        )
        attended_of_going = int(
            await session.scalar(
                select(func.count())
                .select_from(EventAttendance)
                .join(
                    EventRsvp,
                    and_(
                        EventRsvp.event_id == EventAttendance.event_id,
                        EventRsvp.user_id == EventAttendance.user_id,
                    ),
                )
                .where(
                    EventAttendance.event_id.in_(ids),
                    came,
                    EventRsvp.status == RsvpStatus.GOING.value,
                )
            )
            or 0
        )
    last_four = list(
        (
            await session.scalars(
                select(Event.id)
                .where(
                    Event.guild_id == guild_id,
                    Event.status == EventStatus.ENDED.value,
                    Event.starts_at < end,
                )
                .order_by(Event.starts_at.desc())
                .limit(4)
            )
        ).all()
    )
    repeat = 0
    if last_four:
        per_member = (
            select(EventAttendance.user_id)
            .where(
                EventAttendance.event_id.in_(last_four), EventAttendance.attended_at.is_not(None)
            )
            .group_by(EventAttendance.user_id)
            .having(func.count() >= 2)
            .subquery()
        )
        repeat = int(await session.scalar(select(func.count()).select_from(per_member)) or 0)
    return AttendanceStats(len(ids), going, attended, attended_of_going, repeat)
