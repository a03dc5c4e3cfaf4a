"""Listens to the gateway and turns participation into activity records.

Metadata only: who did what kind of thing, in which channel, when. Never message content
(Hearth does not even ask for the message-content intent). Bots are never recorded; members
who opted out are dropped by the recorder. Times come from snowflakes where Discord gives one
(messages, threads, joins); reactions and voice changes carry none, so their time is arrival.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

import discord
from discord.ext import commands

from cogs._bot import Hearth
from models import ActivityKind, MembershipKind
from services.activity import (
    ActivityRecord,
    MembershipRecord,
    prune_raw_events,
    sync_members,
)
from services.scheduling import Action, LatePolicy, schedule_action
from services.voice import VoiceTracker

log = logging.getLogger(__name__)

PRUNE_KIND = "activity.prune"
PRUNE_AT = time(4, 0)  # UTC: a quiet hour for most communities


def _deafened(state: discord.VoiceState) -> bool:
    return bool(state.self_deaf or state.deaf)


class ActivityCog(commands.Cog):
    def __init__(self, bot: Hearth) -> None:
        self.bot = bot
        self.voice = VoiceTracker()

    async def cog_load(self) -> None:
        self.bot.actions.register(PRUNE_KIND, self._prune, late_policy=LatePolicy.COALESCE)
        self.bot.shutdown_hooks.append(self._end_voice_sessions)
        await self._schedule_prune(self.bot.clock())

    async def cog_unload(self) -> None:
        self.bot.actions.unregister(PRUNE_KIND)
        if self._end_voice_sessions in self.bot.shutdown_hooks:
            self.bot.shutdown_hooks.remove(self._end_voice_sessions)

    # -- housekeeping ------------------------------------------------------------------------

    async def _schedule_prune(self, now: datetime) -> None:
        due = datetime.combine(now.date(), PRUNE_AT, tzinfo=now.tzinfo)
        if due <= now:
            due += timedelta(days=1)
        async with self.bot.db.writing() as session:
            await schedule_action(
                session,
                kind=PRUNE_KIND,
                key=f"{PRUNE_KIND}:{due.date().isoformat()}",
                due_at=due,
                now=now,
            )

    async def _prune(self, action: Action) -> None:
        now = self.bot.clock()
        async with self.bot.db.writing() as session:
            removed = await prune_raw_events(
                session, now=now, keep_days=self.bot.settings.activity_retention_days
            )
        log.info(
            "pruned %d raw activity events older than %d days",
            removed,
            self.bot.settings.activity_retention_days,
        )
        await self._schedule_prune(now)

    async def _end_voice_sessions(self) -> None:
        await self.bot.recorder.put_many(self.voice.close_all(self.bot.clock()))

    # -- start-up: catch up with what happened while Hearth was away ------------------------------

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        now = self.bot.clock()
        await self.bot.remember_guild(guild)
        async with self.bot.db.writing() as session:
            created = await sync_members(
                session,
                guild_id=guild.id,
                members=[(m.id, m.joined_at, m.bot) for m in guild.members],
                now=now,
            )
        if created:
            log.info("guild %s: %d members joined while Hearth was away", guild.id, created)
        self.voice.forget_guild(guild.id)
        for channel in [*guild.voice_channels, *guild.stage_channels]:
            for member_id, state in channel.voice_states.items():
                member = guild.get_member(member_id)
                self.voice.update(
                    guild_id=guild.id,
                    user_id=member_id,
                    channel_id=channel.id,
                    deafened=_deafened(state),
                    is_bot=bool(member and member.bot),
                    at=now,
                )

    # -- participation -----------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None or message.author.bot or message.webhook_id is not None:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        record = ActivityRecord(
            message.guild.id,
            message.author.id,
            ActivityKind.MESSAGE,
            message.created_at,
            channel_id=message.channel.id,
        )
        # The hottest path in Hearth: queue without a coroutine unless the buffer is full.
        if not self.bot.recorder.offer(record):
            await self.bot.recorder.put(record)

    @commands.Cog.listener()
    async def on_thread_create(self, thread: discord.Thread) -> None:
        owner = thread.owner
        if thread.owner_id is None or (owner is not None and owner.bot):
            return
        await self.bot.recorder.put(
            ActivityRecord(
                thread.guild.id,
                thread.owner_id,
                ActivityKind.THREAD_STARTED,
                discord.utils.snowflake_time(thread.id),
                channel_id=thread.parent_id,
            )
        )

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.guild_id is None or (payload.member is not None and payload.member.bot):
            return
        now = self.bot.clock()
        await self.bot.recorder.put(
            ActivityRecord(
                payload.guild_id,
                payload.user_id,
                ActivityKind.REACTION_GIVEN,
                now,
                channel_id=payload.channel_id,
            )
        )
        author = payload.message_author_id
        if author is None or author == payload.user_id:
            return  # reacting to yourself is not being appreciated
        guild = self.bot.get_guild(payload.guild_id)
        author_member = guild.get_member(author) if guild else None
        if author_member is not None and author_member.bot:
            return
        await self.bot.recorder.put(
            ActivityRecord(
                payload.guild_id,
                author,
                ActivityKind.REACTION_RECEIVED,
                now,
                channel_id=payload.channel_id,
            )
        )

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        records = self.voice.update(
            guild_id=member.guild.id,
            user_id=member.id,
            channel_id=after.channel.id if after.channel else None,
            deafened=_deafened(after),
            is_bot=member.bot,
            at=self.bot.clock(),
        )
        await self.bot.recorder.put_many(records)

    # -- membership --------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        await self.bot.recorder.put(
            MembershipRecord(
                member.guild.id,
                member.id,
                MembershipKind.JOINED,
                member.joined_at or self.bot.clock(),
                is_bot=member.bot,
            )
        )

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        await self.bot.recorder.put(
            MembershipRecord(
                payload.guild_id,
                payload.user.id,
                MembershipKind.LEFT,
                self.bot.clock(),
                is_bot=payload.user.bot,
            )
        )
        records = self.voice.update(
            guild_id=payload.guild_id,
            user_id=payload.user.id,
            channel_id=None,
            deafened=False,
            is_bot=payload.user.bot,
            at=self.bot.clock(),
        )
        await self.bot.recorder.put_many(records)


async def setup(bot: Hearth) -> None:
    await bot.add_cog(ActivityCog(bot))
