"""Polls: create, vote, close, read results. The rules live here; cogs/polls renders them.

Exact under a rush: a member's vote is one ballot row keyed by (poll, voter), written with an
upsert and changed under that row's lock, so double clicks and click storms leave one vote
(a unique key, not a lock in memory). A vote takes a shared lock on the poll row and closing
takes an exclusive one, so no vote lands in a poll after its counts were frozen.

Anonymous polls store a ballot under ``voter_key()``, an HMAC of (poll, member) with the
settings' secret key; at close the ballots are deleted and only the counts stay. Nothing here
logs a voter.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pytimeparse2 import parse as parse_timespan  # type: ignore[import-untyped]
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import MAX_OPTIONS, Poll, PollBallot, PollOption, dialect_insert
from services.activity import ensure_guild_row
from services.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from services.lookup import matching, parse_reference
from services.scheduling import cancel_actions, schedule_action

CLOSE_ACTION = "polls.close"
MIN_OPTIONS = 2
MAX_OPTION_LENGTH = 80
MAX_QUESTION_LENGTH = 300
DEFAULT_DURATION = timedelta(hours=24)
MIN_DURATION = timedelta(minutes=1)
MAX_DURATION = timedelta(days=32)
OPTION_SEPARATOR = "|"


# -- input ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollSpec:
    """A poll as asked for, already validated."""

    question: str
    options: tuple[str, ...]
    choices: int = 1
    duration: timedelta = DEFAULT_DURATION
    anonymous: bool = False
    hide_results: bool = False
    voter_role_id: int | None = None


def parse_options(raw: str) -> tuple[str, ...]:
    """``"Red | Green | Blue"`` -> the options, checked: 2-25, 1-80 characters, no duplicates."""
    parts = [" ".join(p.split()) for p in raw.split(OPTION_SEPARATOR)]
    if any(p == "" for p in parts) and len([p for p in parts if p]) >= MIN_OPTIONS:
        raise InvalidInputError(
            "One of the options is empty: check for a doubled `|` or one at the start or end."
        )
    options = [p for p in parts if p]
    if len(options) < MIN_OPTIONS:
        raise InvalidInputError(
            f"A poll needs at least {MIN_OPTIONS} options, separated by `|`, "
            "like `Pizza | Tacos | Sushi`."
        )
    if len(options) > MAX_OPTIONS:
        raise InvalidInputError(
            f"That's {len(options)} options; a poll can have at most {MAX_OPTIONS}."
        )
    long = [i for i, o in enumerate(options, 1) if len(o) > MAX_OPTION_LENGTH]
    if long:
        raise InvalidInputError(
            f"Option {long[0]} is {len(options[long[0] - 1])} characters long; "
            f"each option can have at most {MAX_OPTION_LENGTH}."
        )
    seen: dict[str, int] = {}
    for i, option in enumerate(options, 1):
        key = option.casefold()
        if key in seen:
            raise InvalidInputError(
                f"Options {seen[key]} and {i} are the same ({option!r}); each option must be "
                "different."
            )
        seen[key] = i
    return tuple(options)


def parse_question(raw: str) -> str:
    question = raw.strip()
    if not question:
        raise InvalidInputError("The question is empty: what would you like to ask?")
    if len(question) > MAX_QUESTION_LENGTH:
        raise InvalidInputError(
            f"The question is {len(question)} characters long; at most "
            f"{MAX_QUESTION_LENGTH} fit. Could you shorten it?"
        )
    return question


_HAS_UNIT = re.compile(r"[a-zA-Z]")


def parse_duration(raw: str | None) -> timedelta:
    """``30m``, ``2h``, ``3d``, ``1w``, ``2h30m``, ``1 day`` (parsed by pytimeparse2)."""
    if raw is None or not raw.strip():
        return DEFAULT_DURATION
    text = raw.strip()
    seconds = parse_timespan(text) if _HAS_UNIT.search(text) else None
    if seconds is None:
        raise InvalidInputError(
            f"I couldn't read {text!r} as a duration. Use a number and a unit, like `30m`, "
            "`2h`, `3d` or `1w`."
        )
    duration = timedelta(seconds=float(seconds))
    if duration < MIN_DURATION:
        raise InvalidInputError("A poll must stay open for at least 1 minute.")
    if duration > MAX_DURATION:
        raise InvalidInputError("A poll can stay open for at most 32 days (`32d`).")
    return duration


def build_spec(
    *,
    question: str,
    options: str,
    choices: int | None = None,
    duration: str | None = None,
    anonymous: bool = False,
    hide_results: bool = False,
    voter_role_id: int | None = None,
) -> PollSpec:
    """Validate everything /poll create was given; raise with what to fix."""
    parsed_question = parse_question(question)
    parsed_options = parse_options(options)
    picks = 1 if choices is None else choices
    if not 1 <= picks <= len(parsed_options):
        raise InvalidInputError(
            f"`choices` is how many options each member may pick: between 1 and "
            f"{len(parsed_options)} for this poll, not {picks}."
        )
    return PollSpec(
        question=parsed_question,
        options=parsed_options,
        choices=picks,
        duration=parse_duration(duration),
        anonymous=anonymous,
        hide_results=hide_results,
        voter_role_id=voter_role_id,
    )


def parse_poll_reference(raw: str) -> int:
    """What a member typed or autocomplete filled in: ``12``, ``#12``, ``#12 · Question``."""
    return parse_reference(raw, "a poll")


