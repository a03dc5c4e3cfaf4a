"""Baseline extension: the same bot with a no-op message listener instead of activity tracking."""

from __future__ import annotations

import discord
from discord.ext import commands


class NoopListener(commands.Cog):
    def __init__(self) -> None:
        self.seen = 0

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        self.seen += 1


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(NoopListener())
