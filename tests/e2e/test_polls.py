"""Polls through the sandbox: members create, vote, change votes; the poll closes with a chart."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from sqlalchemy import func, select

from models import ActivityEvent, ActivityKind, Poll, ScheduledAction
from sandbox import MessageRecord
from tests.e2e.conftest import World

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def poll_message(world: World, reply: Any) -> MessageRecord:
    """The public poll message the /poll create reply links to."""
    assert reply.ephemeral, reply
    msgs = [m for m in world.sb.messages(world.general) if m.author_id == world.app.user.id]
    assert msgs, f"no poll was posted: {reply.content!r}"
    return msgs[-1]


def description(msg: MessageRecord) -> str:
    return str(msg.embeds[0]["description"])


def field(msg: MessageRecord, name: str) -> str:
    return next(f["value"] for f in msg.embeds[0]["fields"] if f["name"] == name)


async def wait_for_edit(world: World, msg: MessageRecord, check: Any) -> None:
    await world.sb.wait_for(lambda: check(msg) or None, 8)


async def create(world: World, who: Any = None, **options: Any) -> MessageRecord:
    who = who or world.alice
    options.setdefault("question", "What should we make next?")
    options.setdefault("options", "Mugs | Bowls | Vases")
    reply = await who.slash("poll create", **options)
    assert "is up in" in reply.content, reply.content
    return poll_message(world, reply)


async def test_create_vote_change_and_results(world: World) -> None:
    msg = await create(world)
    assert "What should we make next?" in description(msg)
    buttons = [c["label"] for row in msg.components for c in row["components"]]
    assert buttons == ["Mugs", "Bowls", "Vases", "Clear my vote"]
    assert field(msg, "Turnout").startswith("0 votes · 0 of 5 eligible")
    assert "<t:" in field(msg, "Closes")

    receipt = await world.bob.click(msg, "Bowls")
    assert receipt.ephemeral and "You voted for **Bowls**" in receipt.content
    assert "<t:" in receipt.content  # until when it can change
    await world.carol.click(msg, "Mugs")
    changed = await world.bob.click(msg, "Mugs")  # changes his vote
    assert "You voted for **Mugs**" in changed.content

    await wait_for_edit(world, msg, lambda m: "2 votes · 2 of 5" in field(m, "Turnout"))
    assert "100% · 2" in description(msg)  # Mugs: both votes
    assert "0% · 0" in description(msg)

    results = await world.mod.slash("poll results", poll=str(await only_poll_id(world)))
    assert results.ephemeral and "100% · 2" in results.embeds[0]["description"]


async def only_poll_id(world: World) -> int:
    async with world.db.reading() as s:
        return int(await s.scalar(select(func.max(Poll.id))) or 0)


async def test_close_shows_winner_chart_and_disables_buttons(world: World) -> None:
    msg = await create(world, options="Mugs | Bowls")
    await world.bob.click(msg, "Bowls")
    await world.carol.click(msg, "Bowls")
    await world.mod.click(msg, "Mugs")
    poll_id = await only_poll_id(world)

    outsider = await world.bob.slash("poll close", poll=str(poll_id))
    assert outsider.ephemeral and "created this poll" in outsider.content

    closed = await world.alice.slash("poll close", poll=str(poll_id))
    assert "closed" in closed.content.lower() and "Bowls" in closed.content
    assert "closed" in msg.embeds[0]["title"]
    assert "Winner: **Bowls**" in description(msg)
    assert all(c.get("disabled") for row in msg.components for c in row["components"])
    (png,) = msg.attachments
    assert png.filename.endswith(".png") and png.data.startswith(PNG_SIGNATURE)
    assert msg.embeds[0]["image"]["url"].endswith(png.filename)

    late = await world.carol.slash("poll results", poll=str(poll_id))
    assert late.attachments and late.attachments[0].data.startswith(PNG_SIGNATURE)


async def test_poll_closes_on_time_even_across_a_restart(world: World) -> None:
    msg = await create(world, duration="30m")
    await world.bob.click(msg, "Vases")
    await world.restart()
    # The buttons were posted before the restart and still work.
    again = await world.carol.click(msg, "Vases")
    assert "You voted for **Vases**" in again.content
    # Down at the deadline: it closes as soon as Hearth is back.
    world.clock.advance(minutes=31)
    await world.restart()
    await world.sb.wait_for(lambda: "closed" in msg.embeds[0]["title"] or None, 10)
    assert "Winner: **Vases**" in description(msg)
    # A client still showing the old message clicks anyway: refused, saying when it closed.
    stale = {"custom_id": msg.components[0]["components"][0]["custom_id"], "component_type": 2}
    refused = await world.bob._component(msg, stale, None)
    assert refused.ephemeral and "closed <t:" in refused.content


async def wait_tally(world: World, msg: MessageRecord, text: str) -> None:
    await world.sb.wait_for(lambda: text in field(msg, "Turnout") or None, 10)


async def test_activity_counts_each_voter_once(world: World) -> None:
    msg = await create(world)
    await world.bob.click(msg, "Mugs")
    await world.bob.click(msg, "Bowls")
    await world.settle()
    async with world.db.reading() as s:
        votes = await s.scalar(
            select(func.count()).where(
                ActivityEvent.kind == int(ActivityKind.POLL_VOTE),
                ActivityEvent.user_id == world.bob.id,
            )
        )
    assert votes == 1


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


async def test_export_is_for_moderators_and_lists_public_votes(world: World) -> None:
    msg = await create(world)
    await world.bob.click(msg, "Mugs")
    poll_id = str(await only_poll_id(world))
    refused = await world.alice.slash("poll export", poll=poll_id)
    assert refused.ephemeral and not refused.attachments
    reply = await world.mod.slash("poll export", poll=poll_id)
    files = {a.filename: read_csv(a.data) for a in reply.attachments}
    totals = files[f"poll-{poll_id}-results.csv"]
    assert [(r["option"], r["votes"]) for r in totals] == [
        ("Mugs", "1"),
        ("Bowls", "0"),
        ("Vases", "0"),
    ]
    ballots = files[f"poll-{poll_id}-ballots.csv"]
    assert ballots == [
        {
            "poll": poll_id,
            "member_id": str(world.bob.id),
            "member": "bob",
            "option_number": "1",
            "option": "Mugs",
        }
    ]


async def test_a_rush_of_200_voters_gives_an_exact_tally(world: World) -> None:
    voters = [world.guild.add_member(f"fan{i}") for i in range(200)]
    await world.settle()
    msg = await create(world, options="Mugs | Bowls | Vases")
    labels = ["Mugs", "Bowls", "Vases"]
    expected = [0, 0, 0]
    clicks = []
    for i, member in enumerate(voters):
        final = i % 3
        expected[final] += 1
        if i % 5 == 0:
            # An impatient member: five clicks at once on the same option.
            clicks += [member.click(msg, labels[final]) for _ in range(5)]
        else:
            clicks.append(member.click(msg, labels[final]))
    replies = await asyncio.gather(*clicks)
    assert all(r.ephemeral and "voted for" in r.content for r in replies), [
        r.content for r in replies if "voted for" not in r.content
    ][:3]

    # The public message settles on the exact tally (edits are debounced, the last is exact).
    await wait_tally(world, msg, "200 votes · 200 of 205 eligible")
    for label, n in zip(labels, expected, strict=True):
        assert f"· {n}" in description(msg).split(f"**{labels.index(label) + 1}. {label}**")[1]
    # Debounced: far fewer edits than votes.
    assert msg.edits < 20, msg.edits
    poll_id = await only_poll_id(world)
    closed = await world.alice.slash("poll close", poll=str(poll_id))
    assert "closed" in closed.content
    async with world.db.reading() as s:
        from models import PollOption

        counts = (
            await s.scalars(
                select(PollOption.votes)
                .where(PollOption.poll_id == poll_id)
                .order_by(PollOption.position)
            )
        ).all()
    assert list(counts) == expected


async def test_anonymous_poll_leaves_no_member_behind(world: World) -> None:
    msg = await create(world, anonymous=True, options="Yes | No")
    assert "Anonymous" in description(msg)
    mine = await world.bob.click(msg, "Yes")
    assert "Anonymous" in mine.content
    await world.carol.click(msg, "No")
    await world.carol.click(msg, "Yes")  # changes her vote: still one ballot
    await world.mod.click(msg, "No")
    await world.settle()
    poll_id = await only_poll_id(world)
    # Even the export has only totals.
    export = await world.mod.slash("poll export", poll=str(poll_id))
    assert [a.filename for a in export.attachments] == [f"poll-{poll_id}-results.csv"]
    await world.alice.slash("poll close", poll=str(poll_id))
    assert "Winner: **Yes**" in description(msg)
    await world.settle()

    voters = {world.bob.id, world.carol.id, world.mod.id}
    rows = await every_row(world)
    for table, row in rows:
        values = set(flatten(row))
        about_poll = msg.id in values or any(
            isinstance(v, str) and f"poll:{poll_id}:" in v for v in values
        )
        if table.startswith("poll") or about_poll:
            assert not values & voters, f"{table} ties a voter to the poll: {row}"
    ballots = [row for table, row in rows if table == "poll_ballot"]
    assert ballots == []
    # Votes still count as activity, without saying in which poll.
    votes = [r for t, r in rows if t == "activity_event" and r["kind"] == ActivityKind.POLL_VOTE]
    assert {r["user_id"] for r in votes} == voters
    assert all(r["channel_id"] is None for r in votes)


async def every_row(world: World) -> list[tuple[str, dict[str, Any]]]:
    from models import Base

    out = []
    async with world.db.reading() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).mappings():
                out.append((table.name, dict(row)))
    return out


def flatten(value: Any) -> list[Any]:
    """Every scalar in a row, with numbers found inside strings and JSON too."""
    import re

    if isinstance(value, dict):
        return [x for v in value.values() for x in flatten(v)]
    if isinstance(value, list | tuple):
        return [x for v in value for x in flatten(v)]
    if isinstance(value, str):
        return [int(n) for n in re.findall(r"\d{6,}", value)] + [value]
    return [value]


async def test_a_tier_poll_refuses_outsiders(world: World) -> None:
    insiders = world.guild.create_role("Inner circle")
    await world.carol.add_role(insiders)
    msg = await create(world, tier=insiders)
    assert f"<@&{insiders.id}>" in field(msg, "Who can vote")
    assert "0 of 1 eligible" in field(msg, "Turnout")
    refused = await world.bob.click(msg, "Mugs")
    assert refused.ephemeral and f"<@&{insiders.id}>" in refused.content
    ok = await world.carol.click(msg, "Mugs")
    assert "You voted for **Mugs**" in ok.content
    await wait_tally(world, msg, "1 vote · 1 of 1 eligible")


async def test_many_options_use_a_multi_select(world: World) -> None:
    options = " | ".join(f"Glaze {c}" for c in "ABCDEFG")
    msg = await create(world, options=options, choices=3, results="at_close")
    (select_menu,) = [c for row in msg.components for c in row["components"] if c["type"] == 3]
    assert select_menu["max_values"] == 3 and len(select_menu["options"]) == 7
    assert "hidden" in description(msg) and "%" not in description(msg)
    picked = await world.bob.select(msg, ["0", "2", "4"])
    assert (
        "Glaze A" in picked.content and "Glaze C" in picked.content and "Glaze E" in picked.content
    )
    changed = await world.bob.select(msg, ["1"])
    assert "Glaze B" in changed.content and "Glaze A" not in changed.content
    poll_id = str(await only_poll_id(world))
    hidden = await world.carol.slash("poll results", poll=poll_id)
    assert "hidden" in hidden.content and "1 vote" in hidden.content
    cleared = await world.bob.click(msg, "Clear my vote")
    assert "withdrawn" in cleared.content
    await wait_tally(world, msg, "0 votes")


async def test_multi_choice_buttons_add_up_to_the_limit(world: World) -> None:
    msg = await create(world, choices=2)
    await world.bob.click(msg, "Mugs")
    both = await world.bob.click(msg, "Vases")
    assert "Mugs" in both.content and "Vases" in both.content
    again = await world.bob.click(msg, "Vases")  # a double click changes nothing
    assert "nothing changed" in again.content
    over = await world.bob.click(msg, "Bowls")
    assert "at most" in over.content or "already picked 2" in over.content
    await wait_tally(world, msg, "2 votes · 1 of 5")


async def test_autocomplete_and_list(world: World) -> None:
    await create(world, question="Which kiln day works?", options="Sat | Sun")
    await create(world, question="Pizza night?", options="Yes | No")
    choices = await world.bob.autocomplete("poll results", "poll", "kiln")
    assert len(choices) == 1 and "Which kiln day works?" in choices[0]["name"]
    listed = await world.bob.slash("poll list")
    text = listed.embeds[0]["description"]
    assert "Which kiln day works?" in text and "Pizza night?" in text


async def test_another_servers_poll_is_not_found(world: World) -> None:
    msg = await create(world)
    poll_id = str(await only_poll_id(world))
    other = await world.other_server()
    reply = await other.owner.slash("poll close", poll=poll_id)
    assert reply.ephemeral and "can't find poll" in reply.content
    assert "closed" not in msg.embeds[0]["title"]


BAD_INPUTS = [
    ({"options": "Only one"}, "at least 2"),
    ({"options": " | ".join(f"o{i}" for i in range(26))}, "at most 25"),
    ({"options": "Tea | tea"}, "same"),
    ({"options": "Tea || Coffee"}, "empty"),
    ({"options": "Tea | " + "x" * 81}, "at most 80"),
    ({"question": "?" * 301}, "at most 300"),
    ({"duration": "soon"}, "duration"),
    ({"duration": "33d"}, "32 days"),
    ({"duration": "0m"}, "at least 1 minute"),
    ({"choices": 4}, "between 1 and 3"),
    ({"choices": 0}, "between 1 and 3"),
]


async def test_bad_input_is_refused_and_nothing_is_created(world: World) -> None:
    for changes, hint in BAD_INPUTS:
        options = {"question": "Q?", "options": "Mugs | Bowls | Vases", **changes}
        reply = await world.alice.slash("poll create", **options)
        assert reply.ephemeral and hint in reply.content, (changes, reply.content)
    quiet = world.guild.create_channel("announcements", bot_can_send=False)
    await world.settle()
    reply = await world.alice.slash("poll create", question="Q?", options="A | B", channel=quiet)
    assert reply.ephemeral and "I can't post polls in" in reply.content
    assert "Send Messages" in reply.content
    async with world.db.reading() as s:
        assert await s.scalar(select(func.count()).select_from(Poll)) == 0
    assert not [m for m in world.sb.messages(world.general) if m.author_id == world.app.user.id]


async def test_a_poll_that_cannot_be_posted_leaves_nothing_behind(world: World) -> None:
    # Discord refuses the post although the permissions looked right (say, they changed a
    # moment ago): the member is told, and the poll and its scheduled close are gone.
    world.sb.faults.server_error("POST", "/channels/{channel_id}/messages", status=403)
    reply = await world.alice.slash("poll create", question="Q?", options="A | B")
    assert reply.ephemeral and "Discord didn't let me" in reply.content
    async with world.db.reading() as s:
        assert await s.scalar(select(func.count()).select_from(Poll)) == 0
        pending = await s.scalar(
            select(func.count())
            .select_from(ScheduledAction)
            .where(ScheduledAction.kind == "polls.close", ScheduledAction.status == "pending")
        )
    assert pending == 0


async def test_an_update_pending_at_a_restart_is_not_lost(world: World) -> None:
    msg = await create(world)
    await world.bob.click(msg, "Mugs")  # edits at once
    await world.carol.click(msg, "Bowls")  # within 2 s: waits for the next edit
    await world.restart()  # ... which dies with the process
    await wait_tally(world, msg, "2 votes · 2 of 5")
