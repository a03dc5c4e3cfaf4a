"""Events on SQLite and PostgreSQL: input checks, scheduling, RSVPs with capacity and a
first-come waitlist (exact under a rush of clicks), editing and cancelling, attendance from
voice time and check-ins, recurring occurrences, reminders claimed once, statistics, search."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import (
    ActionStatus,
    Database,
    Event,
    EventAttendance,
    EventReminder,
    EventRsvp,
    EventStatus,
    Guild,
    RsvpStatus,
    ScheduledAction,
)
from services import events
from services.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from services.events import (
    CLOSE_ACTION,
    OPEN_ACTION,
    REMIND_ACTION,
    Attended,
    EventChanges,
    EventSnapshot,
    EventSpec,
    RsvpReceipt,
    WindowClosed,
)
from services.members import mark_dms_closed, set_dm_consent

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START = T0 + timedelta(days=2)  # 2026-12-03 12:00 UTC
HOUR = timedelta(hours=1)
UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
GUILD = 100_000_000_000_000_001
OTHER_GUILD = 100_000_000_000_000_002
POST_CHANNEL = 200_000_000_000_000_001
VOICE = 200_000_000_000_000_002
OTHER_VOICE = 200_000_000_000_000_003
HOST = 300_000_000_000_000_001
MOD = 300_000_000_000_000_002
ROLE = 400_000_000_000_000_001
MEMBER = 500_000_000_000_000_000  # members are MEMBER + n
A, B, C, D, E, F = (MEMBER + n for n in range(1, 7))
_messages = iter(range(600_000_000_000_000_000, 700_000_000_000_000_000))


def make_spec(**overrides: Any) -> EventSpec:
    kwargs: dict[str, Any] = {
        "title": "Board games",
        "starts_at": START,
        "duration": HOUR,
        "timezone": UTC_ZONE,
        "now": T0,
        "channel_id": VOICE,
    }
    kwargs.update(overrides)
    return events.build_spec(**kwargs)


async def make_event(
    db: Database,
    *,
    guild_id: int = GUILD,
    host_id: int = HOST,
    attach: bool = True,
    series_id: int | None = None,
    created: datetime | None = None,
    spec: EventSpec | None = None,
    **overrides: Any,
) -> EventSnapshot:
    spec = spec or make_spec(**overrides)
    async with db.writing() as s:
        event = await events.create_event(
            s,
            guild_id=guild_id,
            post_channel_id=POST_CHANNEL,
            host_id=host_id,
            spec=spec,
            now=created or overrides.get("now", T0),
            series_id=series_id,
        )
        if attach:
            await events.attach_message(
                s, event_id=event.id, message_id=next(_messages), discord_event_id=None
            )
    return event


async def rsvp(
    db: Database,
    event_id: int,
    user_id: int,
    choice: RsvpStatus = RsvpStatus.GOING,
    *,
    now: datetime = T0,
    role_ids: Sequence[int] = (),
    guild_id: int = GUILD,
) -> RsvpReceipt:
    async with db.writing() as s:
        return await events.rsvp(
            s,
            guild_id=guild_id,
            event_id=event_id,
            user_id=user_id,
            role_ids=role_ids,
            choice=choice,
            now=now,
        )


async def snapshot(db: Database, event_id: int, guild_id: int = GUILD) -> EventSnapshot:
    async with db.reading() as s:
        return await events.get_event(s, guild_id=guild_id, event_id=event_id)


async def edit(
    db: Database,
    event_id: int,
    *,
    now: datetime = T0,
    user_id: int = HOST,
    is_moderator: bool = False,
    **changes: Any,
) -> tuple[EventSnapshot, tuple[int, ...]]:
    async with db.writing() as s:
        return await events.edit_event(
            s,
            guild_id=GUILD,
            event_id=event_id,
            user_id=user_id,
            is_moderator=is_moderator,
            changes=EventChanges(**changes),
            now=now,
        )


async def cancel(
    db: Database,
    event_id: int,
    *,
    now: datetime = T0,
    user_id: int = HOST,
    is_moderator: bool = False,
    reason: str | None = None,
) -> EventSnapshot:
    async with db.writing() as s:
        return await events.cancel_event(
            s,
            guild_id=GUILD,
            event_id=event_id,
            user_id=user_id,
            is_moderator=is_moderator,
            reason=reason,
            now=now,
        )


async def voice(
    db: Database,
    user_id: int,
    now: datetime,
    *,
    left: int | None = None,
    joined: int | None = None,
) -> list[Attended]:
    async with db.writing() as s:
        return await events.voice_moved(
            s,
            guild_id=GUILD,
            user_id=user_id,
            left_channel_id=left,
            joined_channel_id=joined,
            now=now,
        )


async def open_window(
    db: Database, event_id: int, present: Sequence[int], now: datetime
) -> EventSnapshot | None:
    async with db.writing() as s:
        return await events.open_window(
            s, guild_id=GUILD, event_id=event_id, present=present, now=now
        )


async def close_window(db: Database, event_id: int, now: datetime) -> WindowClosed | None:
    async with db.writing() as s:
        return await events.close_window(s, guild_id=GUILD, event_id=event_id, now=now)


async def check_in(
    db: Database, event_id: int, user_id: int, now: datetime, role_ids: Sequence[int] = ()
) -> tuple[EventSnapshot, list[Attended]]:
    async with db.writing() as s:
        return await events.check_in(
            s, guild_id=GUILD, event_id=event_id, user_id=user_id, role_ids=role_ids, now=now
        )


async def details(db: Database, event_id: int) -> dict[int, tuple[int, bool]]:
    async with db.reading() as s:
        return await events.attendance_details(s, guild_id=GUILD, event_id=event_id)


async def claim(
    db: Database, event_id: int, minutes_before: int, now: datetime = T0
) -> tuple[EventSnapshot, list[int]] | None:
    async with db.writing() as s:
        return await events.claim_reminders(
            s, guild_id=GUILD, event_id=event_id, minutes_before=minutes_before, now=now
        )


async def consent(db: Database, user_id: int, yes: bool = True) -> None:
    async with db.writing() as s:
        await set_dm_consent(s, guild_id=GUILD, user_id=user_id, consent=yes, now=T0)


async def settings(db: Database, **kwargs: Any) -> events.EventSettings:
    async with db.writing() as s:
        return await events.set_event_settings(s, guild_id=GUILD, now=T0, **kwargs)


async def actions(db: Database, event_id: int) -> list[ScheduledAction]:
    async with db.reading() as s:
        return list(
            (
                await s.scalars(
                    select(ScheduledAction)
                    .where(
                        ScheduledAction.entity_id == event_id,
                        ScheduledAction.kind.in_([REMIND_ACTION, OPEN_ACTION, CLOSE_ACTION]),
                    )
                    .order_by(ScheduledAction.id)
                )
            ).all()
        )


def pending(rows: Sequence[ScheduledAction]) -> list[tuple[str, datetime, int | None]]:
    """(kind, due, minutes_before) of the pending actions, soonest first."""
    found = [
        (a.kind, a.due_at, (a.payload or {}).get("minutes_before"))
        for a in rows
        if a.status == ActionStatus.PENDING
    ]
    return sorted(found, key=lambda p: (p[1], p[0]))


async def rsvp_rows(db: Database, event_id: int) -> dict[int, tuple[str, int, bool]]:
    async with db.reading() as s:
        rows = await s.execute(
            select(
                EventRsvp.user_id, EventRsvp.status, EventRsvp.seq, EventRsvp.promoted_unseen
            ).where(EventRsvp.event_id == event_id)
        )
        return {int(u): (st, int(q), bool(p)) for u, st, q, p in rows}


async def notices(db: Database, user_id: int) -> list[tuple[int, str, datetime]]:
    async with db.writing() as s:
        return await events.take_promotion_notices(s, guild_id=GUILD, user_id=user_id)


# -- input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        ({"starts_at": T0}, "already passed"),
        ({"starts_at": T0 - HOUR}, "already passed"),
        ({"capacity": 0}, "between 1 and 10,000"),
        ({"capacity": 10_001}, "between 1 and 10,000"),
        ({"capacity": -5}, "between 1 and 10,000"),
        ({"duration": timedelta(0)}, "between 1 minute and 24 hours"),
        ({"duration": timedelta(seconds=59)}, "between 1 minute and 24 hours"),
        ({"duration": timedelta(hours=24, minutes=1)}, "between 1 minute and 24 hours"),
        ({"title": ""}, "title is empty"),
        ({"title": "   \n "}, "title is empty"),
        ({"title": "x" * 101}, "title is 101 characters"),
        ({"description": "d" * 1001}, "description is 1001 characters"),
        ({"channel_id": None, "location": "l" * 101}, "location is 101 characters"),
        ({"channel_id": None}, "Say where it happens"),
        ({"channel_id": None, "location": "   "}, "Say where it happens"),
        ({"repeat": "daily"}, "`repeat` is one of"),
    ],
)
def test_build_spec_refuses_with_what_to_fix(overrides: dict[str, Any], phrase: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        make_spec(**overrides)
    assert phrase in caught.value.message


def test_build_spec_past_start_names_the_time() -> None:
    with pytest.raises(InvalidInputError) as caught:
        make_spec(starts_at=T0 - HOUR)
    assert f"<t:{int((T0 - HOUR).timestamp())}:f>" in caught.value.message


def test_build_spec_accepts_the_limits_and_cleans_text() -> None:
    spec = make_spec(
        title="  Board \n games  ",
        capacity=10_000,
        duration=timedelta(hours=24),
        description="  Bring snacks.\nAnd dice.  ",
        timezone=BERLIN,
    )
    assert spec.title == "Board games"
    assert spec.description == "Bring snacks.\nAnd dice."  # line breaks kept
    assert (spec.capacity, spec.duration, spec.timezone) == (
        10_000,
        timedelta(hours=24),
        BERLIN.key,
    )
    assert spec.repeat == "none" and spec.channel_id == VOICE and spec.location is None
    assert make_spec(capacity=1, duration=timedelta(minutes=1)).capacity == 1
    assert make_spec(title="t" * 100, description="d" * 1000).title == "t" * 100
    elsewhere = make_spec(channel_id=None, location="  The   Park ", repeat="monthly")
    assert (elsewhere.location, elsewhere.channel_id, elsewhere.repeat) == (
        "The Park",
        None,
        "monthly",
    )
    # A channel wins over a written location.
    assert make_spec(location="The Park").location is None
    assert make_spec(description="   ").description is None


def test_parse_event_reference() -> None:
    assert events.parse_event_reference("12") == 12
    assert events.parse_event_reference(" #34 · Board games") == 34
    with pytest.raises(InvalidInputError) as caught:
        events.parse_event_reference("Board games")
    assert "couldn't find an event called 'Board games'" in caught.value.message


# -- creating -------------------------------------------------------------------------------


async def test_create_event_stores_it_and_schedules_reminders_and_window(db: Database) -> None:
    event = await make_event(db, capacity=50, attach=False, description="Bring dice")
    assert event.series_id == event.id
    assert (event.guild_id, event.host_id, event.post_channel_id) == (GUILD, HOST, POST_CHANNEL)
    assert (event.starts_at, event.ends_at) == (START, START + HOUR)
    assert event.window_start == START - timedelta(minutes=10)
    assert event.window_end == START + HOUR + timedelta(minutes=30)
    assert event.status == EventStatus.SCHEDULED and event.message_id is None
    assert event.seats_left == 50 and event.going == () and not event.held_elsewhere
    async with db.reading() as s:
        assert await s.get(Guild, GUILD) is not None  # created on the way

    rows = await actions(db, event.id)
    assert pending(rows) == [
        (REMIND_ACTION, START - timedelta(minutes=1440), 1440),
        (REMIND_ACTION, START - timedelta(minutes=60), 60),
        (OPEN_ACTION, START - timedelta(minutes=10), None),
        (CLOSE_ACTION, START + HOUR + timedelta(minutes=30), None),
    ]
    assert {a.guild_id for a in rows} == {GUILD}
    assert events.action_key(event.id, "open") in {a.idempotency_key for a in rows}
    assert events.action_key(event.id, "close") in {a.idempotency_key for a in rows}


async def test_reminders_already_past_are_not_scheduled(db: Database) -> None:
    in_two_hours = await make_event(db, starts_at=T0 + 2 * HOUR)
    assert pending(await actions(db, in_two_hours.id)) == [
        (REMIND_ACTION, T0 + HOUR, 60),
        (OPEN_ACTION, T0 + 2 * HOUR - timedelta(minutes=10), None),
        (CLOSE_ACTION, T0 + 3 * HOUR + timedelta(minutes=30), None),
    ]
    # Starting in 5 minutes: no reminder, and the window opens right away.
    soon = await make_event(db, starts_at=T0 + timedelta(minutes=5))
    assert pending(await actions(db, soon.id)) == [
        (OPEN_ACTION, T0, None),
        (CLOSE_ACTION, T0 + timedelta(minutes=95), None),
    ]


async def test_configured_reminder_offsets_are_used(db: Database) -> None:
    assert (await settings(db, reminders=[30, 120, 30])).reminders == (120, 30)
    event = await make_event(db)
    reminders = [p for p in pending(await actions(db, event.id)) if p[0] == REMIND_ACTION]
    assert reminders == [
        (REMIND_ACTION, START - timedelta(minutes=120), 120),
        (REMIND_ACTION, START - timedelta(minutes=30), 30),
    ]


async def test_event_settings_defaults_and_limits(db: Database) -> None:
    async with db.reading() as s:
        default = await events.get_event_settings(s, GUILD)  # no guild row yet
    assert default.attendance_minutes == 10 and default.reminders == (1440, 60)
    for bad in ({"attendance_minutes": 0}, {"attendance_minutes": 241}):
        with pytest.raises(InvalidInputError, match="between 1 and 240 minutes"):
            await settings(db, **bad)
    for reminders in ([4], [7 * 24 * 60 + 1], [60, 3]):
        with pytest.raises(InvalidInputError, match="between 5 minutes and 7 days"):
            await settings(db, reminders=reminders)
    changed = await settings(db, attendance_minutes=5)
    assert changed.attendance_minutes == 5 and changed.reminders == (1440, 60)


async def test_each_event_gets_its_own_actions(db: Database) -> None:
    one = await make_event(db)
    two = await make_event(db)
    assert len(pending(await actions(db, one.id))) == 4
    assert len(pending(await actions(db, two.id))) == 4


async def test_discarding_an_event_forgets_it(db: Database) -> None:
    event = await make_event(db, attach=False)
    async with db.writing() as s:
        await events.discard_event(s, event_id=event.id, now=T0)
    assert pending(await actions(db, event.id)) == []
    with pytest.raises(NotFoundError):
        await snapshot(db, event.id)


async def test_another_servers_event_is_not_found(db: Database) -> None:
    event = await make_event(db, guild_id=OTHER_GUILD)
    with pytest.raises(NotFoundError) as caught:
        await snapshot(db, event.id)
    assert f"#{event.id}" in caught.value.message
    with pytest.raises(NotFoundError):
        await rsvp(db, event.id, A)
    with pytest.raises(NotFoundError):
        await cancel(db, event.id, is_moderator=True)
    with pytest.raises(NotFoundError):
        await edit(db, event.id, is_moderator=True, title="Mine now")
    with pytest.raises(NotFoundError):
        await check_in(db, event.id, A, START)
    with pytest.raises(NotFoundError):
        await close_window(db, event.id, START + 2 * HOUR)
    assert (await snapshot(db, event.id, guild_id=OTHER_GUILD)).going == ()


# -- RSVPs ----------------------------------------------------------------------------------


async def test_going_within_capacity_then_waitlist(db: Database) -> None:
    event = await make_event(db, capacity=2)
    first = await rsvp(db, event.id, A)
    assert first.result.status == RsvpStatus.GOING and first.result.previous is None
    assert first.result.changed and first.waitlist_position is None
    await rsvp(db, event.id, B)
    third = await rsvp(db, event.id, C)
    fourth = await rsvp(db, event.id, D)
    assert third.result.status == RsvpStatus.WAITLIST and third.waitlist_position == 1
    assert fourth.result.status == RsvpStatus.WAITLIST and fourth.waitlist_position == 2
    assert fourth.result.event.going == (A, B) and fourth.result.event.waitlist == (C, D)
    assert fourth.result.event.seats_left == 0

    again = await rsvp(db, event.id, A)  # Going again keeps the seat
    assert again.result.status == RsvpStatus.GOING and not again.result.changed
    in_line = await rsvp(db, event.id, D)  # ... and the place in line
    assert in_line.result.status == RsvpStatus.WAITLIST and not in_line.result.changed
    assert in_line.waitlist_position == 2
    final = await snapshot(db, event.id)
    assert final.going == (A, B) and final.waitlist == (C, D)


async def test_maybe_and_declined(db: Database) -> None:
    event = await make_event(db)
    maybe = await rsvp(db, event.id, A, RsvpStatus.MAYBE)
    assert maybe.result.status == RsvpStatus.MAYBE and maybe.waitlist_position is None
    declined = await rsvp(db, event.id, B, RsvpStatus.DECLINED)
    assert declined.result.status == RsvpStatus.DECLINED
    going = await rsvp(db, event.id, A)
    assert going.result.previous == RsvpStatus.MAYBE and going.result.status == RsvpStatus.GOING
    final = await snapshot(db, event.id)
    assert final.going == (A,) and final.maybe == () and final.declined == (B,)
    assert final.seats_left is None  # no capacity, no limit
    with pytest.raises(ValueError, match="waitlist is not a choice"):
        await rsvp(db, event.id, C, RsvpStatus.WAITLIST)


async def test_unlimited_event_never_waitlists(db: Database) -> None:
    event = await make_event(db)
    for n in range(30):
        receipt = await rsvp(db, event.id, MEMBER + 100 + n)
        assert receipt.result.status == RsvpStatus.GOING
    assert len((await snapshot(db, event.id)).going) == 30


async def test_leaving_going_promotes_the_first_in_line(db: Database) -> None:
    event = await make_event(db, capacity=2)
    await rsvp(db, event.id, A)
    await rsvp(db, event.id, B)
    # In line: F, then D, then E (user ids deliberately not in line order).
    for member in (F, D, E):
        await rsvp(db, event.id, member)

    left = await rsvp(db, event.id, A, RsvpStatus.DECLINED)
    assert left.result.status == RsvpStatus.DECLINED and left.result.previous == RsvpStatus.GOING
    assert left.result.promoted == (F,)
    assert left.result.event.going == (B, F) and left.result.event.waitlist == (D, E)
    rows = await rsvp_rows(db, event.id)
    assert rows[F][0] == RsvpStatus.GOING and rows[F][2] is True  # promoted, not told yet
    assert not any(rows[m][2] for m in (A, B, D, E))

    assert await notices(db, F) == [(event.id, "Board games", START)]
    assert await notices(db, F) == []  # told once
    assert await notices(db, D) == []

    maybe = await rsvp(db, event.id, B, RsvpStatus.MAYBE)  # Maybe also leaves Going
    assert maybe.result.promoted == (D,)
    async with db.writing() as s:
        await events.mark_promotion_seen(s, event_id=event.id, user_ids=[D])
        await events.mark_promotion_seen(s, event_id=event.id, user_ids=[])
    assert await notices(db, D) == []
    assert (await snapshot(db, event.id)).waitlist == (E,)


async def test_rejoining_the_line_goes_to_the_back(db: Database) -> None:
    event = await make_event(db, capacity=1)
    await rsvp(db, event.id, A)
    await rsvp(db, event.id, B)  # first in line
    await rsvp(db, event.id, C)
    await rsvp(db, event.id, B, RsvpStatus.MAYBE)  # steps out of line ...
    back = await rsvp(db, event.id, B)  # ... and back in, behind C
    assert back.result.status == RsvpStatus.WAITLIST and back.waitlist_position == 2
    left = await rsvp(db, event.id, A, RsvpStatus.DECLINED)
    assert left.result.promoted == (C,)
    assert left.result.event.waitlist == (B,)


async def test_leaving_the_waitlist_promotes_nobody(db: Database) -> None:
    event = await make_event(db, capacity=1)
    await rsvp(db, event.id, A)
    await rsvp(db, event.id, B)
    await rsvp(db, event.id, C)
    out = await rsvp(db, event.id, B, RsvpStatus.DECLINED)
    assert out.result.promoted == () and out.result.event.going == (A,)
    assert out.result.event.waitlist == (C,)


async def test_promotion_notices_are_per_server(db: Database) -> None:
    here = await make_event(db, capacity=1)
    there = await make_event(db, capacity=1, guild_id=OTHER_GUILD)
    for event, guild in ((here, GUILD), (there, OTHER_GUILD)):
        await rsvp(db, event.id, A, guild_id=guild)
        await rsvp(db, event.id, B, guild_id=guild)
        await rsvp(db, event.id, A, RsvpStatus.DECLINED, guild_id=guild)
    assert [n[0] for n in await notices(db, B)] == [here.id]
    async with db.writing() as s:
        assert [
            n[0] for n in await events.take_promotion_notices(s, guild_id=OTHER_GUILD, user_id=B)
        ] == [there.id]


async def test_changes_stop_at_the_start_first_answers_at_the_end(db: Database) -> None:
    event = await make_event(db)
    await rsvp(db, event.id, A)
    started = START + timedelta(minutes=5)
    with pytest.raises(PermissionDeniedError) as caught:
        await rsvp(db, event.id, A, RsvpStatus.DECLINED, now=started)
    assert "can't be changed" in caught.value.message
    same = await rsvp(db, event.id, A, now=started)  # repeating the answer is fine
    assert same.result.status == RsvpStatus.GOING and not same.result.changed
    late = await rsvp(db, event.id, B, now=started)  # a first answer is still welcome
    assert late.result.status == RsvpStatus.GOING
    with pytest.raises(PermissionDeniedError) as caught:
        await rsvp(db, event.id, C, now=START + HOUR)
    assert "ended" in caught.value.message and "closed" in caught.value.message
    assert (await snapshot(db, event.id)).going == (A, B)


async def test_a_cancelled_event_takes_no_rsvps(db: Database) -> None:
    event = await make_event(db)
    await cancel(db, event.id, reason="The host is ill")
    with pytest.raises(PermissionDeniedError) as caught:
        await rsvp(db, event.id, A)
    assert "cancelled" in caught.value.message and "The host is ill" in caught.value.message


async def test_an_ended_event_takes_no_rsvps(db: Database) -> None:
    event = await make_event(db)
    await close_window(db, event.id, START + 2 * HOUR)
    with pytest.raises(PermissionDeniedError, match="RSVPs are closed"):
        await rsvp(db, event.id, A, now=START + 2 * HOUR)


async def test_a_role_restricted_event_needs_the_role(db: Database) -> None:
    event = await make_event(db, member_role_id=ROLE)
    with pytest.raises(PermissionDeniedError) as caught:
        await rsvp(db, event.id, A, role_ids=[ROLE + 1])
    assert f"<@&{ROLE}>" in caught.value.message
    ok = await rsvp(db, event.id, A, role_ids=[ROLE + 1, ROLE])
    assert ok.result.status == RsvpStatus.GOING
    assert (await snapshot(db, event.id)).going == (A,)


async def test_a_member_who_lost_the_role_can_still_give_up_the_seat(db: Database) -> None:
    event = await make_event(db, member_role_id=ROLE, capacity=1)
    await rsvp(db, event.id, A, role_ids=[ROLE])
    await rsvp(db, event.id, B, role_ids=[ROLE])
    left = await rsvp(db, event.id, A, RsvpStatus.DECLINED, role_ids=[])
    assert left.result.promoted == (B,)


# -- the rush -------------------------------------------------------------------------------


async def test_a_rush_of_200_on_50_seats_is_exact(db: Database) -> None:
    event = await make_event(db, capacity=50)
    members = [MEMBER + 1000 + n for n in range(200)]
    receipts = await asyncio.gather(*(rsvp(db, event.id, m) for m in members))

    going = [r for r in receipts if r.result.status == RsvpStatus.GOING]
    waiting = [r for r in receipts if r.result.status == RsvpStatus.WAITLIST]
    assert len(going) == 50 and len(waiting) == 150
    assert sorted(r.waitlist_position for r in waiting) == list(range(1, 151))  # type: ignore[type-var]
    assert all(r.waitlist_position is None for r in going)

    rows = await rsvp_rows(db, event.id)
    assert sorted(rows) == members
    seqs = sorted(q for _, q, _ in rows.values())
    assert seqs == list(range(1, 201))  # one place in line each, no gaps, no doubles
    by_seq = sorted(rows, key=lambda m: rows[m][1])
    assert {m for m in by_seq[:50]} == {m for m in rows if rows[m][0] == RsvpStatus.GOING}
    for receipt, member in zip(receipts, members, strict=True):
        if receipt.waitlist_position is not None:
            assert receipt.waitlist_position == rows[member][1] - 50
    final = await snapshot(db, event.id)
    assert list(final.going) == by_seq[:50] and list(final.waitlist) == by_seq[50:]
    async with db.reading() as s:
        assert (await s.get(Event, event.id)).rsvp_seq == 200  # type: ignore[union-attr]

    # Twenty of the going leave at once: exactly the first twenty in line move up.
    leaving = by_seq[10:30]
    results = await asyncio.gather(*(rsvp(db, event.id, m, RsvpStatus.DECLINED) for m in leaving))
    promoted = [p for r in results for p in r.result.promoted]
    assert sorted(promoted) == sorted(by_seq[50:70])
    assert all(len(r.result.promoted) == 1 for r in results)
    final = await snapshot(db, event.id)
    assert len(final.going) == 50 and len(final.waitlist) == 130
    assert set(final.going) == set(by_seq[:10] + by_seq[30:70])
    assert list(final.waitlist) == by_seq[70:]
    assert set(final.declined) == set(leaving)


# -- editing --------------------------------------------------------------------------------


async def test_only_the_host_or_a_moderator_edits(db: Database) -> None:
    event = await make_event(db)
    with pytest.raises(PermissionDeniedError) as caught:
        await edit(db, event.id, user_id=A, title="Mine")
    assert "host or a moderator" in caught.value.message and f"<@{HOST}>" in caught.value.message
    by_host, _ = await edit(db, event.id, title="  Chess \n night ")
    assert by_host.title == "Chess night"
    by_mod, _ = await edit(db, event.id, user_id=MOD, is_moderator=True, description="Bring a set")
    assert by_mod.title == "Chess night" and by_mod.description == "Bring a set"


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({}, "at least one option"),
        ({"title": " "}, "title is empty"),
        ({"title": "x" * 101}, "title is 101 characters"),
        ({"description": "d" * 1001}, "description is 1001 characters"),
        ({"location": "l" * 101}, "location is 101 characters"),
        ({"capacity": 0}, "between 1 and 10,000"),
        ({"capacity": 10_001}, "between 1 and 10,000"),
        ({"duration": timedelta(hours=25)}, "between 1 minute and 24 hours"),
        ({"starts_at": T0}, "already passed"),
    ],
)
async def test_edit_refuses_bad_changes(db: Database, changes: dict[str, Any], phrase: str) -> None:
    event = await make_event(db)
    with pytest.raises(InvalidInputError) as caught:
        await edit(db, event.id, **changes)
    assert phrase in caught.value.message
    unchanged = await snapshot(db, event.id)
    assert (unchanged.title, unchanged.starts_at, unchanged.capacity) == (
        "Board games",
        START,
        None,
    )


async def test_capacity_cannot_drop_below_the_going(db: Database) -> None:
    event = await make_event(db, capacity=5)
    for member in (A, B, C):
        await rsvp(db, event.id, member)
    with pytest.raises(InvalidInputError) as caught:
        await edit(db, event.id, capacity=2)
    assert "3 members are already going" in caught.value.message
    lowered, promoted = await edit(db, event.id, capacity=3)
    assert lowered.capacity == 3 and lowered.seats_left == 0 and promoted == ()
    assert (await rsvp(db, event.id, D)).result.status == RsvpStatus.WAITLIST


async def test_raising_capacity_promotes_in_order(db: Database) -> None:
    event = await make_event(db, capacity=1)
    for member in (A, F, C, E, B):
        await rsvp(db, event.id, member)
    raised, promoted = await edit(db, event.id, capacity=3)
    assert promoted == (F, C)
    assert raised.going == (A, F, C) and raised.waitlist == (E, B)
    rows = await rsvp_rows(db, event.id)
    assert rows[F][2] and rows[C][2] and not rows[E][2]
    # Removing the limit lets everyone in.
    unlimited, promoted = await edit(db, event.id, remove_capacity=True)
    assert unlimited.capacity is None and promoted == (E, B)
    assert unlimited.going == (A, F, C, E, B) and unlimited.waitlist == ()


async def test_edit_where_it_happens(db: Database) -> None:
    event = await make_event(db)
    elsewhere, _ = await edit(db, event.id, location="  The  Park ")
    assert elsewhere.location == "The Park" and elsewhere.channel_id is None
    assert elsewhere.held_elsewhere
    back, _ = await edit(db, event.id, channel_id=OTHER_VOICE)
    assert back.channel_id == OTHER_VOICE and back.location is None


async def test_edits_that_do_not_move_it_keep_its_actions(db: Database) -> None:
    event = await make_event(db)
    before = await actions(db, event.id)
    await edit(db, event.id, title="Chess", capacity=10, timezone="Europe/Berlin")
    after = await actions(db, event.id)
    assert [(a.id, a.status, a.due_at) for a in after] == [
        (a.id, a.status, a.due_at) for a in before
    ]
    assert (await snapshot(db, event.id)).timezone == "Europe/Berlin"


async def test_moving_the_start_reschedules(db: Database) -> None:
    event = await make_event(db)
    old = await actions(db, event.id)
    new_start = START + timedelta(days=1, hours=2)
    moved, _ = await edit(db, event.id, now=T0 + HOUR, starts_at=new_start)
    assert (moved.starts_at, moved.ends_at) == (new_start, new_start + HOUR)

    rows = await actions(db, event.id)
    by_id = {a.id: a for a in rows}
    for a in old:
        assert by_id[a.id].status == ActionStatus.SKIPPED
        assert by_id[a.id].finished_at == T0 + HOUR
    assert pending(rows) == [
        (REMIND_ACTION, new_start - timedelta(minutes=1440), 1440),
        (REMIND_ACTION, new_start - HOUR, 60),
        (OPEN_ACTION, new_start - timedelta(minutes=10), None),
        (CLOSE_ACTION, new_start + HOUR + timedelta(minutes=30), None),
    ]


async def test_changing_the_length_moves_the_close(db: Database) -> None:
    event = await make_event(db)
    longer, _ = await edit(db, event.id, duration=3 * HOUR)
    assert longer.ends_at == START + 3 * HOUR
    closes = [p for p in pending(await actions(db, event.id)) if p[0] == CLOSE_ACTION]
    assert closes == [(CLOSE_ACTION, START + 3 * HOUR + timedelta(minutes=30), None)]


async def test_a_second_edit_at_the_same_start_still_reschedules(db: Database) -> None:
    event = await make_event(db)
    await edit(db, event.id, duration=2 * HOUR)
    await edit(db, event.id, duration=3 * HOUR)
    assert pending(await actions(db, event.id)) == [
        (REMIND_ACTION, START - timedelta(minutes=1440), 1440),
        (REMIND_ACTION, START - HOUR, 60),
        (OPEN_ACTION, START - timedelta(minutes=10), None),
        (CLOSE_ACTION, START + 3 * HOUR + timedelta(minutes=30), None),
    ]


async def test_a_cancelled_event_cannot_be_edited(db: Database) -> None:
    event = await make_event(db)
    await cancel(db, event.id)
    with pytest.raises(InvalidInputError, match="cancelled; it can't be edited"):
        await edit(db, event.id, title="Back on")


# -- cancelling -----------------------------------------------------------------------------


async def test_cancel_event(db: Database) -> None:
    event = await make_event(db)
    await rsvp(db, event.id, A)
    with pytest.raises(PermissionDeniedError) as caught:
        await cancel(db, event.id, user_id=A)
    assert "host or a moderator can cancel" in caught.value.message
    assert len(pending(await actions(db, event.id))) == 4

    done = await cancel(db, event.id, user_id=HOST, reason="  Snowed   in ", now=T0 + HOUR)
    assert done.is_cancelled and done.cancel_reason == "Snowed in" and done.going == (A,)
    rows = await actions(db, event.id)
    assert pending(rows) == [] and len(rows) == 4
    assert all(a.status == ActionStatus.SKIPPED and a.finished_at == T0 + HOUR for a in rows)

    with pytest.raises(InvalidInputError) as again:
        await cancel(db, event.id, user_id=MOD, is_moderator=True)
    assert "already cancelled" in again.value.message


async def test_a_moderator_can_cancel(db: Database) -> None:
    event = await make_event(db)
    done = await cancel(db, event.id, user_id=MOD, is_moderator=True)
    assert done.status == EventStatus.CANCELLED and done.cancel_reason is None
    async with db.reading() as s:
        assert await events.list_upcoming(s, guild_id=GUILD, now=T0) == []


# -- attendance -----------------------------------------------------------------------------

WINDOW_START = START - timedelta(minutes=10)  # 11:50 on the day
WINDOW_END = START + HOUR + timedelta(minutes=30)  # 13:30


def at(minutes: float) -> datetime:
    """Minutes after the start (negative: before)."""
    return START + timedelta(minutes=minutes)


async def test_voice_time_accumulates_until_the_threshold(db: Database) -> None:
    event = await make_event(db)
    # Joining before the window is not seen: open_window starts those already there.
    assert await voice(db, A, at(-20), joined=VOICE) == []
    assert await details(db, event.id) == {}

    assert await voice(db, A, at(-5), joined=VOICE) == []
    assert await voice(db, A, at(3), left=VOICE) == []  # 8 minutes
    assert await details(db, event.id) == {A: (480, False)}
    assert await voice(db, A, at(10), joined=VOICE) == []
    [attended] = await voice(db, A, at(13), left=VOICE)  # 11 minutes
    assert attended == Attended(event.id, A, VOICE, at(13))
    assert await voice(db, A, at(20), joined=VOICE) == []
    assert await voice(db, A, at(30), left=VOICE) == []  # attended once only
    assert await details(db, event.id) == {A: (1260, False)}

    final = await snapshot(db, event.id)
    assert final.attended == (A,)
    closed = await close_window(db, event.id, WINDOW_END)
    assert closed is not None and closed.attended == [] and closed.event.attended == (A,)


async def test_other_channels_and_moves_between_them(db: Database) -> None:
    event = await make_event(db)
    await voice(db, A, at(0), joined=OTHER_VOICE)
    assert await details(db, event.id) == {}
    await voice(db, A, at(1), left=OTHER_VOICE, joined=VOICE)
    [attended] = await voice(db, A, at(12), left=VOICE, joined=OTHER_VOICE)
    assert attended.user_id == A and attended.at == at(12)
    assert await details(db, event.id) == {A: (660, False)}


async def test_open_window_counts_from_the_window_start(db: Database) -> None:
    event = await make_event(db)
    # Run early (never happens, but safe): time still counts from the window's start.
    opened = await open_window(db, event.id, [A, B], at(-12))
    assert opened is not None and opened.id == event.id
    [attended] = await voice(db, A, at(0), left=VOICE)  # exactly 10 minutes: enough
    assert attended.user_id == A
    assert await voice(db, B, at(-1), left=VOICE) == []  # 9 minutes: not yet
    assert await details(db, event.id) == {A: (600, False), B: (540, False)}


async def test_the_threshold_follows_the_settings(db: Database) -> None:
    await settings(db, attendance_minutes=3)
    event = await make_event(db)
    await voice(db, A, at(0), joined=VOICE)
    await voice(db, B, at(0), joined=VOICE)
    assert await voice(db, A, at(2), left=VOICE) == []
    [attended] = await voice(db, B, at(3), left=VOICE)
    assert (attended.event_id, attended.user_id) == (event.id, B)


async def test_close_window_closes_sessions_at_the_window_end(db: Database) -> None:
    event = await make_event(db)
    await open_window(db, event.id, [A], WINDOW_START)
    await voice(db, B, at(75), joined=VOICE)  # 13:15, 15 minutes before the window ends
    await voice(db, C, at(85), joined=VOICE)  # 5 minutes before
    await voice(db, D, at(30), joined=VOICE)
    await voice(db, D, at(35), left=VOICE)
    # B leaves after the window's end, before the close ran: nothing is seen then ...
    assert await voice(db, B, WINDOW_END + timedelta(minutes=5), left=VOICE) == []
    # ... and the close runs late: sessions still end at the window's end.
    closed = await close_window(db, event.id, WINDOW_END + timedelta(minutes=20))
    assert closed is not None and closed.next_spec is None
    assert closed.event.is_ended and closed.event.status == EventStatus.ENDED
    assert sorted((a.user_id, a.at) for a in closed.attended) == [
        (A, WINDOW_END),
        (B, WINDOW_END),
    ]
    assert await details(db, event.id) == {
        A: (100 * 60, False),
        B: (15 * 60, False),
        C: (5 * 60, False),
        D: (5 * 60, False),
    }
    assert set(closed.event.attended) == {A, B}

    # Afterwards nothing more happens.
    assert await close_window(db, event.id, WINDOW_END + HOUR) is None
    assert await open_window(db, event.id, [E], WINDOW_END + HOUR) is None
    assert await voice(db, C, WINDOW_END + HOUR, left=VOICE) == []
    assert await details(db, event.id) == {
        A: (6000, False),
        B: (900, False),
        C: (300, False),
        D: (300, False),
    }


async def test_no_attendance_for_a_cancelled_event(db: Database) -> None:
    event = await make_event(db)
    await open_window(db, event.id, [A], WINDOW_START)
    await cancel(db, event.id, now=at(-5))
    assert await voice(db, B, at(0), joined=VOICE) == []
    assert await voice(db, A, at(20), left=VOICE) == []
    assert await open_window(db, event.id, [C], at(0)) is None
    assert await close_window(db, event.id, WINDOW_END) is None
    assert (await snapshot(db, event.id)).attended == ()


async def test_check_in_only_inside_the_window(db: Database) -> None:
    event = await make_event(db, channel_id=None, location="The Park")
    assert event.held_elsewhere
    with pytest.raises(PermissionDeniedError) as caught:
        await check_in(db, event.id, A, WINDOW_START - timedelta(seconds=1))
    assert "opens" in caught.value.message
    assert f"<t:{int(WINDOW_START.timestamp())}:R>" in caught.value.message

    snap, [attended] = await check_in(db, event.id, A, WINDOW_START)
    assert attended == Attended(event.id, A, None, WINDOW_START)
    assert snap.attended == (A,)
    snap, again = await check_in(db, event.id, A, at(5))
    assert again == [] and snap.attended == (A,)
    assert await details(db, event.id) == {A: (0, True)}
    async with db.reading() as s:
        row = await s.get(EventAttendance, (event.id, A))
        assert row is not None and row.checked_in_at == WINDOW_START
        assert row.attended_at == WINDOW_START

    _, [late] = await check_in(db, event.id, B, WINDOW_END - timedelta(seconds=1))
    assert late.user_id == B
    with pytest.raises(PermissionDeniedError, match="closed"):
        await check_in(db, event.id, C, WINDOW_END)
    closed = await close_window(db, event.id, WINDOW_END)
    assert closed is not None and closed.attended == [] and set(closed.event.attended) == {A, B}
    with pytest.raises(PermissionDeniedError, match="closed"):
        await check_in(db, event.id, C, WINDOW_END + HOUR)


async def test_check_in_needs_the_role(db: Database) -> None:
    event = await make_event(db, channel_id=None, location="Park", member_role_id=ROLE)
    with pytest.raises(PermissionDeniedError, match="role"):
        await check_in(db, event.id, A, at(0))
    _, [attended] = await check_in(db, event.id, A, at(0), role_ids=[ROLE])
    assert attended.user_id == A


async def test_check_in_refused_after_cancelling(db: Database) -> None:
    event = await make_event(db, channel_id=None, location="Park")
    await cancel(db, event.id)
    with pytest.raises(PermissionDeniedError):
        await check_in(db, event.id, A, at(0))


async def test_moving_an_open_window_does_not_credit_the_old_presence(db: Database) -> None:
    event = await make_event(db)
    await open_window(db, event.id, [A], WINDOW_START)
    await edit(db, event.id, now=at(-5), starts_at=START + timedelta(days=1))
    await voice(db, A, at(-4), left=VOICE)  # A goes home, 6 minutes in
    closed = await close_window(db, event.id, WINDOW_END + timedelta(days=1))
    assert closed is not None and A not in closed.event.attended
    assert (await details(db, event.id)).get(A, (0, False))[0] < 600


# -- recurring events -----------------------------------------------------------------------


async def close_and_follow(
    db: Database, event: EventSnapshot, *, late: timedelta = timedelta(0)
) -> EventSnapshot:
    """Close ``event``'s window and create its next occurrence, as the cog does."""
    closed_at = event.window_end + late
    closed = await close_window(db, event.id, closed_at)
    assert closed is not None and closed.next_spec is not None
    return await make_event(db, spec=closed.next_spec, series_id=event.series_id, created=closed_at)


