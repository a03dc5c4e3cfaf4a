"""Fixtures for the sandbox's own tests: a fresh sandbox, a small guild, a plain discord.py bot."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from sandbox import RecordingClient, Sandbox, run_client
from sandbox.guild import Guild
from sandbox.members import ScriptedMember
from sandbox.state import BotApp, ChannelRecord, RoleRecord


@dataclass
class World:
    sb: Sandbox
    app: BotApp
    guild: Guild
    general: ChannelRecord
    voice: ChannelRecord
    mod: RoleRecord
    alice: ScriptedMember
    bob: ScriptedMember


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with Sandbox(interaction_timeout=3.0) as sb:
        app = sb.create_bot("Tester")
        guild = sb.create_guild("Cozy Corner", owner_name="creator")
        general = guild.create_channel("general")
        voice = guild.create_channel("Hangout", type="voice")
        mod = guild.create_role("Moderator", permissions=0)
        alice = guild.add_member("alice", roles=[mod])
        bob = guild.add_member("bob", pending=True)
        yield World(sb, app, guild, general, voice, mod, alice, bob)


@pytest.fixture
async def client(world: World) -> AsyncIterator[RecordingClient]:
    bot = RecordingClient()
    async with run_client(world.sb, bot, world.app.token):
        yield bot


@pytest.fixture(autouse=True)
def no_discord_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """discord.py logs (rather than raises) when it cannot parse a payload or a handler fails;
    a sandbox payload discord.py chokes on must fail the test."""
    caplog.set_level(logging.WARNING, logger="discord")
    yield
    bad = [
        r
        for r in caplog.records
        if r.name.startswith("discord")
        and r.levelno >= logging.ERROR
        and "sandbox-expected" not in r.getMessage()
    ]
    assert not bad, "discord.py logged errors:\n" + "\n".join(
        f"{r.name}: {r.getMessage()}\n{r.exc_text or ''}" for r in bad
    )
