"""Each dispatch type reaches a plain discord.py client and parses into the right objects."""

from __future__ import annotations

import datetime as dt
from typing import Any

import discord

from sandbox import RecordingClient
from sandbox.snowflakes import snowflake_time

World = Any


async def test_message_lifecycle(world: World, client: RecordingClient) -> None:
    sb, alice = world.sb, world.alice
    msg = await alice.say(world.general, "hi there")
    await sb.wait_for(lambda: client.seen("message"))
    (created,) = client.seen("message")[0]
    assert created.id == msg.id and created.author.id == alice.id
    assert created.channel.id == world.general.id
    assert created.content == ""  # no message_content intent: Discord blanks it
    assert isinstance(created.author, discord.Member)

    await alice.edit(msg, "edited")
    await sb.wait_for(lambda: client.seen("raw_message_edit"))
    await alice.delete(msg)
    await sb.wait_for(lambda: client.seen("raw_message_delete"))
    assert msg.edits == 1 and msg.deleted


async def test_backdated_message_snowflake(world: World, client: RecordingClient) -> None:
    past = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    msg = await world.alice.say(world.general, "old news", at=past)
    assert abs((snowflake_time(msg.id) - past).total_seconds()) < 0.002
    await world.sb.wait_for(lambda: client.seen("message"))
    (m,) = client.seen("message")[0]
    assert m.created_at == snowflake_time(msg.id)


async def test_reactions(world: World, client: RecordingClient) -> None:
    sb = world.sb
    channel = client.get_channel(world.general.id)
    sent = await channel.send("react to me")  # type: ignore[union-attr]
    rec = sb.message(sent.id)
    await world.alice.react(rec, "👍")
    await sb.wait_for(lambda: client.seen("raw_reaction_add"))
    (payload,) = client.seen("raw_reaction_add")[0]
    assert str(payload.emoji) == "👍" and payload.user_id == world.alice.id
    await world.alice.unreact(rec, "👍")
    await sb.wait_for(lambda: client.seen("raw_reaction_remove"))
    await sent.add_reaction("✅")
    assert rec.reactions["✅"] == [world.app.user_id]


async def test_member_join_update_leave(world: World, client: RecordingClient) -> None:
    sb = world.sb
    carol = world.guild.add_member("carol", pending=True)
    await sb.wait_for(lambda: client.seen("member_join"))
    (joined,) = client.seen("member_join")[0]
    assert joined.id == carol.id and joined.pending

    await carol.accept_rules_screening()
    await sb.wait_for(lambda: client.seen("member_update"))
    before, after = client.seen("member_update")[0]
    assert before.pending and not after.pending

    await carol.leave()
    await sb.wait_for(lambda: client.seen("raw_member_remove"))
    assert client.get_guild(world.guild.id).get_member(carol.id) is None  # type: ignore[union-attr]


async def test_invite_join_counts_use(world: World, client: RecordingClient) -> None:
    sb = world.sb
    invite = await world.alice.create_invite(world.general)
    await sb.wait_for(lambda: client.seen("invite_create"))
    carol = await world.guild.join("carol", invite=invite.code)
    assert invite.uses == 1
    await sb.wait_for(lambda: client.seen("member_join"))
    fetched = await client.get_guild(world.guild.id).invites()  # type: ignore[union-attr]
    assert [(i.code, i.uses) for i in fetched] == [(invite.code, 1)]
    await fetched[0].delete()
    await sb.wait_for(lambda: client.seen("invite_delete"))
    assert carol.member.user.username == "carol"


async def test_voice_state(world: World, client: RecordingClient) -> None:
    sb = world.sb
    await world.alice.join_voice(world.voice, self_deaf=True)
    await sb.wait_for(lambda: client.seen("voice_state_update"))
    member, before, after = client.seen("voice_state_update")[0]
    assert member.id == world.alice.id and before.channel is None
    assert after.channel.id == world.voice.id and after.self_deaf
    await world.alice.leave_voice()
    await sb.wait_for(lambda: len(client.seen("voice_state_update")) == 2)
    assert client.seen("voice_state_update")[1][2].channel is None


async def test_scheduled_events_and_roles(world: World, client: RecordingClient) -> None:
    sb = world.sb
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    event = await guild.create_scheduled_event(
        name="Game night",
        start_time=start,
        end_time=start + dt.timedelta(hours=2),
        entity_type=discord.EntityType.external,
        location="Online",
        privacy_level=discord.PrivacyLevel.guild_only,
    )
    await sb.wait_for(lambda: client.seen("scheduled_event_create"))
    await event.edit(name="Board game night")
    await sb.wait_for(lambda: client.seen("scheduled_event_update"))
    await event.delete()
    await sb.wait_for(lambda: client.seen("scheduled_event_delete"))
    (record,) = sb.scheduled_events
    assert record.name == "Board game night" and record.deleted

    role = await guild.create_role(name="Regular")
    member = guild.get_member(world.alice.id)
    assert member is not None
    await member.add_roles(role)
    await sb.wait_for(lambda: any(role in after.roles for _, after in client.seen("member_update")))
    await member.remove_roles(role)
    assert [(c.member_id, c.role_id, c.added) for c in sb.role_changes] == [
        (world.alice.id, role.id, True),
        (world.alice.id, role.id, False),
    ]