@pytest.mark.parametrize(
    ("first_local", "repeat", "expected_local"),
    [
        # Across 2026-03-29 (spring forward): 19:00 stays 19:00 in Berlin.
        (datetime(2026, 3, 22, 19, 0), "weekly", [(3, 29), (4, 5), (4, 12)]),
        # Across 2026-10-25 (fall back).
        (datetime(2026, 10, 18, 19, 0), "weekly", [(10, 25), (11, 1), (11, 8)]),
        (datetime(2026, 3, 15, 19, 0), "biweekly", [(3, 29), (4, 12), (4, 26)]),
    ],
)
async def test_weekly_series_keep_the_local_time(
    db: Database,
    first_local: datetime,
    repeat: str,
    expected_local: list[tuple[int, int]],
) -> None:
    created = first_local.replace(tzinfo=BERLIN).astimezone(UTC) - timedelta(days=3)
    first = await make_event(
        db,
        spec=make_spec(
            starts_at=first_local.replace(tzinfo=BERLIN).astimezone(UTC),
            timezone=BERLIN,
            now=created,
            repeat=repeat,
            capacity=8,
            location="ignored",
            description="Weekly",
        ),
        created=created,
    )
    assert first.series_id == first.id
    event = first
    for month, day in expected_local:
        event = await close_and_follow(db, event)
        local = event.starts_at.astimezone(BERLIN)
        assert (local.month, local.day, local.hour, local.minute) == (month, day, 19, 0)
        assert event.series_id == first.id and event.repeat == repeat
        assert (event.capacity, event.channel_id, event.description) == (8, VOICE, "Weekly")
        assert event.ends_at - event.starts_at == HOUR and event.timezone == BERLIN.key


