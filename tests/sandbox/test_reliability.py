"""Resume, reconnect, invalid sessions, rate limits, server errors, shards and streaming."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import discord

from sandbox import RecordingClient, Sandbox, run_client

World = Any


class FastShardedClient(discord.AutoShardedClient):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # discord.py spaces IDENTIFYs by 5 s; the sandbox does not need that


async def test_resume_replays_missed_events(world: World, client: RecordingClient) -> None:
    sb = world.sb
    (session,) = sb.gateway.sessions.values()
    assert await sb.drop_gateway(world.app) == 1
    missed = await world.alice.say(world.general, "while you were away")
    await sb.wait_for(lambda: client.seen("resumed"))
    await sb.wait_for(lambda: client.seen("message"))
    assert client.seen("message")[0][0].id == missed.id
    assert len(sb.gateway.identifies) == 1, "must RESUME, not re-IDENTIFY"
    assert list(sb.gateway.sessions.values()) == [session] and session.connected


async def test_op7_reconnect_resumes(world: World, client: RecordingClient) -> None:
    sb = world.sb
    assert await sb.request_reconnect() == 1
    await sb.wait_for(lambda: client.seen("resumed"))
    await world.alice.say(world.general, "after reconnect")
    await sb.wait_for(lambda: client.seen("message"))
    assert len(sb.gateway.identifies) == 1


async def test_invalid_session_reidentifies(world: World, client: RecordingClient) -> None:
    sb = world.sb
    sb.invalidate_sessions()
    await sb.drop_gateway()
    await sb.wait_for(lambda: len(sb.gateway.identifies) == 2 and sb.connected, timeout=10)
    await world.alice.say(world.general, "fresh session")
    await sb.wait_for(lambda: client.seen("message"))


async def test_429_with_via_is_retried(world: World, client: RecordingClient) -> None:
    sb = world.sb
    rule = sb.faults.rate_limit("POST", "/channels/{channel_id}/messages", times=1, retry_after=0.1)
    started = time.monotonic()
    sent = await client.get_channel(world.general.id).send("eventually")  # type: ignore[union-attr]
    assert time.monotonic() - started >= 0.1
    assert rule.fired == 1
    statuses = [r.status for r in sb.requests if r.route == "/channels/{channel_id}/messages"]
    assert statuses == [429, 200]
    assert sb.message(sent.id).content == "eventually"


async def test_server_error_is_retried(world: World, client: RecordingClient) -> None:
    sb = world.sb
    sb.faults.server_error("GET", "/channels/{channel_id}", times=1, status=502)
    channel = await client.fetch_channel(world.general.id)
    assert channel.id == world.general.id
    assert [r.status for r in sb.requests if r.route == "/channels/{channel_id}"] == [502, 200]


async def test_latency(world: World, client: RecordingClient) -> None:
    world.sb.faults.latency(0.15, match="/users/")
    started = time.monotonic()
    await client.fetch_user(world.alice.id)
    assert time.monotonic() - started >= 0.15


async def test_shards_route_guilds() -> None:
    async with Sandbox(recommended_shards=2) as sb:
        app = sb.create_bot("Sharded")
        guilds = [sb.create_guild(f"g{i}") for i in range(6)]
        client = FastShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.1)
        async with run_client(sb, client, app.token):
            assert client.shard_count == 2
            assert {g.id for g in client.guilds} == {g.id for g in guilds}
            for g in client.guilds:
                assert g.shard_id == (g.id >> 22) % 2
            shards = sorted(s.shard_id for s in sb.gateway.sessions.values())
            assert shards == [0, 1]
            per_session = {
                s.shard_id: [g.id for g in guilds if s.handles_guild(g.id)]
                for s in sb.gateway.sessions.values()
            }
            assert sum(len(v) for v in per_session.values()) == 6


async def test_two_bots_both_receive(world: World, client: RecordingClient) -> None:
    sb = world.sb
    other = sb.create_bot("Other")
    second = RecordingClient()
    # a second client in the same process shares the (already redirected) class attributes
    await second.login(other.token)
    task = asyncio.create_task(second.connect())
    try:
        await second.wait_until_ready()
        assert second.get_guild(world.guild.id) is not None
        await world.alice.say(world.general, "hello both")
        await sb.wait_for(lambda: client.seen("message") and second.seen("message"))
    finally:
        await second.close()
        task.cancel()


async def test_stream_messages(world: World, client: RecordingClient) -> None:
    sb = world.sb
    sent = await sb.stream_messages(world.general, [world.alice, world.bob], 2000)
    assert sent == 2000
    await sb.wait_for(lambda: len(client.seen("message")) == 2000, timeout=20)
    authors = {args[0].author.id for args in client.seen("message")}
    assert authors == {world.alice.id, world.bob.id}


async def test_global_rate_limit(world: World, client: RecordingClient) -> None:
    sb = world.sb
    sb.faults.rate_limit("GET", "/users/", times=1, retry_after=0.1, global_=True)
    user = await client.fetch_user(world.bob.id)
    assert user.name == "bob"
    assert [r.status for r in sb.requests if r.route == "/users/{user_id}"] == [429, 200]
