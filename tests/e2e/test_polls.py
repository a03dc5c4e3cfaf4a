"""Polls through the sandbox: members create, vote, change votes; the poll closes with a chart."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from models import ActivityEvent, ActivityKind, Poll
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


async def wait_for_edit(world: World, msg: MessageRecord, check: Any, timeout: float = 8) -> None:
    await world.sb.wait_for(lambda: check(msg) or None, timeout)


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
    assert [(r["option"], r["votes"]) for r in totals] == [("Mugs", "1"), ("Bowls", "0"), ("Vases", "0")]
    ballots = files[f"poll-{poll_id}-ballots.csv"]
    assert ballots == [
        {"poll": poll_id, "member_id": str(world.bob.id), "member": "bob", "option_number": "1", "option": "Mugs"}
    ]


async def test_concurrency_smoke(world: World) -> None:
    msg = await create(world)
    await asyncio.gather(*(world.bob.click(msg, "Mugs") for _ in range(5)))
    await wait_tally(world, msg, "1 vote · 1 of 5")
    _ = timedelta