async def test_monthly_on_the_31st_returns_to_the_31st(db: Database) -> None:
    first_start = datetime(2027, 1, 31, 19, 0, tzinfo=BERLIN).astimezone(UTC)
    first = await make_event(db, starts_at=first_start, timezone=BERLIN, repeat="monthly")
    event = first
    seen = []
    for _ in range(4):
        event = await close_and_follow(db, event)
        local = event.starts_at.astimezone(BERLIN)
        seen.append((local.month, local.day, local.hour))
    assert seen == [(2, 28, 19), (3, 31, 19), (4, 30, 19), (5, 31, 19)]


async def test_a_series_closed_late_skips_to_the_next_ahead(db: Database) -> None:
    first = await make_event(db, repeat="weekly")
    # The bot was down for over two weeks.
    late = first.window_end + timedelta(days=15)
    closed = await close_window(db, first.id, late)
    assert closed is not None and closed.next_spec is not None
    assert closed.next_spec.starts_at == START + timedelta(weeks=3)
    assert closed.next_spec.starts_at > late


async def test_a_single_event_has_no_next(db: Database) -> None:
    event = await make_event(db)
    closed = await close_window(db, event.id, WINDOW_END)
    assert closed is not None and closed.next_spec is None


async def test_a_cancelled_occurrence_closes_to_nothing(db: Database) -> None:
    event = await make_event(db, repeat="weekly")
    await cancel(db, event.id)
    assert await close_window(db, event.id, WINDOW_END) is None


