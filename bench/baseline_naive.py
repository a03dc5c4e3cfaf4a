"""Baseline extension: what many leveling bots do — one ORM object and one commit per event."""

from __future__ import annotations

import discord
from discord.ext import commands

from models import ActivityEvent, ActivityKind


class NaiveRecorder(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.seen = 0

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None or message.author.bot:
            return
        async with self.bot.db.writing() as session:  # type: ignore[attr-defined]
            session.add(
                ActivityEvent(
                    guild_id=message.guild.id,
                    user_id=message.author.id,
                    kind=int(ActivityKind.MESSAGE),
                    channel_id=message.channel.id,
                    occurred_at=message.created_at,
                    amount=1,
                )
            )
        self.seen += 1


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(NaiveRecorder(bot))
