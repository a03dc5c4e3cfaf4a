"""Events through the sandbox: RSVPs with capacity and waitlist, reminders, real attendance."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar
from sqlalchemy import func, select

from models import ActivityEvent, ActivityKind, Event, EventRsvp, ScheduledAction
from sandbox import MessageRecord
from sandbox.hearth_runner import running_hearth
from tests.e2e.conftest import World


def event_message(world: World) -> MessageRecord:
    msgs = [
        m
        for m in world.sb.bot_messages(world.general)
        if (m.embeds and str(m.embeds[0].get("footer", {}).get("text", "")).startswith("Event #"))
        or (m.embeds and "RSVPs" in str(m.embeds[0].get("fields")))
    ]
    assert msgs, "no event was posted"
    return msgs[-1]


def field(msg: MessageRecord, name: str) -> str:
    for f in msg.embeds[0]["fields"]:
        if f["name"] == name or f["name"].startswith(name):
            return str(f["value"])
    raise AssertionError(f"no field {name!r} in {[f['name'] for f in msg.embeds[0]['fields']]}")


def fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


async def create(world: World, who: Any = None, **options: Any) -> MessageRecord:
    who = who or world.alice
    options.setdefault("title", "Glaze night")
    options.setdefault("start", fmt(world.clock() + timedelta(days=2)))
    options.setdefault("location", "The studio, 12 Kiln Lane")
    reply = await who.slash("event create", **options)
    assert reply.ephemeral and "is up" in reply.content, reply.content
    return event_message(world)


def set_clock(world: World, moment: datetime) -> None:
    world.clock.advance(seconds=(moment - world.clock()).total_seconds())


async def last_event_id(world: World) -> int:
    async with world.db.reading() as s:
        return int(await s.scalar(select(func.max(Event.id))) or 0)


async def wait_field(world: World, msg: MessageRecord, name: str, text: str) -> None:
    await world.sb.wait_for(
        lambda: (
            any(
                f["name"].startswith(name) and text in str(f["value"])
                for f in msg.embeds[0]["fields"]
            )
            or None
        ),
        10,
    )


async def test_create_shows_time_place_and_buttons(world: World) -> None:
    start = (world.clock() + timedelta(days=3)).replace(hour=19, minute=0, second=0, microsecond=0)
    reply = await world.alice.slash(
        "event create", title="Raku firing", start=fmt(start), capacity=10, location="Yard"
    )
    stamp = int(start.timestamp())  # the server's zone is UTC here
    assert f"<t:{stamp}:F>" in reply.content
    msg = event_message(world)
    assert msg.embeds[0]["title"] == "Raku firing"
    assert f"<t:{stamp}:F>" in field(msg, "When") and "Yard" in field(msg, "Where")
    assert field(msg, "RSVPs") == "0/10 going"
    labels = [c["label"] for row in msg.components for c in row["components"]]
    assert labels == ["Going", "Maybe", "Can't go"]
    # Mirrored in Discord's own Events tab.
    assert any(e.name == "Raku firing" for e in world.sb.scheduled_events)


async def test_capacity_waitlist_and_promotion_by_dm(world: World) -> None:
    msg = await create(world, capacity=2)
    dave = world.guild.add_member("dave")
    await world.settle()
    first = await world.bob.click(msg, "Going")
    assert "You're going" in first.content
    await world.carol.click(msg, "Going")
    waiting = await dave.click(msg, "Going")
    assert "waitlist" in waiting.content and "number 1" in waiting.content
    # First RSVP: Hearth asks, once, whether reminders by DM are welcome.
    assert any(
        c.get("label", "").startswith("Yes") for r in waiting.components for c in r["components"]
    )
    yes = await dave.click(waiting.original, "Yes, remind me by DM")
    assert "I'll DM you" in yes.content
    await wait_field(world, msg, "RSVPs", "2/2 going · 1 waitlisted")

    gone = await world.bob.click(msg, "Can't go")
    assert "can't make it" in gone.content
    dm = await world.sb.wait_for(lambda: dave.dms()[-1] if dave.dms() else None, 10)
    assert "you're now **going**" in dm.content
    await wait_field(world, msg, "Going", f"<@{dave.id}>")
    assert field(msg, "RSVPs") == "2/2 going"


async def test_two_hundred_going_clicks_on_fifty_seats(world: World) -> None:
    fans = [world.guild.add_member(f"fan{i}") for i in range(200)]
    await world.settle()
    msg = await create(world, capacity=50)
    replies = await asyncio.gather(*(f.click(msg, "Going") for f in fans))
    going = [r for r in replies if "You're going" in r.content]
    waiting = [r for r in replies if "waitlist" in r.content]
    assert len(going) == 50 and len(waiting) == 150
    positions = sorted(int(r.content.split("number ")[1].split(" ")[0]) for r in waiting)
    assert positions == list(range(1, 151))
    event_id = await last_event_id(world)
    async with world.db.reading() as s:
        rows = dict(
            (
                await s.execute(
                    select(EventRsvp.status, func.count())
                    .where(EventRsvp.event_id == event_id)
                    .group_by(EventRsvp.status)
                )
            ).all()
        )
    assert rows == {"going": 50, "waitlist": 150}
    await wait_field(world, msg, "RSVPs", "50/50 going · 150 waitlisted")


async def test_reminder_arrives_once_across_a_restart(world: World) -> None:
    start = world.clock() + timedelta(hours=3)
    msg = await create(world, start=fmt(start))
    reply = await world.bob.click(msg, "Going")
    await world.bob.click(reply.original, "Yes, remind me by DM")
    # The 1-hour reminder is due 2 hours from now; Hearth is down when it falls due.
    await world.restart()
    world.clock.advance(hours=2, minutes=1)
    await world.restart()
    reminder = await world.sb.wait_for(lambda: world.bob.dms()[-1] if world.bob.dms() else None, 10)
    assert "Glaze night" in reminder.embeds[0]["title"]
    await world.restart()
    await world.settle()
    await asyncio.sleep(0.5)  # a few ticks: nothing more is due
    reminders = [m for m in world.bob.dms() if m.embeds and "Glaze night" in m.embeds[0]["title"]]
    assert len(reminders) == 1
    # Carol said nothing about DMs: she gets none.
    assert world.carol.dms() == []


async def test_attendance_from_voice_and_check_in(world: World) -> None:
    start = world.clock() + timedelta(minutes=30)
    voice = await create(
        world,
        title="Crit circle",
        start=fmt(start),
        channel=world.lounge,
        duration="30m",
        location=None,
    )
    await world.bob.click(voice, "Going")
    await world.carol.click(voice, "Going")
    set_clock(world, start - timedelta(minutes=5))  # the window opens 10 minutes before
    await asyncio.sleep(0.5)
    await world.bob.join_voice(world.lounge)
    await world.carol.join_voice(world.lounge)
    await world.settle()
    # Voice changes carry no timestamp: Hearth times them on arrival, so let each one land
    # before the clock moves.
    world.clock.advance(minutes=4)
    await world.carol.leave_voice()  # 4 minutes: not enough
    await world.settle()
    world.clock.advance(minutes=10)
    await world.bob.leave_voice()  # 14 minutes: attended
    await world.settle()
    await wait_field(world, voice, "Attended", f"<@{world.bob.id}>")
    assert f"<@{world.carol.id}>" not in field(voice, "Attended")  # who came, never who didn't
    attendees = await world.mod.slash("event attendees", event=str(await last_event_id(world)))
    fields = {f["name"]: f["value"] for f in attendees.embeds[0]["fields"]}
    assert f"<@{world.bob.id}>" in fields["Attended (1)"]
    async with world.db.reading() as s:
        kinds = (
            await s.scalars(
                select(ActivityEvent.user_id).where(
                    ActivityEvent.kind == int(ActivityKind.EVENT_ATTENDED)
                )
            )
        ).all()
    assert list(kinds) == [world.bob.id]


async def test_check_in_for_an_event_held_elsewhere(world: World) -> None:
    start = world.clock() + timedelta(minutes=20)
    msg = await create(world, start=fmt(start), location="Café Kiln")
    labels = [c["label"] for row in msg.components for c in row["components"]]
    assert "Check in" not in labels
    set_clock(world, start - timedelta(minutes=5))
    await world.sb.wait_for(
        lambda: (
            any(c["label"] == "Check in" for row in msg.components for c in row["components"])
            or None
        ),
        10,
    )
    checked = await world.carol.click(msg, "Check in")
    assert "Checked in" in checked.content
    again = await world.carol.click(msg, "Check in")
    assert "already" in again.content
    await wait_field(world, msg, "Attended", f"<@{world.carol.id}>")


async def test_weekly_event_keeps_local_time_across_dst(world: World) -> None:
    for zone, first, expected_next_utc in (
        ("Europe/Berlin", "2026-03-22 19:00", datetime(2026, 3, 29, 17, 0, tzinfo=UTC)),
        ("America/New_York", "2026-10-25 19:00", datetime(2026, 11, 2, 0, 0, tzinfo=UTC)),
    ):
        set_clock(
            world,
            datetime(int(first[:4]), int(first[5:7]), int(first[8:10]) - 2, 12, 0, tzinfo=UTC),
        )
        await create(
            world, title=f"Open studio {zone}", start=first, timezone=zone, repeat="weekly"
        )
        first_id = await last_event_id(world)
        async with world.db.reading() as s:
            ev = await s.get(Event, first_id)
            assert ev is not None
            end = ev.ends_at
        set_clock(world, end + timedelta(minutes=31))  # the attendance window closes
        for _ in range(50):
            async with world.db.reading() as s:
                nxt = await s.scalar(
                    select(Event).where(Event.series_id == first_id, Event.id != first_id)
                )
            if nxt is not None:
                break
            await asyncio.sleep(0.1)
        assert nxt is not None, f"no next occurrence for {zone}"
        assert nxt.starts_at == expected_next_utc, (zone, nxt.starts_at)
        assert nxt.message_id is not None  # posted with its own buttons


async def test_ics_file_parses(world: World) -> None:
    await create(world, title="Kiln opening; bring snacks, friends", description="Line 1\nLine 2")
    reply = await world.bob.slash("event ics", event=str(await last_event_id(world)))
    (ics,) = reply.attachments
    cal = Calendar.from_ical(ics.data)
    (vevent,) = [c for c in cal.walk() if c.name == "VEVENT"]
    assert str(vevent["SUMMARY"]) == "Kiln opening; bring snacks, friends"
    assert str(vevent["DESCRIPTION"]) == "Line 1\nLine 2"


async def test_someone_elses_event_cannot_be_edited_or_cancelled(world: World) -> None:
    msg = await create(world)
    event_id = str(await last_event_id(world))
    edit = await world.bob.slash("event edit", event=event_id, title="Mine now")
    assert edit.ephemeral and "host or a moderator" in edit.content
    cancel = await world.bob.slash("event cancel", event=event_id)
    assert "host or a moderator" in cancel.content
    assert msg.embeds[0]["title"] == "Glaze night"
    done = await world.mod.slash("event cancel", event=event_id, reason="Kiln is broken")
    assert "cancelled" in done.content
    await world.sb.wait_for(lambda: msg.embeds[0]["title"].startswith("Cancelled") or None, 10)
    assert "Kiln is broken" in msg.embeds[0]["description"] and not msg.components


async def test_bad_input_is_refused_and_nothing_is_created(world: World) -> None:
    past = fmt(world.clock() - timedelta(hours=1))
    soon = fmt(world.clock() + timedelta(days=1))
    cases = [
        ({"start": "whenever"}, "couldn't"),
        ({"start": past}, "already passed"),
        ({"start": soon, "timezone": "Mars/Olympus"}, "time zone"),
        ({"start": soon, "capacity": 0}, "Capacity"),
        ({"start": soon, "capacity": 10_001}, "Capacity"),
        ({"start": soon, "duration": "25h"}, "24 hours"),
        ({"start": soon, "title": "x" * 101}, "at most 100"),
        ({"start": soon, "description": "x" * 1001}, "at most 1000"),
        ({"start": soon, "channel": world.general, "location": None}, "not a voice or stage"),
        ({"start": soon, "location": None}, "Say where"),
    ]
    for changes, hint in cases:
        options = {"title": "T", "location": "Here", **changes}
        options = {k: v for k, v in options.items() if v is not None}
        reply = await world.alice.slash("event create", **options)
        assert reply.ephemeral and hint in reply.content, (changes, reply.content)
    async with world.db.reading() as s:
        assert await s.scalar(select(func.count()).select_from(Event)) == 0
        assert (
            await s.scalar(
                select(func.count())
                .select_from(ScheduledAction)
                .where(ScheduledAction.kind.like("events.%"))
            )
            == 0
        )
    assert not [m for m in world.sb.bot_messages(world.general)]


async def test_another_servers_event_is_not_found(world: World) -> None:
    await create(world)
    event_id = str(await last_event_id(world))
    other = await world.other_server()
    reply = await other.owner.slash("event cancel", event=event_id)
    assert reply.ephemeral and "can't find event" in reply.content


async def test_attendance_survives_a_restart_on_evidence_only(world: World) -> None:
    start = world.clock() + timedelta(minutes=30)
    msg = await create(world, start=fmt(start), channel=world.lounge, location=None)
    set_clock(world, start - timedelta(minutes=5))
    await asyncio.sleep(0.5)  # the window opens
    await world.bob.join_voice(world.lounge)
    await world.carol.join_voice(world.lounge)
    await world.settle()
    world.clock.advance(minutes=2)
    await world._runner.__aexit__(None, None, None)  # Hearth goes away ...
    await world.carol.leave_voice()  # ... carol leaves unseen; bob stays
    world.clock.advance(minutes=20)
    world._runner = running_hearth(world.sb, world.bot.settings, clock=world.clock)
    world.bot = await world._runner.__aenter__()
    await world.settle()
    await world.bob.leave_voice()
    await world.settle()
    await wait_field(world, msg, "Attended", f"<@{world.bob.id}>")  # seen before and after
    set_clock(world, start + timedelta(minutes=91))  # the window closes
    await world.sb.wait_for(lambda: msg.embeds[0]["title"].startswith("Ended") or None, 10)
    assert f"<@{world.carol.id}>" not in field(msg, "Attended")  # when she left is unknown


async def test_edit_adds_seats_in_line_and_moves_discords_event(world: World) -> None:
    msg = await create(world, capacity=1)
    await world.bob.click(msg, "Going")
    await world.carol.click(msg, "Going")  # waitlisted
    event_id = str(await last_event_id(world))
    later = world.clock() + timedelta(days=5)
    reply = await world.alice.slash(
        "event edit", event=event_id, capacity=2, start=fmt(later), title="Glaze night (moved)"
    )
    assert "updated" in reply.content
    await wait_field(world, msg, "RSVPs", "2/2 going")
    assert f"<@{world.carol.id}>" in field(msg, "Going")
    assert msg.embeds[0]["title"] == "Glaze night (moved)"
    (mirror,) = [e for e in world.sb.scheduled_events if not e.deleted]
    assert mirror.name == "Glaze night (moved)"
    assert mirror.scheduled_start_time.startswith(later.strftime("%Y-%m-%dT%H:%M"))
    fewer = await world.alice.slash("event edit", event=event_id, capacity=1)
    assert "already going" in fewer.content  # nobody loses a promised seat


async def test_list_and_export(world: World) -> None:
    await create(world, title="Kiln day")
    event_id = str(await last_event_id(world))
    msg = event_message(world)
    await world.bob.click(msg, "Going")
    await world.carol.click(msg, "Maybe")
    listed = await world.carol.slash("event list")
    assert "Kiln day" in listed.embeds[0]["description"]
    refused = await world.carol.slash("event export", event=event_id)
    assert not refused.attachments and "moderator" in refused.content.lower()
    export = await world.mod.slash("event export", event=event_id)
    (csv_file,) = export.attachments
    rows = list(csv.DictReader(io.StringIO(csv_file.data.decode("utf-8-sig"))))
    assert {(r["member"], r["rsvp"], r["attended"]) for r in rows} == {
        ("bob", "going", "no"),
        ("carol", "maybe", "no"),
    }


async def test_without_manage_events_the_event_still_works_and_says_why(world: World) -> None:
    from sandbox import permissions as perm

    world.guild.add_bot(
        world.app, permissions=perm.DEFAULT_BOT & ~(perm.MANAGE_EVENTS | perm.CREATE_EVENTS)
    )
    await world.settle()
    reply = await world.alice.slash(
        "event create",
        title="Kiln day",
        start=fmt(world.clock() + timedelta(days=1)),
        location="Yard",
    )
    assert "is up" in reply.content and "Manage Events" in reply.content
    assert [e for e in world.sb.scheduled_events if not e.deleted] == []
    msg = event_message(world)
    going = await world.bob.click(msg, "Going")
    assert "You're going" in going.content
    await world.settle()
    async with world.db.reading() as s:
        rsvps = (
            await s.scalars(
                select(ActivityEvent.user_id).where(ActivityEvent.kind == int(ActivityKind.RSVP))
            )
        ).all()
    assert list(rsvps) == [world.bob.id]  # an RSVP counts as activity