# -- reminders ------------------------------------------------------------------------------


async def test_reminders_go_to_going_members_who_accept_dms(db: Database) -> None:
    event = await make_event(db, capacity=4)
    for member in (A, B, C, D, E):
        await rsvp(db, event.id, member)
    await rsvp(db, event.id, F, RsvpStatus.MAYBE)
    await consent(db, A)
    await consent(db, B, yes=False)
    await consent(db, C)
    await consent(db, E)  # on the waitlist: no reminder
    await consent(db, F)  # maybe: no reminder
    async with db.writing() as s:
        await mark_dms_closed(s, guild_id=GUILD, user_id=C, now=T0)
    # D never answered: no member row, no DMs.

    first = await claim(db, event.id, 1440)
    assert first is not None
    snap, claimed = first
    assert claimed == [A] and snap.id == event.id
    second = await claim(db, event.id, 1440)
    assert second is not None and second[1] == []  # claimed once
    hour = await claim(db, event.id, 60)
    assert hour is not None and hour[1] == [A]  # another reminder, its own claim

    await consent(db, C)  # yes again: the inbox counts as open again
    again = await claim(db, event.id, 1440)
    assert again is not None and again[1] == [C]
    async with db.reading() as s:
        rows = (await s.execute(select(EventReminder.user_id, EventReminder.minutes_before))).all()
    assert sorted(rows) == sorted([(A, 1440), (A, 60), (C, 1440)])


