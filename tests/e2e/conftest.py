"""End-to-end fixtures: the sandbox, a small community, and the real Hearth connected to it.

A test reads like a story:

    async def test_about(world):
        reply = await world.alice.slash("hearth about")
        assert reply.ephemeral and reply.embeds[0]["title"] == "Hearth"
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import pytest

from cogs._bot import Hearth
from models import Database, create_engine
from sandbox import ChannelRecord, Guild, RoleRecord, Sandbox, ScriptedMember
from sandbox.hearth_runner import MovableClock, running_hearth, sandbox_settings
from sandbox.state import BotApp
from tests.dbutil import truncate_all

pytestmark = pytest.mark.e2e


@dataclass
class World:
    sb: Sandbox
    app: BotApp
    guild: Guild
    general: ChannelRecord
    lounge: ChannelRecord
    moderator_role: RoleRecord
    owner: ScriptedMember
    mod: ScriptedMember
    alice: ScriptedMember
    bob: ScriptedMember
    carol: ScriptedMember
    bot: Hearth
    database_url: str
    clock: MovableClock

    _runner: Any = None

    @property
    def db(self) -> Database:
        return self.bot.db

    async def settle(self) -> None:
        """Wait until Hearth has handled everything dispatched so far and written activity.

        The gateway is ordered: once Hearth has answered a slash command sent after the
        events, their handlers have run. Then the recorder's buffer is flushed.
        """
        await self.owner.slash("hearth about")
        for _ in range(3):
            await asyncio.sleep(0)
        while self.bot.recorder.buffered:
            await self.bot.recorder.flush()

    async def other_server(self) -> Guild:
        """A second server Hearth is in, with its commands synced there too."""
        other = self.sb.create_guild("Elsewhere", owner_name="stranger")
        other.create_channel("general")
        await self.sb.wait_for(lambda: self.bot.get_guild(other.id), 10)
        elsewhere = discord.Object(other.id)
        self.bot.tree.copy_global_to(guild=elsewhere)
        await self.bot.tree.sync(guild=elsewhere)
        return other

    async def restart(self) -> None:
        """Stop Hearth and start it again on the same database (a deploy, a crash)."""
        await self._runner.__aexit__(None, None, None)
        self._runner = running_hearth(self.sb, self.bot.settings, clock=self.clock)
        self.bot = await self._runner.__aenter__()


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox() as sb:
        yield sb


@pytest.fixture
async def clean_database_url(backend: str, database_url: str) -> str:
    if backend == "postgresql":
        database = Database.from_engine(create_engine(database_url))
        try:
            await truncate_all(database)
        finally:
            await database.dispose()
    return database_url


@pytest.fixture
async def world(sandbox: Sandbox, clean_database_url: str) -> AsyncIterator[World]:
    sb = sandbox
    app = sb.create_bot("Hearth")
    guild = sb.create_guild("Cozy Corner", owner_name="creator")
    general = guild.create_channel("general")
    lounge = guild.create_channel("Lounge", type="voice")
    moderator_role = guild.create_role(
        "Moderator", permissions=discord.Permissions(manage_guild=True).value
    )
    mod = guild.add_member("mod", roles=[moderator_role])
    alice = guild.add_member("alice")
    bob = guild.add_member("bob")
    carol = guild.add_member("carol")
    settings = sandbox_settings(sb, app, clean_database_url, dev_guild=guild)
    clock = MovableClock()
    runner = running_hearth(sb, settings, clock=clock)
    bot = await runner.__aenter__()
    world = World(
        sb,
        app,
        guild,
        general,
        lounge,
        moderator_role,
        guild.owner,
        mod,
        alice,
        bob,
        carol,
        bot,
        clean_database_url,
        clock,
    )
    world._runner = runner
    try:
        yield world
    finally:
        await world._runner.__aexit__(None, None, None)
    # A house rule every story must keep: Hearth never pings @everyone or @here.
    assert sb.everyone_pings == [], f"Hearth pinged everyone: {sb.everyone_pings}"