def voter_key(secret: bytes, poll_id: int, user_id: int) -> str:
    """Who a ballot belongs to in an anonymous poll: HMAC-SHA256(secret, poll, member).

    Per poll, so the same member's ballots in two polls do not share a value; without the
    secret (never stored in the database) it cannot be computed from a member id.
    """
    message = f"hearth-poll:{poll_id}:{user_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def bits(picks: int) -> list[int]:
    return [i for i in range(MAX_OPTIONS) if picks >> i & 1]


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollSnapshot:
    """A poll and its tallies at one moment, as everything that renders it needs them."""

    id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    creator_id: int
    question: str
    options: tuple[str, ...]
    counts: tuple[int, ...]
    voters: int
    choices: int
    anonymous: bool
    hide_results: bool
    voter_role_id: int | None
    created_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    closed_by: int | None
    eligible: int | None

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    def accepts_votes(self, now: datetime) -> bool:
        return self.closed_at is None and now < self.closes_at

    @property
    def total_votes(self) -> int:
        return sum(self.counts)

    @property
    def results_visible(self) -> bool:
        return self.is_closed or not self.hide_results

    def winners(self) -> list[int]:
        """Positions with the most votes (several on a tie); none without votes."""
        top = max(self.counts, default=0)
        return [i for i, c in enumerate(self.counts) if c == top] if top > 0 else []

    def share(self, position: int) -> float:
        """An option's share of the voters (of ballots, so multi-choice shares add past 100%)."""
        return self.counts[position] / self.voters if self.voters else 0.0


@dataclass(frozen=True)
class VoteReceipt:
    poll: PollSnapshot
    picked: tuple[int, ...]
    first_vote: bool  # a new ballot, not a change: counts as activity
    changed: bool = True


@dataclass
class _Tally:
    counts: list[int] = field(default_factory=list)
    voters: int = 0


async def _tally(session: AsyncSession, poll_id: int, n_options: int) -> _Tally:
    """Counts per option from the ballots: one row per distinct set of picks."""
    rows = await session.execute(
        select(PollBallot.picks, func.count())
        .where(PollBallot.poll_id == poll_id, PollBallot.picks != 0)
        .group_by(PollBallot.picks)
    )
    tally = _Tally(counts=[0] * n_options)
    for picks, n in rows:
        tally.voters += int(n)
        for i in bits(int(picks)):
            if i < n_options:
                tally.counts[i] += int(n)
    return tally


async def _load(
    session: AsyncSession, guild_id: int, poll_id: int, *, lock: str | None = None
) -> Poll:
    stmt = select(Poll).where(Poll.id == poll_id)
    if lock == "share":
        stmt = stmt.with_for_update(read=True)
    elif lock == "update":
        stmt = stmt.with_for_update()
    poll = (await session.execute(stmt)).scalar_one_or_none()
    if poll is None or poll.guild_id != guild_id:
        # Another server's poll is "not found" here: its existence is none of this server's
        # business.
        raise NotFoundError(f"I can't find poll #{poll_id} in this server.")
    return poll