async def test_reminders_with_nobody_to_remind(db: Database) -> None:
    event = await make_event(db)
    result = await claim(db, event.id, 60)
    assert result is not None and result[1] == []


async def test_no_reminders_once_started_or_cancelled(db: Database) -> None:
    event = await make_event(db)
    await rsvp(db, event.id, A)
    await consent(db, A)
    assert await claim(db, event.id, 60, now=START) is None
    await cancel(db, event.id)
    assert await claim(db, event.id, 60) is None


async def test_concurrent_claims_remind_each_member_once(db: Database) -> None:
    event = await make_event(db)
    members = [MEMBER + 2000 + n for n in range(40)]
    for member in members:
        await rsvp(db, event.id, member)
        await consent(db, member)
    results = await asyncio.gather(*(claim(db, event.id, 60) for _ in range(4)))
    claimed = [m for r in results for m in (r[1] if r else [])]
    assert sorted(claimed) == members  # everyone once, nobody twice


# -- statistics -----------------------------------------------------------------------------


async def test_attendance_stats_on_a_small_history(db: Database) -> None:
    # Five check-in events on Dec 2..6 at 18:00, plus a cancelled one and another server's.
    days = [datetime(2026, 12, d, 18, 0, tzinfo=UTC) for d in range(2, 8)]
    made = [await make_event(db, starts_at=d, channel_id=None, location="Park") for d in days]
    e1, e2, e3, e4, e5, e6 = made
    other = await make_event(db, starts_at=days[2], guild_id=OTHER_GUILD)
    history = {
        e1: ([A, B, C], [A, B, D]),
        e2: ([A, B], [A]),
        e3: ([A, C], [C]),
        e4: ([B], [B, C]),  # C came without saying so
        e5: ([A], [A]),
        e6: ([A, B, C], []),
    }
    for event, (going, came) in history.items():
        for member in going:
            await rsvp(db, event.id, member)
        for member in came:
            await check_in(db, event.id, member, event.starts_at)
    await rsvp(db, e2.id, C, RsvpStatus.MAYBE)  # not going: not in the conversion
    await rsvp(db, other.id, A, guild_id=OTHER_GUILD)
    for event in (e1, e2, e3, e4, e5):
        await close_window(db, event.id, event.window_end)
    await cancel(db, e6.id, now=days[5])
    async with db.writing() as s:
        await events.close_window(s, guild_id=OTHER_GUILD, event_id=other.id, now=days[3])

    async def stats(start: datetime, end: datetime) -> events.AttendanceStats:
        async with db.reading() as s:
            return await events.attendance_stats(s, guild_id=GUILD, start=start, end=end)

    # Dec 3..5 (e2, e3, e4). The last four ended before Dec 6 are e1..e4: A (e1, e2),
    # B (e1, e4), C (e3, e4) attended two; D only one.
    dec = datetime(2026, 12, 1, tzinfo=UTC)
    mid = await stats(dec + timedelta(days=2), dec + timedelta(days=5))
    assert (mid.events, mid.rsvps_going, mid.attended, mid.attended_of_going) == (3, 5, 4, 3)
    assert mid.conversion == pytest.approx(0.6)
    assert mid.repeat_attendees == 3
    # Dec 3..7 (e2..e5; e6 cancelled). The last four are e2..e5: A (e2, e5) and C (e3, e4);
    # B only e4 now.
    late = await stats(dec + timedelta(days=2), dec + timedelta(days=7))
    assert (late.events, late.rsvps_going, late.attended, late.attended_of_going) == (4, 6, 5, 4)
    assert late.conversion == pytest.approx(4 / 6)
    assert late.repeat_attendees == 2
    # Everything: e1..e5.
    everything = await stats(dec, dec + timedelta(days=30))
    assert (everything.events, everything.rsvps_going, everything.attended) == (5, 9, 8)
    assert everything.attended_of_going == 6 and everything.repeat_attendees == 2
    # A quiet period.
    empty = await stats(dec - timedelta(days=30), dec)
    assert (empty.events, empty.rsvps_going, empty.attended, empty.repeat_attendees) == (
        0,
        0,
        0,
        0,
    )
    assert empty.conversion is None


