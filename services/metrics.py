"""Community metrics: how many people take part, how often, and who to thank or check on.

Every number is read from the rollups (``activity_weekly`` for guild-wide weekly numbers,
``activity_daily`` for one member's days) and the membership tables (``member``,
``membership_event``), never from raw events, so a full weekly set for a guild of 10,000
members is a handful of queries that read rows by key. Definitions, formulas, edge cases and
sources are in docs/metrics.md; keep the two in step.

House rules that shape the code:

- Periods are ISO weeks (Monday 00:00 to Monday 00:00) in the guild's IANA time zone. Rollup
  days are already local dates; membership events are UTC instants, so week bounds are
  converted with zoneinfo (a week holding a DST change is 167 or 169 hours long).
- The counted population is the guild's member rows minus bots and members who opted out of
  tracking — for every count, including the member total.
- A ratio whose denominator is 0 is ``None`` ("not enough data yet"), never a division error
  and never a misleading 0.
- ``now`` is always passed in; nothing here reads the clock.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType, SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Float, Table, and_, case, cast, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select, Subquery

from models import ActivityDaily, ActivityWeekly, Guild, Member, MembershipEvent, MembershipKind
from models.types import as_date
from services.errors import InvalidInputError
from services.events import attendance_stats

# -- weights -------------------------------------------------------------------------------------

# What one unit of each kind of participation is worth in a contributor score. Messages are not
# weighted at all: activity blocks (10-minute intervals with a message, python-discord) already
# measure conversation, and counting messages would reward splitting one thought into ten.
# See docs/metrics.md for the reasoning behind each number.
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "activity_block": 1.0,
        "reaction_given": 0.1,
        "voice_minute": 0.1,
        "thread_started": 2.0,
        "poll_vote": 1.0,
        "rsvp": 1.0,
        "event_attended": 3.0,
        "showcase_submitted": 3.0,
        "showcase_approved": 2.0,
        "showcase_featured": 5.0,
        "referral_qualified": 5.0,
    }
)

# weight name -> (rollup column, units per stored unit); voice is stored in seconds.
WEIGHT_COLUMNS: Mapping[str, tuple[str, float]] = MappingProxyType(
    {
        "activity_block": ("activity_blocks", 1.0),
        "reaction_given": ("reactions_given", 1.0),
        "voice_minute": ("voice_seconds", 1 / 60),
        "thread_started": ("threads_started", 1.0),
        "poll_vote": ("votes", 1.0),
        "rsvp": ("rsvps", 1.0),
        "event_attended": ("events_attended", 1.0),
        "showcase_submitted": ("submissions", 1.0),
        "showcase_approved": ("approvals", 1.0),
        "showcase_featured": ("features", 1.0),
        "referral_qualified": ("referrals", 1.0),
    }
)

MAX_WEEKS_AGO = 104
DRIFT_RECENT_DAYS = 14
DRIFT_BEFORE_DAYS = 28
DRIFT_MIN_DAYS = 4
NEW_MEMBER_DAYS = 30
CONTRIBUTOR_MIN_DAYS = 2


def resolve_weights(overrides: Mapping[str, Any] | None = None) -> dict[str, float]:
    """The default weights with ``overrides`` applied.

    Unknown names and values that are not finite numbers >= 0 are ignored (a typo in a guild's
    settings must not break /stats), so the result always has every known weight.
    """
    weights = dict(DEFAULT_WEIGHTS)
    for name, value in (overrides or {}).items():
        if name not in weights or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value) and value >= 0:
            weights[name] = float(value)
    return weights


# -- periods -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """Local days ``start`` (included) to ``end`` (excluded) in ``timezone``, and the same
    bounds as UTC instants (local midnight of ``start`` and of ``end``)."""

    timezone: str
    start: date
    end: date
    start_utc: datetime
    end_utc: datetime

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def hours(self) -> float:
        """Length in hours: 168 for a normal week, 167 or 169 across a DST change."""
        return (self.end_utc - self.start_utc).total_seconds() / 3600

    def previous(self) -> Period:
        length = self.end - self.start
        return local_period(ZoneInfo(self.timezone), self.start - length, self.start)


def as_zone(tz: ZoneInfo | str) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which local ``day`` begins.

    Where a DST change skips midnight itself, fold=0 gives the pre-change offset, which maps to
    the instant the clocks jump: the first moment of the day that exists.
    """
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_period(tz: ZoneInfo | str, start: date, end: date) -> Period:
    zone = as_zone(tz)
    return Period(zone.key, start, end, local_midnight(start, zone), local_midnight(end, zone))


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")


def local_today(tz: ZoneInfo | str, now: datetime) -> date:
    _require_aware(now)
    return now.astimezone(as_zone(tz)).date()


