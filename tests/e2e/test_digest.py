"""The weekly digest through the sandbox: right numbers, a chart, exactly once, DMs closed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from models import DigestDelivery
from sandbox import MessageRecord, ScriptedMember
from sandbox.hearth_runner import running_hearth
from services.digest import SEND_ACTION
from services.scheduling import cancel_actions
from tests.e2e.conftest import World

PNG = b"\x89PNG\r\n\x1a\n"
VIEW_CHANNEL = 1 << 10
HEARTH_NEEDS = VIEW_CHANNEL | 1 << 11 | 1 << 14 | 1 << 15  # view, send, embed links, attach


def set_clock(world: World, moment: datetime) -> None:
    world.clock.advance(seconds=(moment - world.clock()).total_seconds())


def digests(member: ScriptedMember) -> list[MessageRecord]:
    return [m for m in member.dms() if m.embeds and "your week" in m.embeds[0]["title"]]


def fields(msg: MessageRecord) -> dict[str, str]:
    return {f["name"]: f["value"] for f in msg.embeds[0]["fields"]}


def scripted_week(world: World) -> datetime:
    """A Monday 00:00 UTC at least 4 weeks ahead: everyone in the sandbox joined before it,
    and long enough before it not to count as new."""
    real = datetime.now(UTC)
    monday = (real + timedelta(days=28)).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday + timedelta(days=(7 - monday.weekday()) % 7)


async def schedule_from(world: World, moment: datetime) -> None:
    """As if Hearth had been set up at ``moment``: the digest scheduled when it started (in
    real time, weeks before the story's clock) is dropped, then scheduled again from there."""
    async with world.db.writing() as s:
        await cancel_actions(s, now=world.clock(), kind=SEND_ACTION)
    set_clock(world, moment)
    await world.owner.slash("digest setup")


async def wait_digests(member: ScriptedMember, n: int, world: World) -> list[MessageRecord]:
    found = await world.sb.wait_for(
        lambda: digests(member) if len(digests(member)) >= n else None, 15
    )
    for _ in range(100):  # and the delivery is written down
        async with world.db.reading() as s:
            rows = (await s.scalars(select(DigestDelivery))).all()
        if rows and all(r.status != "sending" for r in rows):
            break
        await asyncio.sleep(0.05)
    return list(found)


async def test_a_scripted_week_gives_hand_computed_numbers(world: World) -> None:
    week = scripted_week(world)
    tue, wed, thu = (week + timedelta(days=d) for d in (1, 2, 3))
    # alice: Tuesday 10:00, 10:01 (one block), 10:25 (another), Thursday 12:00 -> 4 messages,
    # 3 blocks, 2 active days. bob: Wednesday 15:00 -> 1 message, 1 block, 1 day.
    for at in (
        tue.replace(hour=10),
        tue.replace(hour=10, minute=1),
        tue.replace(hour=10, minute=25),
        thu.replace(hour=12),
    ):
        await world.alice.say(world.general, "glaze notes", at=at)
    await world.bob.say(world.general, "kiln's free", at=wed.replace(hour=15))
    await world.settle()

    await schedule_from(world, week + timedelta(days=6, hours=12))  # Sunday noon, that week
    set_clock(world, week + timedelta(days=7, hours=9, minutes=1))  # Monday 09:01 after it
    (dm,) = await wait_digests(world.owner, 1, world)
    got = fields(dm)
    assert dm.embeds[0]["title"].startswith("Cozy Corner: your week")
    assert got["Members"].startswith("5 (＝)") and "+0 joined · −0 left" in got["Members"]
    assert got["Active members"] == "2 (▲2)"
    assert got["Engagement"] == "40% (▲40 pts)"  # 2 of 5
    assert got["New members back in week 2"] == "not enough data yet"  # nobody joined before
    assert got["Active 2+ days"] == "1 (▲1)"  # alice
    assert got["Messages"] == "5 (▲5)\n4 (▲4) activity blocks"
    assert got["Voice"] == "0 (＝) min"
    assert got["Events"] == "no events this week" and got["Polls"] == "no polls closed this week"
    assert got["Referrals"] == got["Showcase"] == "not yet available"
    assert got["🙏 Thank"] == "alice, bob"  # by name, no mention, no ping
    assert "nobody" in next(v for k, v in got.items() if k.startswith("👋"))
    (png,) = dm.attachments
    assert png.data.startswith(PNG) and dm.embeds[0]["image"]["url"].endswith(png.filename)
    assert world.mod.dms() == []  # only the owner receives it by default

    status = await world.mod.slash("digest status")
    assert "sent by DM" in str(status.embeds[0]["fields"])


async def test_preview_is_ephemeral_and_sends_nothing(world: World) -> None:
    reply = await world.mod.slash("digest preview")
    assert reply.ephemeral and "this week so far" in reply.embeds[0]["title"]
    assert reply.attachments and reply.attachments[0].data.startswith(PNG)
    await asyncio.sleep(0.3)
    assert world.owner.dms() == [] and world.mod.dms() == []
    async with world.db.reading() as s:
        assert (await s.scalars(select(DigestDelivery))).all() == []
    refused = await world.alice.slash("digest preview")
    assert refused.ephemeral and not refused.embeds


async def test_closed_dms_go_to_the_moderators_channel_and_are_marked(world: World) -> None:
    dana = world.guild.add_member("dana", accepts_dms=False)
    hidden = [{"id": str(world.guild.id), "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)}]
    secret = world.guild.create_channel("secret", overwrites=hidden)
    hearth = {"id": str(world.app.user.id), "type": 1, "allow": str(HEARTH_NEEDS), "deny": "0"}
    mods = world.guild.create_channel("mods-only", overwrites=[*hidden, hearth])
    await world.settle()
    refused = await world.owner.slash("hearth moderators", channel=secret)
    assert "can't post" in refused.content  # Hearth can't see it: said before it matters
    public = await world.owner.slash("hearth moderators", channel=world.general)
    assert "visible to everyone" in public.content
    set_up = await world.owner.slash("hearth moderators", channel=mods)
    assert "mods-only" in set_up.content or str(mods.id) in set_up.content
    added = await world.owner.slash("digest recipients add", member=dana)
    assert "dana" in added.content
    sent = await world.owner.slash("digest send-now")
    assert "DMs closed" in sent.content, sent.content
    posted = world.sb.bot_messages(mods)
    assert len(posted) == 1, sent.content
    assert posted[0].embeds and posted[0].attachments
    assert "dana" in posted[0].content and world.sb.everyone_pings == []
    listed = await world.owner.slash("digest recipients list")
    assert "DMs closed" in listed.content
    status = await world.owner.slash("digest status")
    assert "DMs closed" in str(status.embeds[0]["fields"])
    # A second send the same week: already delivered, nothing new.
    again = await world.owner.slash("digest send-now")
    assert "already had" in again.content and len(world.sb.bot_messages(mods)) == 1


async def test_adding_someone_else_needs_manage_server(world: World) -> None:
    helpers = world.guild.create_role("Helpers")  # moderators by role, without Manage Server
    await world.carol.add_role(helpers)
    await world.settle()
    await world.owner.slash("hearth moderators", role=helpers)
    refused = await world.alice.slash("digest recipients add")
    assert refused.ephemeral and "moderator" in refused.content.lower()
    herself = await world.carol.slash("digest recipients add")
    assert "will receive" in herself.content
    other = await world.carol.slash("digest recipients add", member=world.bob)
    assert "Manage Server" in other.content
    listed = await world.owner.slash("digest recipients list")
    assert "carol" in listed.content and "bob" not in listed.content


async def test_sent_once_across_a_restart(world: World) -> None:
    week = scripted_week(world)
    set_clock(world, week + timedelta(hours=9, minutes=1))
    await wait_digests(world.owner, 1, world)
    await world.restart()
    await world.settle()
    await asyncio.sleep(0.6)  # several ticks
    set_clock(world, week + timedelta(days=1))
    await asyncio.sleep(0.6)
    assert len(digests(world.owner)) == 1
    set_clock(world, week + timedelta(days=7, hours=9, minutes=1))  # next Monday: the next one
    await wait_digests(world.owner, 2, world)


async def test_sunday_0230_berlin_is_sent_once_on_the_night_clocks_go_back(world: World) -> None:
    set_clock(world, datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    reply = await world.owner.slash("digest setup", day=6, time="02:30", timezone="Europe/Berlin")
    first_0230 = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert f"<t:{int(first_0230.timestamp())}:F>" in reply.content
    set_clock(world, first_0230 + timedelta(minutes=1))
    await wait_digests(world.owner, 1, world)
    set_clock(world, first_0230 + timedelta(hours=1, minutes=1))  # 02:31 CET, the second time
    await asyncio.sleep(0.6)
    set_clock(world, datetime(2026, 10, 26, 9, 0, tzinfo=UTC))
    await asyncio.sleep(0.6)
    assert len(digests(world.owner)) == 1


async def test_two_bot_processes_send_it_once(world: World) -> None:
    second = running_hearth(world.sb, world.bot.settings, clock=world.clock)
    await second.__aenter__()
    try:
        week = scripted_week(world)
        set_clock(world, week + timedelta(hours=9, minutes=1))
        await wait_digests(world.owner, 1, world)
        await asyncio.sleep(1.5)  # both tickers have had many chances
        assert len(digests(world.owner)) == 1
    finally:
        await second.__aexit__(None, None, None)


async def test_the_weeks_figures_as_csv_when_asked(world: World) -> None:
    reply = await world.owner.slash("digest setup", csv=True)
    assert "CSV" in reply.content
    await world.owner.slash("digest send-now")
    (dm,) = digests(world.owner)
    names = sorted(a.filename.rsplit(".", 1)[1] for a in dm.attachments)
    assert names == ["csv", "png"]
    table = next(a for a in dm.attachments if a.filename.endswith(".csv")).data.decode("utf-8-sig")
    assert table.splitlines()[0] == "metric,this_week,week_before"
    rows = {line.split(",")[0] for line in table.splitlines()[1:]}
    assert {"members_total", "active", "engagement_rate", "messages", "poll_voters"} <= rows