async def test_attendance_details_show_voice_and_check_ins(db: Database) -> None:
    event = await make_event(db)
    await voice(db, A, at(0), joined=VOICE)
    await voice(db, A, at(4), left=VOICE)
    await check_in(db, event.id, B, at(1))
    await voice(db, B, at(1), joined=VOICE)
    await voice(db, B, at(2), left=VOICE)
    assert await details(db, event.id) == {A: (240, False), B: (60, True)}
    assert (await snapshot(db, event.id)).attended == (B,)


# -- finding events -------------------------------------------------------------------------


async def test_list_upcoming_soonest_first(db: Database) -> None:
    later = await make_event(db, title="Later", starts_at=START + timedelta(days=3))
    sooner = await make_event(db, title="Sooner", starts_at=START)
    running = await make_event(db, title="Running", starts_at=T0 + timedelta(minutes=30))
    await make_event(db, title="Draft", starts_at=START, attach=False)
    await make_event(db, title="Elsewhere", guild_id=OTHER_GUILD)
    cancelled = await make_event(db, title="Cancelled", starts_at=START + HOUR)
    await cancel(db, cancelled.id)
    await rsvp(db, sooner.id, A)

    async def upcoming(now: datetime, limit: int = 20) -> list[int]:
        async with db.reading() as s:
            return [
                e.id for e in await events.list_upcoming(s, guild_id=GUILD, now=now, limit=limit)
            ]

    assert await upcoming(T0) == [running.id, sooner.id, later.id]
    assert await upcoming(T0, limit=2) == [running.id, sooner.id]
    # In progress still listed; over (by its end) not.
    assert await upcoming(T0 + timedelta(minutes=89)) == [running.id, sooner.id, later.id]
    assert await upcoming(T0 + timedelta(minutes=90)) == [sooner.id, later.id]
    async with db.reading() as s:
        found = await events.list_upcoming(s, guild_id=GUILD, now=T0)
    assert found[1].going == (A,) and all(e.message_id is not None for e in found)