async def _snapshot(session: AsyncSession, poll: Poll) -> PollSnapshot:
    options = (
        await session.execute(
            select(PollOption.label, PollOption.votes)
            .where(PollOption.poll_id == poll.id)
            .order_by(PollOption.position)
        )
    ).all()
    if poll.closed_at is not None and poll.voters is not None:
        counts = [int(v or 0) for _, v in options]
        voters = poll.voters
    else:
        tally = await _tally(session, poll.id, len(options))
        counts, voters = tally.counts, tally.voters
    return PollSnapshot(
        id=poll.id,
        guild_id=poll.guild_id,
        channel_id=poll.channel_id,
        message_id=poll.message_id,
        creator_id=poll.creator_id,
        question=poll.question,
        options=tuple(label for label, _ in options),
        counts=tuple(counts),
        voters=voters,
        choices=poll.choices,
        anonymous=poll.anonymous,
        hide_results=poll.hide_results,
        voter_role_id=poll.voter_role_id,
        created_at=poll.created_at,
        closes_at=poll.closes_at,
        closed_at=poll.closed_at,
        closed_by=poll.closed_by,
        eligible=poll.eligible,
    )


async def get_poll(session: AsyncSession, *, guild_id: int, poll_id: int) -> PollSnapshot:
    """A poll of this server with its current tallies (NotFoundError for any other)."""
    return await _snapshot(session, await _load(session, guild_id, poll_id))


async def list_open_polls(session: AsyncSession, *, guild_id: int) -> list[PollSnapshot]:
    """Open polls of this server, the soonest to close first."""
    polls = (
        (
            await session.execute(
                select(Poll)
                .where(
                    Poll.guild_id == guild_id,
                    Poll.closed_at.is_(None),
                    Poll.message_id.is_not(None),
                )
                .order_by(Poll.closes_at, Poll.id)
            )
        )
        .scalars()
        .all()
    )
    return [await _snapshot(session, p) for p in polls]


async def open_poll_ids(
    session: AsyncSession, *, guild_ids: Sequence[int]
) -> list[tuple[int, int]]:
    """(guild, poll) of every posted, open poll in these guilds."""
    if not guild_ids:
        return []
    rows = await session.execute(
        select(Poll.guild_id, Poll.id).where(
            Poll.guild_id.in_(guild_ids), Poll.closed_at.is_(None), Poll.message_id.is_not(None)
        )
    )
    return [(int(g), int(p)) for g, p in rows]


@dataclass(frozen=True)
class PollChoice:
    id: int
    question: str
    open: bool


async def search_polls(
    session: AsyncSession, *, guild_id: int, text: str, limit: int = 25
) -> list[PollChoice]:
    """For autocomplete: this server's polls whose number or question matches, open first."""
    stmt = select(Poll.id, Poll.question, Poll.closed_at).where(
        Poll.guild_id == guild_id, Poll.message_id.is_not(None)
    )
    condition = matching(text, Poll.id, Poll.question)
    if condition is not None:
        stmt = stmt.where(condition)
    stmt = stmt.order_by(Poll.closed_at.is_not(None), Poll.id.desc()).limit(limit)
    rows = (await session.execute(stmt)).all()
    return [PollChoice(id=r.id, question=r.question, open=r.closed_at is None) for r in rows]


# -- writing --------------------------------------------------------------------------------


async def create_poll(
    session: AsyncSession,
    *,
    guild_id: int,
    channel_id: int,
    creator_id: int,
    spec: PollSpec,
    now: datetime,
    vote_secret: bytes | None,
) -> PollSnapshot:
    """Store a new poll and schedule its close. The cog posts it, then calls attach_message."""
    if spec.anonymous and not vote_secret:
        raise InvalidInputError(
            "Anonymous polls are switched off on this Hearth: whoever runs the bot needs to "
            "set SECRET_KEY (see the README). You can still run a public poll."
        )
    await ensure_guild_row(session, guild_id, now)
    poll = Poll(
        guild_id=guild_id,
        channel_id=channel_id,
        creator_id=creator_id,
        question=spec.question,
        choices=spec.choices,
        anonymous=spec.anonymous,
        hide_results=spec.hide_results,
        voter_role_id=spec.voter_role_id,
        created_at=now,
        closes_at=now + spec.duration,
    )
    session.add(poll)
    await session.flush()
    session.add_all(
        PollOption(poll_id=poll.id, position=i, label=label) for i, label in enumerate(spec.options)
    )
    await schedule_action(
        session,
        kind=CLOSE_ACTION,
        key=close_key(poll.id),
        due_at=poll.closes_at,
        now=now,
        guild_id=guild_id,
        entity_id=poll.id,
    )
    await session.flush()
    return await _snapshot(session, poll)


