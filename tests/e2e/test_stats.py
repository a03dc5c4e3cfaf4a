"""/stats through the sandbox: members chat, react and sit in voice; the numbers show it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.e2e.conftest import World


def fields(reply: Any) -> dict[str, str]:
    assert reply.ephemeral, "stats are always ephemeral"
    (embed,) = reply.embeds
    return {f["name"]: f["value"] for f in embed["fields"]}


async def test_members_take_part_and_stats_show_it(world: World) -> None:
    # The story spans 40 minutes and counts 10-minute blocks, days and weeks: run it at 12:00:30
    # of a day to come, so it never straddles a block, midnight or Monday, whatever the real time.
    real = world.clock()
    noon = (real + timedelta(days=1)).replace(hour=12, minute=0, second=30, microsecond=0)
    world.clock.advance(seconds=(noon - real).total_seconds())
    now = world.clock()
    # Alice writes in two separate 10-minute blocks, Bob answers and reacts, Carol only
    # listens in voice with Bob for 20 minutes; the moderator does nothing at all.
    hello = await world.alice.say(world.general, "morning all", at=now - timedelta(minutes=40))
    await world.alice.say(world.general, "coffee?", at=now - timedelta(minutes=39))
    await world.alice.say(world.general, "back again", at=now - timedelta(minutes=5))
    await world.bob.say(world.general, "morning!", at=now - timedelta(minutes=38))
    await world.bob.react(hello, "☕")
    await world.carol.join_voice(world.lounge)
    await world.bob.join_voice(world.lounge)
    await world.settle()
    world.clock.advance(minutes=20)
    await world.carol.leave_voice()
    await world.bob.leave_voice()
    await world.settle()

    server = await world.mod.slash("stats server")
    shown = fields(server)
    assert server.embeds[0]["title"] == "Server stats: this week so far"
    # Alice, Bob and Carol were active; the owner's /hearth about calls (settle) are not
    # activity. Everyone is counted as a member: owner, mod, alice, bob, carol.
    assert shown["Active"].startswith("3")
    assert shown["Talking"].startswith("3")  # carol talked in voice, the others wrote
    assert shown["Members"].startswith("5")
    assert shown["Engaged"].startswith("60%")
    top = shown["Top contributors"]
    assert f"<@{world.alice.id}>" in top and f"<@{world.bob.id}>" in top
    assert top.index(f"<@{world.alice.id}>") < top.index(f"<@{world.carol.id}>")
    assert f"<@{world.mod.id}>" not in top

    mine = await world.alice.slash("stats me")
    me = fields(mine)
    assert mine.embeds[0]["title"] == "Your week"
    assert me["Activity blocks"] == "2" and me["Messages"] == "3" and me["Active days"] == "1"
    assert me["Streak"] == "1 week"
    # /stats me is about the member alone: no one else appears in it.
    text = str(mine.embeds)
    assert all(str(m.id) not in text for m in (world.bob, world.carol, world.mod))

    carol = fields(await world.carol.slash("stats me"))
    assert carol["Voice"] == "20 min" and carol["Activity blocks"] == "0"


async def test_stats_server_is_for_moderators_only(world: World) -> None:
    reply = await world.alice.slash("stats server")
    assert reply.ephemeral and not reply.embeds
    assert "moderator" in reply.content.lower()


async def test_last_week_is_empty_but_never_divides_by_zero(world: World) -> None:
    reply = await world.owner.slash("stats server", period=1)
    shown = fields(reply)
    assert reply.embeds[0]["title"] == "Server stats"
    assert shown["Active"].startswith("0")
    assert shown["New, back in wk 2"] == "not enough data yet"
    assert shown["Top contributors"] == "not enough data yet"