async def test_search_events_by_number_and_title(db: Database) -> None:
    board = await make_event(db, title="Board games", starts_at=START + timedelta(days=1))
    movie = await make_event(db, title="Movie NIGHT", starts_at=START + 2 * HOUR)
    chess = await make_event(db, title="Chess club")
    await make_event(db, title="Board draft", attach=False)
    await make_event(db, title="Board elsewhere", guild_id=OTHER_GUILD)
    await close_window(db, chess.id, WINDOW_END)  # ended: listed after the upcoming

    async def search(text: str, now: datetime = at(90)) -> list[int]:
        async with db.reading() as s:
            return [c.id for c in await events.search_events(s, guild_id=GUILD, text=text, now=now)]

    assert await search("board") == [board.id]
    assert await search("  BOARD ") == [board.id]
    assert await search("night") == [movie.id]
    assert await search("Movie night") == [movie.id]
    assert await search("pizza") == []
    assert await search("") == [movie.id, board.id, chess.id]
    assert await search("", now=T0) == [chess.id, movie.id, board.id]
    for typed in (str(board.id), f"#{board.id}"):
        assert board.id in await search(typed)
    assert await search("%") == [] and await search("_") == []
    async with db.reading() as s:
        [choice] = await events.search_events(s, guild_id=GUILD, text="chess", now=T0)
    assert (choice.title, choice.starts_at, choice.status) == ("Chess club", START, "ended")


