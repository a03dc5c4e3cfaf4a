"""The unmodified discord.py client connects and sees the scripted world."""

from __future__ import annotations

from typing import Any

import discord
import discord.gateway
import discord.http
import pytest

from sandbox import RecordingClient, Sandbox, redirect_discord, run_client

World = Any


async def test_on_ready_with_full_cache(world: World, client: RecordingClient) -> None:
    guild = client.get_guild(world.guild.id)
    assert guild is not None and guild.name == "Cozy Corner"
    assert {c.name for c in guild.channels} == {"general", "Hangout"}
    assert {r.name for r in guild.roles} >= {"@everyone", "Moderator", "Tester"}
    alice = guild.get_member(world.alice.id)
    assert alice is not None and [r.name for r in alice.roles] == ["@everyone", "Moderator"]
    assert guild.get_member(world.bob.id).pending is True  # type: ignore[union-attr]
    assert guild.owner_id == world.guild.owner.id
    assert guild.me.top_role.name == "Tester"
    assert client.user is not None and client.user.id == world.app.user_id
    assert client.application_id == world.app.application_id
    assert world.sb.connected


async def test_redirect_guard(world: World) -> None:
    """Fails loudly if discord.py stops honouring Route.BASE / DEFAULT_GATEWAY."""
    original_base = discord.http.Route.BASE
    original_gw = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    bot = RecordingClient()
    async with run_client(world.sb, bot, world.app.token):
        routes = {(r.method, r.route) for r in world.sb.requests}
        assert ("GET", "/users/@me") in routes
        assert ("GET", "/oauth2/applications/@me") in routes
        assert world.sb.gateway.identifies, "IDENTIFY never reached the sandbox gateway"
        assert world.sb.api_base == discord.http.Route.BASE
    assert original_base == discord.http.Route.BASE
    assert original_gw == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


async def test_redirect_returns_restore() -> None:
    restore = redirect_discord("http://127.0.0.1:1/api/v10", "ws://127.0.0.1:1/gateway")
    try:
        assert discord.http.Route.BASE == "http://127.0.0.1:1/api/v10"
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:1/gateway"
    finally:
        restore()
    assert discord.http.Route.BASE == "https://discord.com/api/v10"


async def test_bad_token_closes_4004(world: World) -> None:
    with pytest.raises(discord.LoginFailure):
        async with run_client(world.sb, RecordingClient(), "not-a-token"):
            pass


async def test_privileged_intent_not_enabled_closes_4014(world: World) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with run_client(world.sb, RecordingClient(intents=intents), world.app.token):
            pass


async def test_message_content_intent_when_enabled() -> None:
    async with Sandbox() as sb:
        app = sb.create_bot("Reader", privileged_intents={"members", "message_content"})
        guild = sb.create_guild("G")
        ch = guild.create_channel("general")
        alice = guild.add_member("alice")
        intents = discord.Intents.default()
        intents.message_content = True
        bot = RecordingClient(intents=intents)
        async with run_client(sb, bot, app.token):
            await alice.say(ch, "secret words")
            await sb.wait_for(lambda: bot.seen("message"))
            (msg,) = bot.seen("message")[0]
            assert msg.content == "secret words"  # type: ignore[attr-defined]