def close_key(poll_id: int) -> str:
    return f"poll:{poll_id}:close"


async def attach_message(session: AsyncSession, *, poll_id: int, message_id: int) -> None:
    await session.execute(update(Poll).where(Poll.id == poll_id).values(message_id=message_id))


async def discard_poll(session: AsyncSession, *, poll_id: int, now: datetime) -> None:
    """The poll message could not be posted: forget the poll as if it never was."""
    await cancel_actions(session, now=now, key=close_key(poll_id))
    await session.execute(delete(PollBallot).where(PollBallot.poll_id == poll_id))
    await session.execute(delete(PollOption).where(PollOption.poll_id == poll_id))
    await session.execute(delete(Poll).where(Poll.id == poll_id))


def _closed_message(poll: Poll | PollSnapshot) -> str:
    closed = poll.closed_at or poll.closes_at
    stamp = int(closed.timestamp())
    return f"This poll closed <t:{stamp}:R> (<t:{stamp}:f>); votes are no longer taken."


def check_can_vote(poll: PollSnapshot | Poll, role_ids: Iterable[int], now: datetime) -> None:
    if poll.closed_at is not None or now >= poll.closes_at:
        raise PermissionDeniedError(_closed_message(poll))
    if poll.voter_role_id is not None and poll.voter_role_id not in set(role_ids):
        raise PermissionDeniedError(
            f"This poll is for members with the <@&{poll.voter_role_id}> role; you don't have "
            "it, so your vote can't be counted."
        )


async def cast_vote(
    session: AsyncSession,
    *,
    guild_id: int,
    poll_id: int,
    user_id: int,
    role_ids: Iterable[int],
    now: datetime,
    vote_secret: bytes | None,
    add: int | None = None,
    replace: Sequence[int] | None = None,
) -> VoteReceipt:
    """Record a member's vote: ``add`` one option (a button) or ``replace`` all their picks
    (a select menu). Single-choice polls always replace: clicking another option changes the
    vote. Repeating a vote changes nothing.
    """
    if (add is None) == (replace is None):
        raise ValueError("give exactly one of add or replace")
    # A shared lock: votes run side by side, closing (an exclusive lock) waits for them.
    poll = await _load(session, guild_id, poll_id, lock="share")
    check_can_vote(poll, role_ids, now)
    n_options = await session.scalar(
        select(func.count()).select_from(PollOption).where(PollOption.poll_id == poll.id)
    )
    wanted = [add] if add is not None else list(replace or [])
    if not wanted:
        raise InvalidInputError("Pick at least one option (or use **Clear my vote**).")
    if any(not 0 <= i < int(n_options or 0) for i in wanted):
        raise InvalidInputError("That option isn't part of this poll any more.")
    if len(set(wanted)) > poll.choices:
        raise InvalidInputError(
            f"You can pick at most {poll.choices} option{'s' if poll.choices != 1 else ''} here."
        )

    voter = _voter(poll, user_id, vote_secret)
    insert = dialect_insert(session)
    created = await session.execute(
        insert(PollBallot)
        .values(
            poll_id=poll.id,
            voter=voter,
            user_id=None if poll.anonymous else user_id,
            picks=0,
        )
        .on_conflict_do_nothing(index_elements=["poll_id", "voter"])
    )
    first_vote = bool(getattr(created, "rowcount", 0))
    # The ballot row's lock serialises one member's concurrent clicks on PostgreSQL (SQLite
    # serialises every writer already).
    current = int(
        await session.scalar(
            select(PollBallot.picks)
            .where(PollBallot.poll_id == poll.id, PollBallot.voter == voter)
            .with_for_update()
        )
        or 0
    )
    if replace is not None or poll.choices == 1:
        picks = 0
        for i in wanted:
            picks |= 1 << i
    else:
        assert add is not None
        picks = current | 1 << add
        if len(bits(picks)) > poll.choices:
            labels = await _labels(session, poll.id)
            mine = ", ".join(f"**{labels[i]}**" for i in bits(current))
            raise InvalidInputError(
                f"You already picked {poll.choices}: {mine}. To pick something else, use "
                "**Clear my vote** and vote again."
            )
    if picks != current:
        await session.execute(
            update(PollBallot)
            .where(PollBallot.poll_id == poll.id, PollBallot.voter == voter)
            .values(picks=picks)
        )
    snapshot = await _snapshot(session, poll)
    return VoteReceipt(
        poll=snapshot,
        picked=tuple(bits(picks)),
        first_vote=first_vote,
        changed=picks != current,
    )