async def test_search_lists_the_most_recent_past_events_first(db: Database) -> None:
    older = await make_event(db, title="Quiz 1", starts_at=START)
    newer = await make_event(db, title="Quiz 2", starts_at=START + timedelta(days=7))
    upcoming = await make_event(db, title="Quiz 3", starts_at=START + timedelta(days=21))
    async with db.reading() as s:
        found = await events.search_events(
            s, guild_id=GUILD, text="quiz", now=START + timedelta(days=14)
        )
    assert [c.id for c in found] == [upcoming.id, newer.id, older.id]


async def test_moving_an_event_sends_its_reminders_again(db: Database) -> None:
    event = await make_event(db)
    await rsvp(db, event.id, A)
    async with db.writing() as s:
        await set_dm_consent(s, guild_id=GUILD, user_id=A, consent=True, now=T0)
        first = await events.claim_reminders(
            s, guild_id=GUILD, event_id=event.id, minutes_before=1440, now=T0
        )
    assert first is not None and first[1] == [A]
    await edit(db, event.id, starts_at=START + timedelta(days=2))
    async with db.writing() as s:
        again = await events.claim_reminders(
            s, guild_id=GUILD, event_id=event.id, minutes_before=1440, now=T0
        )
    assert again is not None and again[1] == [A]  # the old one named the old time