def week_bounds(tz: ZoneInfo | str, now: datetime, weeks_ago: int = 0) -> Period:
    """The ISO week (Monday to Monday, local) holding ``now``, or ``weeks_ago`` weeks before."""
    if not 0 <= weeks_ago <= MAX_WEEKS_AGO:
        raise InvalidInputError(f"Pick a week between 0 and {MAX_WEEKS_AGO} weeks ago.")
    today = local_today(tz, now)
    monday = today - timedelta(days=today.weekday(), weeks=weeks_ago)
    return local_period(tz, monday, monday + timedelta(days=7))


# -- small value helpers ---------------------------------------------------------------------------


def ratio(numerator: int | float, denominator: int | float) -> float | None:
    """numerator / denominator, or None when the denominator is 0 (not enough data yet)."""
    return None if not denominator else numerator / denominator


@dataclass(frozen=True, slots=True)
class Change:
    """A value now and in the previous period; either may be None (not enough data)."""

    current: float | None
    previous: float | None

    @property
    def delta(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def relative(self) -> float | None:
        """delta / previous, or None when there is nothing to compare with."""
        delta = self.delta
        if delta is None or self.previous is None:
            return None
        return ratio(delta, self.previous)


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodValues:
    """The headline numbers of one week (see docs/metrics.md for each definition)."""

    members_total: int
    joined: int
    left: int
    active: int  # weekly actives (WAU): at least one active day in the week
    communicators: int
    engaged: int  # active members still members at the end of the week
    engagement_rate: float | None
    monthly_active: int  # active in the 28 local days ending with the week
    stickiness: float | None  # active / monthly_active
    contributors: int  # active on >= 2 distinct days of the week
    retention_cohort: int  # first joined in the week before
    retention_returned: int  # ... and active in this week
    week1_retention: float | None
    events_attended: int
    referrals: int
    # From the events feature (services.events.attendance_stats): members who attended at
    # least 2 of the server's last 4 ended events as of the period's end, and the share of
    # Going RSVPs to the period's ended events that became attendances.
    repeat_attendees: int = 0
    rsvp_conversion: float | None = None


def compare(current: PeriodValues, previous: PeriodValues) -> dict[str, Change]:
    """Every numeric field of two periods side by side."""
    return {
        f.name: Change(getattr(current, f.name), getattr(previous, f.name))
        for f in fields(PeriodValues)
    }


@dataclass(frozen=True, slots=True)
class Contributor:
    user_id: int
    score: float
    active_days: int
    activity_blocks: int
    voice_minutes: int
    events_attended: int


@dataclass(frozen=True, slots=True)
class WeeklyMetrics:
    guild_id: int
    period: Period
    now: datetime
    current: PeriodValues
    previous: PeriodValues
    top_contributors: tuple[Contributor, ...]
    weights: Mapping[str, float]

    @property
    def in_progress(self) -> bool:
        """True while the week is not over (numbers are "so far")."""
        return self.now < self.period.end_utc

    def change(self, name: str) -> Change:
        return Change(getattr(self.current, name), getattr(self.previous, name))

    def changes(self) -> dict[str, Change]:
        return compare(self.current, self.previous)


@dataclass(frozen=True, slots=True)
class CohortRow:
    """Members who first joined in week ``period``; ``active[k]`` of them were active k weeks
    later (k = 0 is the join week). None for weeks that have not started yet."""

    period: Period
    size: int
    active: tuple[int | None, ...]

    def rate(self, offset: int) -> float | None:
        if offset >= len(self.active):
            return None
        count = self.active[offset]
        return None if count is None else ratio(count, self.size)


@dataclass(frozen=True, slots=True)
class CohortTable:
    guild_id: int
    weeks: int
    rows: tuple[CohortRow, ...]  # oldest cohort first


@dataclass(frozen=True, slots=True)
class DriftingMember:
    user_id: int
    active_days_before: int  # in the 28 days before the quiet 14
    last_active_day: date


@dataclass(frozen=True, slots=True)
class NewMember:
    user_id: int
    joined_at: datetime
    active_days: int
    score: float


@dataclass(frozen=True, slots=True)
class MemberSummary:
    """What /stats me shows: one member's own participation, nobody else's."""

    user_id: int
    period: Period
    opted_out: bool
    active_days: int
    activity_blocks: int
    messages: int
    voice_minutes: int
    events_attended: int  # this week
    events_attended_total: int
    streak_weeks: int
    active_this_week: bool


# -- shared query parts --------------------------------------------------------------------------

AD = ActivityDaily
AW = ActivityWeekly
WEEKLY = typing.cast(Table, ActivityWeekly.__table__)
ME = MembershipEvent
JOINED = int(MembershipKind.JOINED)
LEFT = int(MembershipKind.LEFT)


def counted_member() -> ColumnElement[bool]:
    """Member rows that count: not a bot, not opted out of tracking."""
    return and_(Member.is_bot.is_not(True), Member.tracking_opt_out.is_not(True))


def _float(value: float) -> ColumnElement[float]:
    # A literal, not a bound parameter: asyncpg must see a double, and PostgreSQL would read a
    # bare 0.1 as NUMERIC. The value is a float we validated, never user text.
    return cast(literal_column(repr(float(value))), Float)


def score_expr(weights: Mapping[str, float], totals: Any) -> ColumnElement[float]:
    """Σ weight × units over the weighted kinds; ``totals`` maps rollup column -> expression."""
    expr: ColumnElement[float] = _float(0.0)
    for name, (column, unit) in WEIGHT_COLUMNS.items():
        weight = weights.get(name, 0.0) * unit
        if weight:
            expr = expr + _float(weight) * totals[column]
    return expr


def _between(column: Any, lo: Any, hi: Any) -> ColumnElement[bool]:
    return and_(column >= lo, column < hi)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    # FILTER (SQL:2003; PostgreSQL, SQLite >= 3.30) skips rows without a CASE per row:
    # about 10% faster than sum(CASE ...) over a guild's members on SQLite.
    return func.count().filter(condition)


async def guild_metric_settings(
    session: AsyncSession, guild_id: int
) -> tuple[ZoneInfo, dict[str, float]]:
    """The guild's time zone (UTC when unknown) and contributor weights (defaults overridden by
    ``Guild.features["metrics"]["weights"]``)."""
    row = (
        await session.execute(select(Guild.timezone, Guild.features).where(Guild.id == guild_id))
    ).first()
    if row is None:
        return ZoneInfo("UTC"), resolve_weights()
    features = row.features if isinstance(row.features, dict) else {}
    metrics = features.get("metrics")
    overrides = metrics.get("weights") if isinstance(metrics, dict) else None
    return as_zone(row.timezone or "UTC"), resolve_weights(
        overrides if isinstance(overrides, dict) else None
    )


async def guild_timezone(session: AsyncSession, guild_id: int) -> ZoneInfo:
    return (await guild_metric_settings(session, guild_id))[0]


# -- weekly metrics ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeekWindows:
    """Every bound one weekly metric set needs."""

    current: Period
    previous: Period
    before_previous: Period
    cutoff: datetime  # membership is read up to here: min(end of week, now)
    # The days a computation from raw events must read (the benchmark's baseline): from the
    # 28-day window ending with the previous week to today or the end of the week.
    scan_start: date
    scan_end: date

    @classmethod
    def of(cls, tz: ZoneInfo, now: datetime, weeks_ago: int) -> WeekWindows:
        current = week_bounds(tz, now, weeks_ago)
        previous = current.previous()
        before = previous.previous()
        today = local_today(tz, now)
        return cls(
            current=current,
            previous=previous,
            before_previous=before,
            cutoff=min(current.end_utc, now),
            scan_start=previous.end - timedelta(days=28),
            scan_end=min(current.end, today + timedelta(days=1)),
        )

    def mau_start(self, period: Period) -> date:
        return four_weeks_start(period)


@dataclass(frozen=True, slots=True)
class ActivitySource:
    """Where :func:`weekly_values` reads each member's activity from: ``join`` adds outer joins
    to the query over members, ``columns`` gives per member, for the current
    (``cur_``) and the previous (``prev_``) week: ``_days`` (active days), ``_talk`` (days
    with a message or voice), ``_events``, ``_referrals`` (NULL when none) and ``_mau`` (> 0
    when active in the four weeks ending with that week)."""

    join: Callable[[Select[Any]], Select[Any]]
    columns: Mapping[str, ColumnElement[Any]]

    @classmethod
    def per_member(cls, act: Subquery) -> ActivitySource:
        """A subquery with one row per member (``user_id`` and the columns above)."""
        return cls(
            join=lambda stmt: stmt.outerjoin(act, act.c.user_id == Member.user_id),
            columns={c.name: c for c in act.c if c.name != "user_id"},
        )


def rollup_activity(guild_id: int, w: WeekWindows) -> ActivitySource:
    """Each member's rows of weekly rollups for the current and the previous week, read
    through the primary key (guild, week, member), and whether they were active in the four
    weeks ending with each (monthly actives) — decided by :func:`_active_in_four_weeks`."""
    # Table aliases, not ORM ones: no per-attribute adaptation when the query is built.
    cur = WEEKLY.alias("wk_cur")
    prev = WEEKLY.alias("wk_prev")

    def join(stmt: Select[Any]) -> Select[Any]:
        for row, week in ((cur, w.current.start), (prev, w.previous.start)):
            stmt = stmt.outerjoin(
                row,
                and_(
                    row.c.guild_id == guild_id,
                    row.c.week == week,
                    row.c.user_id == Member.user_id,
                ),
            )
        return stmt

    columns: dict[str, ColumnElement[Any]] = {}
    for prefix, row in (("cur", cur), ("prev", prev)):
        columns[f"{prefix}_days"] = row.c.active_days
        columns[f"{prefix}_talk"] = row.c.talk_days
        columns[f"{prefix}_events"] = row.c.events_attended
        columns[f"{prefix}_referrals"] = row.c.referrals
    columns["cur_mau"] = _active_in_four_weeks(
        guild_id, w.current, or_(cur.c.active_days > 0, prev.c.active_days > 0), skip=2
    )
    columns["prev_mau"] = _active_in_four_weeks(
        guild_id, w.previous, prev.c.active_days > 0, skip=1
    )
    return ActivitySource(join=join, columns=columns)


def four_weeks_start(period: Period) -> date:
    """First day of the 28 local days ending with ``period`` (the monthly-actives window)."""
    return period.end - timedelta(days=28)


def _active_in_four_weeks(
    guild_id: int, period: Period, known_active: ColumnElement[bool], skip: int
) -> ColumnElement[int]:
    """1 when the outer query's member was active in the four weeks ending with ``period``.

    Cheapest test first: the member's rows already joined (``known_active``: the last
    ``skip`` of the four weeks); then their last active day — before the window means no,
    inside it means yes; only a member last active after the window (asked about a past
    week) has the remaining weeks read by key. No scan of four weeks of rollups."""
    start = four_weeks_start(period)
    last = Member.last_active_day
    rest = [period.start - timedelta(weeks=k) for k in range(skip, 4)]
    other_weeks = (
        select(AW.user_id)
        .where(AW.guild_id == guild_id, AW.week.in_(rest), AW.user_id == Member.user_id)
        .where(AW.active_days > 0)
        .exists()
    )
    return case(
        (known_active, 1),
        (or_(last.is_(None), last < start), 0),
        (last < period.end, 1),
        (other_weeks, 1),
        else_=0,
    )


def membership_history(guild_id: int, w: WeekWindows) -> Subquery:
    """Per member, from their membership events since the week before the previous one
    began: the last event (and last join) before the end of the week and before its start,
    the first event, first leave and first join since then, and whether they joined or left
    in the current or previous week. Older history is what the member row says (its
    joined_at/left_at follow every event), so this reads weeks of events, not years."""
    cur, prev, end, mid = w.current, w.previous, w.cutoff, w.current.start_utc
    is_join = ME.kind == JOINED
    is_left = ME.kind == LEFT

    def last(before: datetime, cond: ColumnElement[bool] | None = None) -> Any:
        when = ME.occurred_at < before if cond is None else and_(ME.occurred_at < before, cond)
        return func.max(case((when, ME.occurred_at)))

    def flag(cond: ColumnElement[bool], lo: datetime, hi: datetime) -> Any:
        return func.max(case((and_(cond, _between(ME.occurred_at, lo, hi)), 1), else_=0))

    return (
        select(
            ME.user_id.label("user_id"),
            last(end).label("last_end"),
            last(end, is_join).label("join_end"),
            last(mid).label("last_mid"),
            last(mid, is_join).label("join_mid"),
            func.min(ME.occurred_at).label("first_event"),
            func.min(case((is_left, ME.occurred_at))).label("first_left"),
            flag(is_join, cur.start_utc, end).label("joined_cur"),
            flag(is_left, cur.start_utc, end).label("left_cur"),
            flag(is_join, prev.start_utc, prev.end_utc).label("joined_prev"),
            flag(is_left, prev.start_utc, prev.end_utc).label("left_prev"),
        )
        # No upper bound: for a past week, the first event after it tells whether the member
        # was there (a leave) or not (a join) better than the member row, which later events
        # have overwritten.
        .where(ME.guild_id == guild_id, ME.occurred_at >= w.before_previous.start_utc)
        .group_by(ME.user_id)
        .subquery("mev")
    )


def _present(mev: Subquery, last: str, join: str, at: datetime) -> ColumnElement[bool]:
    """Was the member in the guild at instant ``at``? Their last event before it (in the
    window read) says so; with no event before it but some after, a first event that is a
    leave means they were there; with no events in the window, the member row's
    joined_at/left_at decide (they reflect older events, and members synced at start-up have
    no join event at all)."""
    c = mev.c
    fallback = and_(
        or_(Member.joined_at.is_(None), Member.joined_at < at),
        or_(Member.left_at.is_(None), Member.left_at >= at),
    )
    return case(
        (c[last].is_not(None), c[join] == c[last]),
        (c.first_event.is_not(None), c.first_left == c.first_event),
        else_=fallback,
    )


def _joined_in(mev: Subquery, flag: str, period: Period, cutoff: datetime) -> ColumnElement[bool]:
    return or_(
        mev.c[flag] == 1,
        and_(mev.c.first_event.is_(None), _between(Member.joined_at, period.start_utc, cutoff)),
    )


def _left_in(mev: Subquery, flag: str, period: Period, cutoff: datetime) -> ColumnElement[bool]:
    return or_(
        mev.c[flag] == 1,
        and_(mev.c.first_event.is_(None), _between(Member.left_at, period.start_utc, cutoff)),
    )


async def weekly_values(
    session: AsyncSession, guild_id: int, w: WeekWindows, source: ActivitySource
) -> tuple[PeriodValues, PeriodValues]:
    """Current and previous week's values in one query over members, their membership history
    and their activity from ``source`` (weekly rollups; the benchmark passes the same values
    computed from raw events)."""
    mev = membership_history(guild_id, w)
    a = SimpleNamespace(**source.columns)

    def new_in(period: Period) -> ColumnElement[bool]:
        """First joined in ``period`` (a member who comes back is not new)."""
        return _between(Member.first_joined_at, period.start_utc, period.end_utc)

    present_end = _present(mev, "last_end", "join_end", w.cutoff)
    present_mid = _present(mev, "last_mid", "join_mid", w.current.start_utc)
    cur_active = func.coalesce(a.cur_days, 0) > 0
    prev_active = func.coalesce(a.prev_days, 0) > 0
    columns = {
        "members_cur": _count_if(present_end),
        "members_prev": _count_if(present_mid),
        "joined_cur": _count_if(_joined_in(mev, "joined_cur", w.current, w.cutoff)),
        "joined_prev": _count_if(_joined_in(mev, "joined_prev", w.previous, w.previous.end_utc)),
        "left_cur": _count_if(_left_in(mev, "left_cur", w.current, w.cutoff)),
        "left_prev": _count_if(_left_in(mev, "left_prev", w.previous, w.previous.end_utc)),
        "active_cur": _count_if(cur_active),
        "active_prev": _count_if(prev_active),
        "engaged_cur": _count_if(and_(cur_active, present_end)),
        "engaged_prev": _count_if(and_(prev_active, present_mid)),
        "talk_cur": _count_if(a.cur_talk > 0),
        "talk_prev": _count_if(a.prev_talk > 0),
        "contrib_cur": _count_if(a.cur_days >= CONTRIBUTOR_MIN_DAYS),
        "contrib_prev": _count_if(a.prev_days >= CONTRIBUTOR_MIN_DAYS),
        "cohort_cur": _count_if(new_in(w.previous)),
        "cohort_prev": _count_if(new_in(w.before_previous)),
        "returned_cur": _count_if(and_(cur_active, new_in(w.previous))),
        "returned_prev": _count_if(and_(prev_active, new_in(w.before_previous))),
        "events_cur": func.coalesce(func.sum(a.cur_events), 0),
        "events_prev": func.coalesce(func.sum(a.prev_events), 0),
        "referrals_cur": func.coalesce(func.sum(a.cur_referrals), 0),
        "referrals_prev": func.coalesce(func.sum(a.prev_referrals), 0),
    }
    columns["mau_cur"] = _count_if(a.cur_mau > 0)
    columns["mau_prev"] = _count_if(a.prev_mau > 0)
    stmt = source.join(
        select(*(expr.label(name) for name, expr in columns.items()))
        .select_from(Member)
        .outerjoin(mev, mev.c.user_id == Member.user_id)
    ).where(Member.guild_id == guild_id, counted_member())
    row = (await session.execute(stmt)).one()._mapping
    got = {name: int(row[name] or 0) for name in columns}

    def values(s: str) -> PeriodValues:
        return PeriodValues(
            members_total=got[f"members_{s}"],
            joined=got[f"joined_{s}"],
            left=got[f"left_{s}"],
            active=got[f"active_{s}"],
            communicators=got[f"talk_{s}"],
            engaged=got[f"engaged_{s}"],
            engagement_rate=ratio(got[f"engaged_{s}"], got[f"members_{s}"]),
            monthly_active=got[f"mau_{s}"],
            stickiness=ratio(got[f"active_{s}"], got[f"mau_{s}"]),
            contributors=got[f"contrib_{s}"],
            retention_cohort=got[f"cohort_{s}"],
            retention_returned=got[f"returned_{s}"],
            week1_retention=ratio(got[f"returned_{s}"], got[f"cohort_{s}"]),
            events_attended=got[f"events_{s}"],
            referrals=got[f"referrals_{s}"],
        )

    return values("cur"), values("prev")


def rollup_member_totals(
    guild_id: int, start: date, end: date, users: Any | None = None
) -> Subquery:
    """Per member over local days [start, end): every weighted rollup column and active days.
    ``users`` (a one-column select) narrows it to those members, read by primary key."""
    columns = sorted({column for column, _ in WEIGHT_COLUMNS.values()})
    stmt = (
        select(
            AD.user_id.label("user_id"),
            func.sum(AD.active).label("active_days"),
            *(func.sum(getattr(AD, c)).label(c) for c in columns),
        )
        .where(AD.guild_id == guild_id, _between(AD.day, start, end))
        .group_by(AD.user_id)
    )
    if users is not None:
        stmt = stmt.where(AD.user_id.in_(users))
    return stmt.subquery("tot")


def weekly_member_totals(guild_id: int, week: date) -> Subquery:
    """Per member, the week's row of weekly rollups (``week`` is its Monday) with the columns
    of :func:`rollup_member_totals`."""
    columns = sorted({column for column, _ in WEIGHT_COLUMNS.values()})
    return (
        select(
            AW.user_id.label("user_id"),
            AW.active_days.label("active_days"),
            *(getattr(AW, c).label(c) for c in columns),
        )
        .where(AW.guild_id == guild_id, AW.week == week)
        .subquery("tot")
    )


async def contributors_from(
    session: AsyncSession,
    guild_id: int,
    totals: Subquery,
    weights: Mapping[str, float],
    limit: int,
) -> tuple[Contributor, ...]:
    """The ``limit`` highest scores in ``totals`` (columns of :func:`rollup_member_totals`)."""
    t = totals.c
    score = score_expr(weights, t).label("score")
    stmt = (
        select(
            t.user_id,
            score,
            t.active_days,
            t.activity_blocks,
            t.voice_seconds,
            t.events_attended,
        )
        .join(Member, and_(Member.guild_id == guild_id, Member.user_id == t.user_id))
        .where(counted_member())
        .order_by(score.desc(), t.user_id)
        .limit(limit)
    )
    out = []
    for row in await session.execute(stmt):
        value = float(row.score or 0.0)
        if value <= 0:
            break
        out.append(
            Contributor(
                user_id=int(row.user_id),
                score=round(value, 6),
                active_days=int(row.active_days or 0),
                activity_blocks=int(row.activity_blocks or 0),
                voice_minutes=int(row.voice_seconds or 0) // 60,
                events_attended=int(row.events_attended or 0),
            )
        )
    return tuple(out)


async def with_attendance(
    session: AsyncSession, guild_id: int, values: PeriodValues, period: Period, cutoff: datetime
) -> PeriodValues:
    """Add the events feature's per-event numbers (docs/metrics.md, docs/events.md)."""
    stats = await attendance_stats(
        session, guild_id=guild_id, start=period.start_utc, end=min(period.end_utc, cutoff)
    )
    return replace(
        values, repeat_attendees=stats.repeat_attendees, rsvp_conversion=stats.conversion
    )


async def weekly_metrics(
    session: AsyncSession,
    *,
    guild_id: int,
    now: datetime,
    weeks_ago: int = 0,
    weights: Mapping[str, float] | None = None,
    top: int = 5,
) -> WeeklyMetrics:
    """The headline metrics of one ISO week in the guild's time zone, as of ``now``, with the
    previous week's values for comparison and the top contributors by weighted score.

    ``weights`` (if given) override the guild's configured weights, which override the
    defaults. Three queries: guild settings, one aggregate over members (their membership
    history and five weeks of weekly rollups), the top contributors (one week's rollups).
    """
    tz, guild_weights = await guild_metric_settings(session, guild_id)
    used = resolve_weights({**guild_weights, **(weights or {})})
    w = WeekWindows.of(tz, now, weeks_ago)
    current, previous = await weekly_values(session, guild_id, w, rollup_activity(guild_id, w))
    current = await with_attendance(session, guild_id, current, w.current, w.cutoff)
    previous = await with_attendance(session, guild_id, previous, w.previous, w.previous.end_utc)
    totals = weekly_member_totals(guild_id, w.current.start)
    top_contributors = await contributors_from(session, guild_id, totals, used, top)
    return WeeklyMetrics(
        guild_id=guild_id,
        period=w.current,
        now=now,
        current=current,
        previous=previous,
        top_contributors=top_contributors,
        weights=MappingProxyType(used),
    )


async def top_contributors(
    session: AsyncSession,
    *,
    guild_id: int,
    now: datetime,
    weeks_ago: int = 0,
    limit: int = 10,
    weights: Mapping[str, float] | None = None,
) -> tuple[Contributor, ...]:
    """Members with the highest weighted score in the week (ties: lower user id first)."""
    tz, guild_weights = await guild_metric_settings(session, guild_id)
    used = resolve_weights({**guild_weights, **(weights or {})})
    period = week_bounds(tz, now, weeks_ago)
    totals = weekly_member_totals(guild_id, period.start)
    return await contributors_from(session, guild_id, totals, used, limit)


# -- cohorts -------------------------------------------------------------------------------------


def _ladder(column: Any, bounds: Sequence[Any]) -> ColumnElement[int]:
    """Index i of the half-open range [bounds[i], bounds[i + 1]) holding ``column``; NULL
    outside them."""
    whens = [(and_(column >= bounds[i], column < bounds[i + 1]), i) for i in range(len(bounds) - 1)]
    return case(*reversed(whens), else_=None)


async def cohort_table(
    session: AsyncSession, *, guild_id: int, now: datetime, weeks: int = 8
) -> CohortTable:
    """Members grouped by the week they first joined (the last ``weeks`` weeks, this one
    included) and how many of each group were active 0, 1, … weeks later."""
    if not 1 <= weeks <= 52:
        raise InvalidInputError("A cohort table covers between 1 and 52 weeks.")
    tz = await guild_timezone(session, guild_id)
    periods = [week_bounds(tz, now, k) for k in range(weeks - 1, -1, -1)]
    utc_bounds = [p.start_utc for p in periods] + [min(periods[-1].end_utc, now)]
    day_bounds = [p.start for p in periods] + [periods[-1].end]

    joined = Member.first_joined_at
    cohort = _ladder(joined, utc_bounds).label("cohort")
    newcomer = and_(
        Member.guild_id == guild_id,
        counted_member(),
        joined >= utc_bounds[0],
        joined < utc_bounds[-1],
    )
    size_rows = await session.execute(
        select(cohort, func.count()).where(newcomer).group_by(literal_column("cohort"))
    )
    sizes = {int(i): int(count) for i, count in size_rows if i is not None}
    # The (few) newcomers' weekly rollup rows, read through the primary key.
    mondays = [p.start for p in periods]
    week = _ladder(AW.week, day_bounds)
    counts: dict[tuple[int, int], int] = {}
    rows = await session.execute(
        select(cohort, week.label("week"), func.count())
        .select_from(AW)
        .join(Member, and_(Member.guild_id == AW.guild_id, Member.user_id == AW.user_id))
        .where(AW.guild_id == guild_id, AW.week.in_(mondays), AW.active_days > 0)
        .where(AW.user_id.in_(select(Member.user_id).where(newcomer)))
        .group_by(literal_column("cohort"), literal_column("week"))
    )
    for first, index, count in rows:
        if first is not None and index is not None and index >= first:
            counts[(int(first), int(index))] = int(count)
    table = []
    for i, period in enumerate(periods):
        active = tuple(counts.get((i, i + k), 0) if i + k < weeks else None for k in range(weeks))
        table.append(CohortRow(period=period, size=int(sizes.get(i, 0)), active=active))
    return CohortTable(guild_id=guild_id, weeks=weeks, rows=tuple(table))


# -- lists: drifting, new and promising ----------------------------------------------------------


async def drifting_members(
    session: AsyncSession, *, guild_id: int, now: datetime, limit: int = 10
) -> tuple[DriftingMember, ...]:
    """Current members active on at least 4 days in the 28 days before the last 14, and on none
    of the last 14 (today included). Most active before first."""
    tz = await guild_timezone(session, guild_id)
    today = local_today(tz, now)
    recent_start = today - timedelta(days=DRIFT_RECENT_DAYS - 1)
    before_start = recent_start - timedelta(days=DRIFT_BEFORE_DAYS)
    # Candidates by their last active day (kept on the member row): in the "before" window,
    # late enough to leave room for 4 active days — or after ``today`` when asked about the
    # past. Their days are then read by primary key; the quiet 14 are checked per candidate.
    earliest_last = before_start + timedelta(days=DRIFT_MIN_DAYS - 1)
    candidates = select(Member.user_id).where(
        Member.guild_id == guild_id,
        counted_member(),
        Member.left_at.is_(None),
        or_(
            _between(Member.last_active_day, earliest_last, recent_start),
            Member.last_active_day > today,
        ),
    )
    before = func.sum(AD.active)
    last_day = func.max(case((AD.active == 1, AD.day)))
    recent = aliased(ActivityDaily)
    active_lately = (
        select(recent.user_id)
        .where(recent.guild_id == guild_id, recent.user_id == AD.user_id)
        .where(recent.day >= recent_start, recent.day <= today, recent.active == 1)
        .exists()
    )
    quiet = (
        select(AD.user_id.label("user_id"), before.label("before"), last_day.label("last_day"))
        .where(AD.guild_id == guild_id, AD.user_id.in_(candidates))
        .where(_between(AD.day, before_start, recent_start))
        .group_by(AD.user_id)
        .having(and_(before >= DRIFT_MIN_DAYS, ~active_lately))
        .subquery("quiet")
    )
    q = quiet.c
    stmt = (
        select(q.user_id, q.before, q.last_day)
        .join(Member, and_(Member.guild_id == guild_id, Member.user_id == q.user_id))
        .where(counted_member(), Member.left_at.is_(None))
        .order_by(q.before.desc(), q.last_day.desc(), q.user_id)
        .limit(limit)
    )
    return tuple(
        DriftingMember(int(r.user_id), int(r.before), as_date(r.last_day))
        for r in await session.execute(stmt)
    )


async def new_and_promising(
    session: AsyncSession,
    *,
    guild_id: int,
    now: datetime,
    limit: int = 10,
    weights: Mapping[str, float] | None = None,
) -> tuple[NewMember, ...]:
    """Members who first joined in the last 30 days and are still here, most active first
    (weighted score since they joined, then active days). Members with no activity are left
    out: this is a list of people to welcome further, not a census."""
    tz, guild_weights = await guild_metric_settings(session, guild_id)
    used = resolve_weights({**guild_weights, **(weights or {})})
    since = now - timedelta(days=NEW_MEMBER_DAYS)
    joined = Member.first_joined_at
    newcomers = (
        select(Member.user_id.label("user_id"), joined.label("joined_at"))
        .where(Member.guild_id == guild_id, counted_member(), Member.left_at.is_(None))
        .where(joined >= since, joined <= now)
        .subquery("newcomers")
    )
    totals = rollup_member_totals(
        guild_id,
        local_today(tz, since),
        local_today(tz, now) + timedelta(days=1),
        users=select(newcomers.c.user_id),
    )
    score = score_expr(used, totals.c).label("score")
    stmt = (
        select(newcomers.c.user_id, newcomers.c.joined_at, totals.c.active_days, score)
        .join(totals, totals.c.user_id == newcomers.c.user_id)
        .where(totals.c.active_days > 0)
        .order_by(score.desc(), totals.c.active_days.desc(), newcomers.c.user_id)
        .limit(limit)
    )
    out = []
    for row in await session.execute(stmt):
        joined_at = row.joined_at
        if isinstance(joined_at, str):  # coalesce() loses the column type on SQLite
            joined_at = datetime.fromisoformat(joined_at)
        if joined_at.tzinfo is None:
            joined_at = joined_at.replace(tzinfo=UTC)
        out.append(
            NewMember(
                user_id=int(row.user_id),
                joined_at=joined_at,
                active_days=int(row.active_days or 0),
                score=round(float(row.score or 0.0), 6),
            )
        )
    return tuple(out)


# -- one member ----------------------------------------------------------------------------------


def streak_weeks(active_days: Sequence[date], this_week: date) -> int:
    """Consecutive ISO weeks with activity, ending with ``this_week`` (its Monday) — or with
    the week before when this one has no activity yet: a week in progress does not break a
    streak."""
    weeks = {d - timedelta(days=d.weekday()) for d in active_days}
    week = this_week if this_week in weeks else this_week - timedelta(weeks=1)
    streak = 0
    while week in weeks:
        streak += 1
        week -= timedelta(weeks=1)
    return streak


async def member_summary(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> MemberSummary:
    """One member's own participation this week, their streak and events attended."""
    tz = await guild_timezone(session, guild_id)
    period = week_bounds(tz, now)
    opted_out = bool(
        await session.scalar(
            select(Member.tracking_opt_out).where(
                Member.guild_id == guild_id, Member.user_id == user_id
            )
        )
    )
    in_week = _between(AD.day, period.start, period.end)

    def week_sum(column: Any) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((in_week, column), else_=0)), 0)

    mine = and_(AD.guild_id == guild_id, AD.user_id == user_id)
    row = (
        await session.execute(
            select(
                week_sum(AD.active).label("active_days"),
                week_sum(AD.activity_blocks).label("blocks"),
                week_sum(AD.messages).label("messages"),
                week_sum(AD.voice_seconds).label("voice"),
                week_sum(AD.events_attended).label("events"),
                func.coalesce(func.sum(AD.events_attended), 0).label("events_total"),
            ).where(mine)
        )
    ).one()
    days = (
        await session.scalars(
            select(AD.day).where(mine, AD.active == 1, AD.day < period.end).order_by(AD.day)
        )
    ).all()
    return MemberSummary(
        user_id=user_id,
        period=period,
        opted_out=opted_out,
        active_days=int(row.active_days),
        activity_blocks=int(row.blocks),
        messages=int(row.messages),
        voice_minutes=int(row.voice) // 60,
        events_attended=int(row.events),
        events_attended_total=int(row.events_total),
        streak_weeks=streak_weeks([as_date(d) for d in days], period.start),
        active_this_week=int(row.active_days) > 0,
    )


__all__ = [
    "DEFAULT_WEIGHTS",
    "Change",
    "CohortRow",
    "CohortTable",
    "Contributor",
    "DriftingMember",
    "MemberSummary",
    "NewMember",
    "Period",
    "PeriodValues",
    "WeeklyMetrics",
    "cohort_table",
    "compare",
    "drifting_members",
    "guild_metric_settings",
    "guild_timezone",
    "local_period",
    "member_summary",
    "new_and_promising",
    "ratio",
    "resolve_weights",
    "streak_weeks",
    "top_contributors",
    "week_bounds",
    "weekly_metrics",
]