async def clear_vote(
    session: AsyncSession,
    *,
    guild_id: int,
    poll_id: int,
    user_id: int,
    now: datetime,
    vote_secret: bytes | None,
) -> tuple[PollSnapshot, bool]:
    """Withdraw a member's vote; returns the poll and whether there was one."""
    poll = await _load(session, guild_id, poll_id, lock="share")
    if poll.closed_at is not None or now >= poll.closes_at:
        raise PermissionDeniedError(_closed_message(poll))
    voter = _voter(poll, user_id, vote_secret)
    # Emptied, not deleted: a vote racing this clear always finds the row to lock (a deleted
    # row would let it update nothing and report success). Empty ballots count for nothing.
    result = await session.execute(
        update(PollBallot)
        .where(PollBallot.poll_id == poll.id, PollBallot.voter == voter, PollBallot.picks != 0)
        .values(picks=0)
    )
    return await _snapshot(session, poll), bool(getattr(result, "rowcount", 0))


def _voter(poll: Poll, user_id: int, vote_secret: bytes | None) -> str:
    if not poll.anonymous:
        return str(user_id)
    if not vote_secret:
        raise InvalidInputError(
            "This anonymous poll can't take votes right now: the bot's SECRET_KEY setting is "
            "missing. A moderator can ask whoever runs Hearth to set it back."
        )
    return voter_key(vote_secret, poll.id, user_id)


async def _labels(session: AsyncSession, poll_id: int) -> list[str]:
    rows = await session.scalars(
        select(PollOption.label).where(PollOption.poll_id == poll_id).order_by(PollOption.position)
    )
    return list(rows)


async def close_poll(
    session: AsyncSession,
    *,
    guild_id: int,
    poll_id: int,
    now: datetime,
    closed_by: int | None = None,
    is_moderator: bool = False,
    eligible: int | None = None,
) -> tuple[PollSnapshot, bool]:
    """Close a poll: freeze its counts, forget anonymous ballots, cancel the scheduled close.

    Returns the closed poll and whether this call closed it (False: it was closed already,
    which is fine: closing is idempotent, so a retried scheduled close changes nothing).
    ``closed_by`` is a member closing early: the poll's creator or a moderator.
    """
    poll = await _load(session, guild_id, poll_id, lock="update")
    if closed_by is not None and closed_by != poll.creator_id and not is_moderator:
        raise PermissionDeniedError(
            "Only the member who created this poll, or a moderator, can close it."
        )
    if poll.closed_at is not None:
        return await _snapshot(session, poll), False
    n_options = len(await _labels(session, poll.id))
    tally = await _tally(session, poll.id, n_options)
    for position, count in enumerate(tally.counts):
        await session.execute(
            update(PollOption)
            .where(PollOption.poll_id == poll.id, PollOption.position == position)
            .values(votes=count)
        )
    poll.closed_at = now
    poll.closed_by = closed_by
    poll.voters = tally.voters
    poll.eligible = eligible
    if poll.anonymous:
        # Only the counts outlive an anonymous poll.
        await session.execute(delete(PollBallot).where(PollBallot.poll_id == poll.id))
    await cancel_actions(session, now=now, key=close_key(poll.id))
    await session.flush()
    return await _snapshot(session, poll), True


@dataclass(frozen=True)
class BallotRow:
    user_id: int
    picks: tuple[int, ...]


async def public_ballots(session: AsyncSession, *, guild_id: int, poll_id: int) -> list[BallotRow]:
    """Who picked what, for a public poll's export. Anonymous polls have no such list."""
    poll = await _load(session, guild_id, poll_id)
    if poll.anonymous:
        return []
    rows = await session.execute(
        select(PollBallot.user_id, PollBallot.picks)
        .where(PollBallot.poll_id == poll.id, PollBallot.picks != 0)
        .order_by(PollBallot.user_id)
    )
    return [BallotRow(user_id=int(u), picks=tuple(bits(int(p)))) for u, p in rows if u is not None]
