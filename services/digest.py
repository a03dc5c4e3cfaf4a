"""The weekly digest: what it says (build_digest), when it goes (schedule), and to whom,
exactly once (deliveries keyed by server, recipient and ISO week).

Which week: a digest delivered in ISO week W (in the server's time zone) reports on week W-1,
the last complete week, compared with W-2. ``/digest preview`` shows the week in progress so far.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    ActivityWeekly,
    DigestDelivery,
    DigestRecipient,
    Guild,
    Member,
    Poll,
    dialect_insert,
)
from services import metrics
from services.activity import ensure_guild_row
from services.errors import InvalidInputError
from services.events import AttendanceStats, EventSnapshot, attendance_stats, list_upcoming
from services.scheduling import cancel_actions, schedule_action

SEND_ACTION = "digest.send"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SERIES_WEEKS = 8
SHOWN = 5  # names per list: thank, reach out, welcome; events coming up
MIN_MEMBERS_FOR_RATES = 5  # below this a percentage says more about chance than the community


# -- schedule -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestSchedule:
    day: int = 0  # Monday
    at: time = time(9, 0)
    csv: bool = False
    timezone: str = "UTC"
    # Bumped by every change: part of the scheduled action's key, so a new schedule never
    # collides with the cancelled row of an earlier one.
    revision: int = 0

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def describe(self) -> str:
        return f"{DAYS[self.day].title()}s at {self.at:%H:%M} ({self.timezone})"


async def get_schedule(session: AsyncSession, guild_id: int) -> DigestSchedule:
    row = (
        await session.execute(select(Guild.timezone, Guild.features).where(Guild.id == guild_id))
    ).first()
    if row is None:
        return DigestSchedule()
    saved: dict[str, Any] = (row.features or {}).get("digest") or {}
    hour, minute = (int(x) for x in str(saved.get("time", "09:00")).split(":"))
    return DigestSchedule(
        day=int(saved.get("day", 0)),
        at=time(hour, minute),
        csv=bool(saved.get("csv", False)),
        timezone=row.timezone,
        revision=int(saved.get("revision", 0)),
    )


def parse_day(text: str) -> int:
    key = text.strip().lower()
    found = [i for i, name in enumerate(DAYS) if key and name.startswith(key)]
    if len(found) != 1:
        raise InvalidInputError(f"{text!r} is not a day of the week: try `monday` or `sun`.")
    return found[0]


def parse_clock(text: str) -> time:
    """``09:00``, ``9:00``, ``21:30``, ``9am``, ``9:30 pm``."""
    match = re.fullmatch(r"\s*(\d{1,2})(?:[:.](\d{2}))?\s*([ap]m)?\s*", text.lower())
    hour = int(match.group(1)) if match else -1
    minute = int(match.group(2) or 0) if match else -1
    if match and match.group(3):
        afternoon = 12 if match.group(3) == "pm" else 0
        hour = hour % 12 + afternoon if 1 <= hour <= 12 else -1
    elif match and match.group(2) is None:
        hour = -1  # a bare number: 9 what?
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise InvalidInputError(
            f"I couldn't read {text!r} as a time of day: use 24-hour `09:00` or `9am`."
        )
    return time(hour, minute)


async def set_schedule(
    session: AsyncSession,
    *,
    guild_id: int,
    now: datetime,
    day: int | None = None,
    at: time | None = None,
    csv: bool | None = None,
) -> DigestSchedule:
    """Change when the digest goes out (the time zone is the server's), and reschedule. Call it
    with no change after the server's time zone changed."""
    await ensure_guild_row(session, guild_id, now)
    guild = await session.get(Guild, guild_id, with_for_update=True)
    assert guild is not None
    features = dict(guild.features or {})
    saved = dict(features.get("digest") or {})
    if day is not None:
        saved["day"] = day
    if at is not None:
        saved["time"] = f"{at:%H:%M}"
    if csv is not None:
        saved["csv"] = csv
    saved["revision"] = int(saved.get("revision", 0)) + 1
    features["digest"] = saved
    guild.features = features
    guild.updated_at = now
    await session.flush()
    await cancel_actions(session, now=now, kind=SEND_ACTION, guild_id=guild_id)
    await ensure_scheduled(session, guild_id=guild_id, now=now)
    return await get_schedule(session, guild_id)


def _local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as UTC. Ambiguous (the clocks go back): the first; missing (they
    jump forward): moved forward by the gap, so 02:30 on a spring-forward night is 03:30."""
    # fold=0 reads a time with the offset in force before the change: of two, the first; a
    # missing one, with the old offset, lands the length of the gap later.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def week_of(moment: datetime, tz: ZoneInfo) -> date:
    """Monday of the ISO week containing ``moment`` in ``tz``."""
    local = moment.astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def next_send(schedule: DigestSchedule, now: datetime) -> tuple[datetime, date]:
    """The next send time not yet passed (this week's, or next week's), and its week."""
    tz = schedule.zone
    monday = week_of(now, tz)
    for weeks in (0, 1, 2):
        week = monday + timedelta(weeks=weeks)
        due = _local_to_utc(week + timedelta(days=schedule.day), schedule.at, tz)
        if due > now:
            return due, week
    raise AssertionError("unreachable: a week ahead is always in the future")


def action_key(guild_id: int, week: date, schedule: DigestSchedule) -> str:
    return (
        f"digest:{guild_id}:{week.isoformat()}:{schedule.day}{schedule.at:%H%M}"
        f":r{schedule.revision}"
    )


async def ensure_scheduled(
    session: AsyncSession, *, guild_id: int, now: datetime
) -> tuple[datetime, date]:
    """Schedule the next digest of this server (a no-op if it already is)."""
    schedule = await get_schedule(session, guild_id)
    due, week = next_send(schedule, now)
    await schedule_action(
        session,
        kind=SEND_ACTION,
        key=action_key(guild_id, week, schedule),
        due_at=due,
        now=now,
        guild_id=guild_id,
        payload={"week": week.isoformat()},
    )
    return due, week


# -- recipients and deliveries ------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    user_id: int
    dm_closed: bool
    implicit: bool = False  # the server owner, as nobody was added


async def recipients(
    session: AsyncSession, *, guild_id: int, owner_id: int | None
) -> list[Recipient]:
    rows = (
        await session.execute(
            select(DigestRecipient.user_id, DigestRecipient.dm_closed)
            .where(DigestRecipient.guild_id == guild_id)
            .order_by(DigestRecipient.added_at, DigestRecipient.user_id)
        )
    ).all()
    if rows:
        return [Recipient(int(u), bool(c)) for u, c in rows]
    return [] if owner_id is None else [Recipient(owner_id, False, implicit=True)]


async def add_recipient(
    session: AsyncSession, *, guild_id: int, user_id: int, added_by: int, now: datetime
) -> None:
    """Add (or re-add, which reopens a closed inbox) a recipient."""
    await ensure_guild_row(session, guild_id, now)
    insert = dialect_insert(session)
    stmt = insert(DigestRecipient).values(
        guild_id=guild_id, user_id=user_id, added_by=added_by, added_at=now, dm_closed=False
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["guild_id", "user_id"], set_={"dm_closed": False}
        )
    )


async def remove_recipient(session: AsyncSession, *, guild_id: int, user_id: int) -> bool:
    result = await session.execute(
        delete(DigestRecipient).where(
            DigestRecipient.guild_id == guild_id, DigestRecipient.user_id == user_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_dm_closed(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> None:
    """Discord refused the DM: stop DMing them (until re-added). The implicit owner gets a row."""
    insert = dialect_insert(session)
    stmt = insert(DigestRecipient).values(
        guild_id=guild_id, user_id=user_id, added_by=user_id, added_at=now, dm_closed=True
    )
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["guild_id", "user_id"], set_={"dm_closed": True})
    )


async def claim_delivery(
    session: AsyncSession, *, guild_id: int, user_id: int, week: date, now: datetime
) -> bool:
    """Take this (server, recipient, week): True for exactly one caller, ever."""
    insert = dialect_insert(session)
    result = await session.execute(
        insert(DigestDelivery)
        .values(guild_id=guild_id, user_id=user_id, week=week, status="sending", at=now)
        .on_conflict_do_nothing(index_elements=["guild_id", "user_id", "week"])
    )
    return bool(getattr(result, "rowcount", 0))


async def finish_delivery(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    week: date,
    status: str,
    now: datetime,
    detail: str | None = None,
) -> None:
    await session.execute(
        update(DigestDelivery)
        .where(
            DigestDelivery.guild_id == guild_id,
            DigestDelivery.user_id == user_id,
            DigestDelivery.week == week,
        )
        .values(status=status, detail=(detail or None) and detail[:300], at=now)
    )


@dataclass(frozen=True)
class DeliveryRow:
    user_id: int
    week: date
    status: str
    detail: str | None
    at: datetime


async def recent_deliveries(
    session: AsyncSession, *, guild_id: int, limit: int = 10
) -> list[DeliveryRow]:
    rows = await session.execute(
        select(DigestDelivery)
        .where(DigestDelivery.guild_id == guild_id)
        .order_by(DigestDelivery.week.desc(), DigestDelivery.at.desc())
        .limit(limit)
    )
    return [DeliveryRow(int(d.user_id), d.week, d.status, d.detail, d.at) for d in rows.scalars()]


# -- what it says -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityTotals:
    messages: int = 0
    activity_blocks: int = 0
    voice_minutes: int = 0


@dataclass(frozen=True)
class PollTotals:
    closed: int = 0
    voters: int = 0
    eligible: int = 0

    @property
    def turnout(self) -> float | None:
        return metrics.ratio(self.voters, self.eligible) if self.eligible else None


@dataclass(frozen=True)
class WeekPoint:
    """One week of the chart."""

    start: date
    active: int
    members: int

    @property
    def engagement(self) -> float | None:
        return metrics.ratio(self.active, self.members) if self.members else None


@dataclass(frozen=True)
class Digest:
    guild_id: int
    now: datetime
    in_progress: bool  # a preview of the week so far
    weekly: metrics.WeeklyMetrics
    totals: ActivityTotals
    totals_before: ActivityTotals
    polls: PollTotals
    polls_before: PollTotals
    events: AttendanceStats
    events_before: AttendanceStats
    drifting: tuple[metrics.DriftingMember, ...]
    newcomers: tuple[metrics.NewMember, ...]
    upcoming: tuple[EventSnapshot, ...]
    series: tuple[WeekPoint, ...]  # oldest first, the reported week last
    cohorts: metrics.CohortTable

    @property
    def period(self) -> metrics.Period:
        return self.weekly.period

    @property
    def tiny(self) -> bool:
        """Too few members for percentages to mean much: they read "not enough data yet"."""
        return self.weekly.current.members_total < MIN_MEMBERS_FOR_RATES


async def _activity_totals(
    session: AsyncSession, guild_id: int, weeks: Sequence[date]
) -> dict[date, ActivityTotals]:
    aw = ActivityWeekly
    rows = await session.execute(
        select(
            aw.week,
            func.sum(aw.messages),
            func.sum(aw.activity_blocks),
            func.sum(aw.voice_seconds),
        )
        .join(Member, and_(Member.guild_id == aw.guild_id, Member.user_id == aw.user_id))
        .where(aw.guild_id == guild_id, aw.week.in_(list(weeks)), metrics.counted_member())
        .group_by(aw.week)
    )
    out = {w: ActivityTotals() for w in weeks}
    for week, messages, blocks, seconds in rows:
        key = week if isinstance(week, date) else date.fromisoformat(str(week))
        out[key] = ActivityTotals(int(messages or 0), int(blocks or 0), int(seconds or 0) // 60)
    return out


async def _poll_totals(
    session: AsyncSession, guild_id: int, start: datetime, end: datetime
) -> PollTotals:
    row = (
        await session.execute(
            select(
                func.count(),
                # Turnout only over polls whose eligible count is known.
                func.sum(case((Poll.eligible.is_not(None), Poll.voters), else_=0)),
                func.sum(Poll.eligible),
            ).where(
                Poll.guild_id == guild_id,
                Poll.closed_at.is_not(None),
                Poll.closed_at >= start,
                Poll.closed_at < end,
            )
        )
    ).one()
    return PollTotals(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


async def _series(
    session: AsyncSession, guild_id: int, periods: Sequence[metrics.Period]
) -> tuple[WeekPoint, ...]:
    """Active members (from the weekly rollups) and members (present at each week's end, from
    the member rows) for each week. A member counts from their first join (unknown: always)
    until their latest leave, ignoring gaps between leaving and coming back: close enough for
    a chart; the headline numbers use the exact membership history."""
    aw = ActivityWeekly
    weeks = [p.start for p in periods]
    active_rows = await session.execute(
        select(aw.week, func.count())
        .join(Member, and_(Member.guild_id == aw.guild_id, Member.user_id == aw.user_id))
        .where(
            aw.guild_id == guild_id,
            aw.week.in_(weeks),
            aw.active_days > 0,
            metrics.counted_member(),
        )
        .group_by(aw.week)
    )
    active = {
        (w if isinstance(w, date) else date.fromisoformat(str(w))): int(n) for w, n in active_rows
    }
    present = [
        func.sum(
            case(
                (
                    and_(
                        or_(Member.first_joined_at.is_(None), Member.first_joined_at < p.end_utc),
                        or_(Member.left_at.is_(None), Member.left_at >= p.end_utc),
                    ),
                    1,
                ),
                else_=0,
            )
        )
        for p in periods
    ]
    counts = (
        await session.execute(
            select(*present).where(Member.guild_id == guild_id, metrics.counted_member())
        )
    ).one()
    return tuple(
        WeekPoint(p.start, active.get(p.start, 0), int(counts[i] or 0))
        for i, p in enumerate(periods)
    )


async def build_digest(
    session: AsyncSession, *, guild_id: int, now: datetime, weeks_ago: int = 1
) -> Digest:
    """Everything the digest shows for the week ``weeks_ago`` weeks before the one containing
    ``now`` (1: the last complete week; 0: the week so far, for previews)."""
    weekly = await metrics.weekly_metrics(
        session, guild_id=guild_id, now=now, weeks_ago=weeks_ago, top=SHOWN
    )
    period = weekly.period
    before = period.previous()
    cutoff = min(period.end_utc, now)
    tz = ZoneInfo(period.timezone)
    totals = await _activity_totals(session, guild_id, [period.start, before.start])
    periods = [
        metrics.week_bounds(tz, now, k)
        for k in range(weeks_ago + SERIES_WEEKS - 1, weeks_ago - 1, -1)
    ]
    as_of = cutoff - timedelta(microseconds=1)
    return Digest(
        guild_id=guild_id,
        now=now,
        in_progress=weekly.in_progress,
        weekly=weekly,
        totals=totals[period.start],
        totals_before=totals[before.start],
        polls=await _poll_totals(session, guild_id, period.start_utc, cutoff),
        polls_before=await _poll_totals(session, guild_id, before.start_utc, before.end_utc),
        events=await attendance_stats(
            session, guild_id=guild_id, start=period.start_utc, end=cutoff
        ),
        events_before=await attendance_stats(
            session, guild_id=guild_id, start=before.start_utc, end=before.end_utc
        ),
        drifting=await metrics.drifting_members(session, guild_id=guild_id, now=as_of, limit=SHOWN),
        newcomers=await metrics.new_and_promising(
            session, guild_id=guild_id, now=as_of, limit=SHOWN
        ),
        upcoming=tuple(await list_upcoming(session, guild_id=guild_id, now=now, limit=SHOWN)),
        series=await _series(session, guild_id, periods),
        cohorts=await metrics.cohort_table(
            session, guild_id=guild_id, now=as_of, weeks=SERIES_WEEKS
        ),
    )