async def test_dm_and_files(world: World, client: RecordingClient) -> None:
    user = await client.fetch_user(world.alice.id)
    await user.send("welcome!", file=discord.File(__file__, filename="hello.py"))
    (dm,) = world.alice.dms()
    assert dm.content == "welcome!" and dm.attachments[0].filename == "hello.py"
    assert dm.attachments[0].bytes.startswith(b'"""Each dispatch')


async def test_member_chunk_request(world: World, client: RecordingClient) -> None:
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    members = await guild.query_members("ali")
    assert [m.id for m in members] == [world.alice.id]
    members = await guild.query_members(user_ids=[world.bob.id])
    assert [m.id for m in members] == [world.bob.id]


async def test_fetch_member_and_message_history(world: World, client: RecordingClient) -> None:
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    member = await guild.fetch_member(world.bob.id)
    assert member.pending
    for i in range(3):
        await world.alice.say(world.general, f"m{i}")
    channel = guild.get_channel(world.general.id)
    history = [m async for m in channel.history(limit=10)]  # type: ignore[union-attr]
    assert [m.id for m in history] == [m.id for m in reversed(world.sb.messages(world.general))]
    pinned = await channel.send("pin me")  # type: ignore[union-attr]
    await pinned.pin()
    assert world.sb.message(pinned.id).pinned


async def test_guild_created_while_connected_is_joined(
    world: World, client: RecordingClient
) -> None:
    sb = world.sb
    new = sb.create_guild("Second Home")
    await sb.wait_for(lambda: client.seen("guild_join"))
    (joined,) = client.seen("guild_join")[0]
    assert joined.id == new.id and joined.me is not None


async def test_wait_until_connected(world: World, client: RecordingClient) -> None:
    session = await world.sb.wait_until_connected(world.app, timeout=1)
    assert session.bot is world.app and session.intents == client.intents.value


async def test_threads(world: World, client: RecordingClient) -> None:
    sb = world.sb
    # a member starts a thread on a message; the bot sees it and replies inside
    root = await world.alice.say(world.general, "plans for saturday?")
    thread_rec = await world.alice.start_thread(root, "Saturday")
    await sb.wait_for(lambda: client.seen("thread_create"))
    (thread,) = client.seen("thread_create")[0]
    assert thread.id == root.id and thread.parent_id == world.general.id
    await world.bob.say(thread_rec, "count me in")
    await sb.wait_for(lambda: len(client.seen("message")) == 2)
    assert client.seen("message")[-1][0].channel.id == thread.id
    await thread.send("noted")
    assert [m.content for m in sb.messages(thread_rec)] == ["count me in", "noted"]

    # the bot starts its own thread, adds a member, archives it
    channel = client.get_channel(world.general.id)
    own = await channel.create_thread(name="Bot thread", type=discord.ChannelType.public_thread)  # type: ignore[union-attr]
    await own.add_user(discord.Object(world.alice.id))
    await own.edit(archived=True)
    record = world.guild.channel("Bot thread")
    assert record.archived and world.alice.id in record.member_ids
    await own.send("wakes it up")
    assert not record.archived


async def test_member_scheduled_event_interest_and_dm(
    world: World, client: RecordingClient
) -> None:
    sb = world.sb
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    record = world.guild.create_scheduled_event(
        "Book club", start, start + dt.timedelta(hours=1), creator=world.alice
    )
    await sb.wait_for(lambda: client.seen("scheduled_event_create"))
    await world.bob.mark_interested(record)
    await sb.wait_for(lambda: client.seen("scheduled_event_user_add"))
    event = client.get_guild(world.guild.id).get_scheduled_event(record.id)  # type: ignore[union-attr]
    assert event is not None and event.creator_id == world.alice.id
    users = [u.id async for u in event.users()]
    assert users == [world.bob.id]
    world.guild.set_event_status(record, 2)
    await sb.wait_for(lambda: client.seen("scheduled_event_update"))
    assert event.status is discord.EventStatus.active

    await world.alice.dm(world.app, "stop the digests please")
    await sb.wait_for(lambda: client.seen("message"))
    (dm,) = client.seen("message")[0]
    assert isinstance(dm.channel, discord.DMChannel) and dm.content == "stop the digests please"


async def test_replies_roles_bulk_delete(world: World, client: RecordingClient) -> None:
    sb = world.sb
    first = await world.alice.say(world.general, "question?")
    await world.bob.say(world.general, "answer!", reply_to=first)
    await sb.wait_for(lambda: len(client.seen("message")) == 2)
    reply = client.seen("message")[1][0]
    assert reply.reference.message_id == first.id
    assert reply.reference.resolved is not None and reply.reference.resolved.id == first.id

    guild = client.get_guild(world.guild.id)
    assert guild is not None
    role = await guild.create_role(name="Temp")
    await role.edit(name="Temporary")
    assert world.guild.role("Temporary").id == role.id
    await role.delete()
    await sb.wait_for(lambda: guild.get_role(role.id) is None)
    await guild.me.edit(nick="Hearthy")
    assert world.guild.members[world.app.user_id].nick == "Hearthy"

    channel = guild.get_channel(world.general.id)
    deleted = await channel.purge(limit=10)  # type: ignore[union-attr]
    assert {m.id for m in deleted} == {m.id for m in sb.messages(world.general)}
    assert all(m.deleted for m in sb.messages(world.general))
