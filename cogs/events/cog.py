"""/event create | list | edit | cancel | attendees | export | ics | timezone | settings, the
RSVP and Check in buttons, voice attendance, reminders, and the attendance window.

Glue only: parse, one transaction through services.events, then Discord. The event message
is edited at most once every 2 seconds per event while RSVPs arrive (DebouncedRefresher).
"""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import datetime, timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs._bot import Hearth, moderator_only
from cogs._checks import guild_member, require_bot_can_post
from cogs._refresh import DebouncedRefresher
from cogs.events import render
from cogs.events.views import DYNAMIC_ITEMS
from cogs.hearth import zone_choices
from models import ActivityKind, RsvpStatus
from services import events, guilds, members
from services.activity import ActivityRecord
from services.calendar import event_ics
from services.errors import InvalidInputError, NotFoundError
from services.scheduling import Action, LatePolicy
from services.when import parse_minutes, parse_start

log = logging.getLogger(__name__)

EDIT_INTERVAL = 2.0
CANNOT_DM = 50007
REPEATS = [
    app_commands.Choice(name="does not repeat", value="none"),
    app_commands.Choice(name="every week", value="weekly"),
    app_commands.Choice(name="every 2 weeks", value="biweekly"),
    app_commands.Choice(name="every month", value="monthly"),
]
POSTING_PERMISSIONS = ("view_channel", "send_messages", "embed_links")


class EventsCog(commands.Cog):
    event = app_commands.Group(
        name="event",
        description="Events with RSVPs, reminders and real attendance",
        guild_only=True,
    )

    def __init__(self, bot: Hearth) -> None:
        self.bot = bot
        self.refresher = DebouncedRefresher(self._live_event, self.edit_message, EDIT_INTERVAL)
        # Voice channels of events whose attendance window is open (kept from the database).
        self.window_channels: set[int] = set()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        await self._refresh_windows()
        actions = self.bot.actions
        # A reminder after the start is pointless; the handler also checks, and logs.
        actions.register(events.REMIND_ACTION, self._remind, late_policy=LatePolicy.RUN)
        actions.register(events.OPEN_ACTION, self._window_opens, late_policy=LatePolicy.RUN)
        actions.register(events.CLOSE_ACTION, self._window_closes, late_policy=LatePolicy.RUN)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)
        for kind in (events.REMIND_ACTION, events.OPEN_ACTION, events.CLOSE_ACTION):
            self.bot.actions.unregister(kind)
        await self.refresher.close()

    @property
    def now(self) -> datetime:
        return self.bot.clock()

    # -- the message ------------------------------------------------------------------------

    async def read_event(self, guild_id: int, event_id: int) -> events.EventSnapshot:
        async with self.bot.db.reading() as session:
            return await events.get_event(session, guild_id=guild_id, event_id=event_id)

    async def _live_event(self, guild_id: int, event_id: int) -> events.EventSnapshot | None:
        try:
            event = await self.read_event(guild_id, event_id)
        except NotFoundError:
            return None
        return event if event.message_id is not None else None

    async def edit_message(self, event: events.EventSnapshot) -> None:
        channel = self.bot.get_channel(event.post_channel_id)
        if not isinstance(channel, discord.abc.Messageable) or event.message_id is None:
            return
        now = self.now
        view = render.event_view(event, now=now)
        try:
            await channel.get_partial_message(event.message_id).edit(  # type: ignore[attr-defined]
                embed=render.event_embed(event, now=now), view=view
            )
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info("event %s: its message could not be edited: %s", event.id, exc)

    async def _refresh_windows(self) -> None:
        async with self.bot.db.reading() as session:
            self.window_channels = await events.channels_with_open_window(session, now=self.now)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        # Voice changes while Hearth was away were not seen: square the open sessions with who
        # is in each event's channel now. (The guild arrives before any later voice change, and
        # writers queue in order, so this runs first.)
        await self._refresh_windows()
        for channel_id in self.window_channels:
            channel = guild.get_channel(channel_id)
            if not isinstance(channel, discord.VoiceChannel | discord.StageChannel):
                continue
            async with self.bot.db.writing() as session:
                await events.reconcile_presence(
                    session,
                    guild_id=guild.id,
                    channel_id=channel_id,
                    present=[m.id for m in channel.members if not m.bot],
                    now=self.now,
                )

    # -- voice attendance ----------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        left = before.channel.id if before.channel else None
        joined = after.channel.id if after.channel else None
        if member.bot or left == joined:
            return
        if left not in self.window_channels and joined not in self.window_channels:
            return  # the common case: no event is on in either channel
        await self._voice(member.guild.id, member.id, left, joined)

    async def _voice(
        self, guild_id: int, user_id: int, left: int | None, joined: int | None
    ) -> None:
        async with self.bot.db.writing() as session:
            newly = await events.voice_moved(
                session,
                guild_id=guild_id,
                user_id=user_id,
                left_channel_id=left if left in self.window_channels else None,
                joined_channel_id=joined if joined in self.window_channels else None,
                now=self.now,
            )
        await self._attended(guild_id, newly)

    async def _attended(self, guild_id: int, newly: list[events.Attended]) -> None:
        for a in newly:
            await self.bot.recorder.put(
                ActivityRecord(
                    guild_id, a.user_id, ActivityKind.EVENT_ATTENDED, a.at, channel_id=a.channel_id
                )
            )
        for event_id in {a.event_id for a in newly}:
            self.refresher.touch(guild_id, event_id)

    # -- scheduled actions --------------------------------------------------------------------

    async def _window_opens(self, action: Action) -> None:
        if action.guild_id is None or action.entity_id is None:
            return
        guild = self.bot.get_guild(action.guild_id)
        try:
            current = await self.read_event(action.guild_id, action.entity_id)
        except NotFoundError:
            return
        present: list[int] = []
        if guild is not None and current.channel_id is not None:
            channel = guild.get_channel(current.channel_id)
            if isinstance(channel, discord.VoiceChannel | discord.StageChannel):
                present = [m.id for m in channel.members if not m.bot]
        async with self.bot.db.writing() as session:
            opened = await events.open_window(
                session,
                guild_id=action.guild_id,
                event_id=action.entity_id,
                present=present,
                now=self.now,
            )
        if opened is None:
            return
        if opened.channel_id is not None:
            self.window_channels.add(opened.channel_id)
        async with self.refresher.lock(opened.id):
            await self.edit_message(opened)  # the Check in button appears

    async def _window_closes(self, action: Action) -> None:
        if action.guild_id is None or action.entity_id is None:
            return
        try:
            async with self.bot.db.writing() as session:
                closed = await events.close_window(
                    session, guild_id=action.guild_id, event_id=action.entity_id, now=self.now
                )
        except NotFoundError:
            return
        if closed is None:
            return
        await self._refresh_windows()
        await self._attended(action.guild_id, closed.attended)
        async with self.refresher.lock(closed.event.id):
            await self.edit_message(closed.event)
        self.refresher.forget(closed.event.id)
        if closed.next_spec is not None:
            await self._post_next(closed.event, closed.next_spec)

    async def _post_next(self, previous: events.EventSnapshot, spec: events.EventSpec) -> None:
        """The next occurrence of a recurring event: its own message, RSVPs and attendance."""
        guild = self.bot.get_guild(previous.guild_id)
        channel = self.bot.get_channel(previous.post_channel_id)
        if guild is None or not isinstance(channel, discord.TextChannel | discord.Thread):
            log.warning("event %s: cannot post its next occurrence", previous.id)
            return
        now = self.now
        async with self.bot.db.writing() as session:
            created = await events.create_event(
                session,
                guild_id=previous.guild_id,
                post_channel_id=channel.id,
                host_id=previous.host_id,
                spec=spec,
                now=now,
                series_id=previous.series_id,
            )
        await self._publish_new(created, channel, guild)

    async def _publish_new(
        self,
        created: events.EventSnapshot,
        channel: discord.TextChannel | discord.Thread,
        guild: discord.Guild,
    ) -> tuple[discord.Message, str | None]:
        """Post the event's message and mirror it in Discord's Events tab (best effort)."""
        now = self.now
        scheduled, skipped = await self._create_discord_event(guild, created)
        try:
            message = await channel.send(
                embed=render.event_embed(created, now=now),
                view=render.event_view(created, now=now),
            )
        except discord.HTTPException:
            async with self.bot.db.writing() as session:
                await events.discard_event(session, event_id=created.id, now=now)
            if scheduled is not None:
                await _quietly(scheduled.delete())
            raise
        async with self.bot.db.writing() as session:
            await events.attach_message(
                session,
                event_id=created.id,
                message_id=message.id,
                discord_event_id=scheduled.id if scheduled else None,
            )
        return message, skipped

    async def _create_discord_event(
        self, guild: discord.Guild, event: events.EventSnapshot
    ) -> tuple[discord.ScheduledEvent | None, str | None]:
        """Discord's own event (voice, stage or external); returns it, or why it was skipped."""
        options: dict[str, Any] = {
            "name": event.title,
            "start_time": event.starts_at,
            "end_time": event.ends_at,
            "description": (event.description or "")[:1000],
            "privacy_level": discord.PrivacyLevel.guild_only,
        }
        channel = guild.get_channel(event.channel_id) if event.channel_id else None
        if isinstance(channel, discord.StageChannel):
            options.update(entity_type=discord.EntityType.stage_instance, channel=channel)
        elif isinstance(channel, discord.VoiceChannel):
            options.update(entity_type=discord.EntityType.voice, channel=channel)
        else:
            options.update(
                entity_type=discord.EntityType.external, location=event.location or "TBA"
            )
        try:
            return await guild.create_scheduled_event(**options), None
        except discord.Forbidden:
            return None, (
                "I couldn't add it to Discord's Events tab: I need the **Manage Events** "
                "permission for that. Everything else (RSVPs, reminders, attendance) works."
            )
        except discord.HTTPException as exc:
            log.warning("event %s: Discord refused the scheduled event: %s", event.id, exc)
            return None, "Discord refused to add it to the Events tab; everything else works."

    async def _remind(self, action: Action) -> None:
        if action.guild_id is None or action.entity_id is None:
            return
        minutes = int(action.payload.get("minutes_before", 60))
        now = self.now
        try:
            async with self.bot.db.writing() as session:
                claimed = await events.claim_reminders(
                    session,
                    guild_id=action.guild_id,
                    event_id=action.entity_id,
                    minutes_before=minutes,
                    now=now,
                )
        except NotFoundError:
            return
        if claimed is None:
            log.info(
                "event %s: %d-minute reminder skipped (cancelled or already started)",
                action.entity_id,
                minutes,
            )
            return
        event, user_ids = claimed
        guild = self.bot.get_guild(action.guild_id)
        link = (
            f"https://discord.com/channels/{event.guild_id}/{event.post_channel_id}/"
            f"{event.message_id}"
            if event.message_id
            else None
        )
        embed = render.reminder_embed(event, guild.name if guild else "your server", link)
        for user_id in user_ids:
            await self._dm(action.guild_id, user_id, embed=embed)
            await asyncio.sleep(0.2)  # paced: opening many DMs quickly earns 40003

    async def _dm(self, guild_id: int, user_id: int, **content: Any) -> bool:
        """Send a DM; a closed inbox (50007) is remembered so Hearth stops trying."""
        try:
            user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
            await user.send(**content, allowed_mentions=discord.AllowedMentions.none())
            return True
        except discord.Forbidden as exc:
            if exc.code == CANNOT_DM:
                async with self.bot.db.writing() as session:
                    await members.mark_dms_closed(
                        session, guild_id=guild_id, user_id=user_id, now=self.now
                    )
            return False
        except discord.HTTPException as exc:
            log.warning("DM to a member of guild %s failed: %s", guild_id, exc)
            return False

    # -- buttons --------------------------------------------------------------------------------

    async def answer_rsvp(
        self, interaction: discord.Interaction, event_id: int, choice: RsvpStatus
    ) -> None:
        guild_id, member = guild_member(interaction)
        now = self.now
        async with self.bot.db.writing() as session:
            receipt = await events.rsvp(
                session,
                guild_id=guild_id,
                event_id=event_id,
                user_id=member.id,
                role_ids=[r.id for r in member.roles],
                choice=choice,
                now=now,
            )
            notices = await events.take_promotion_notices(
                session, guild_id=guild_id, user_id=member.id
            )
            dms = await members.dm_status(session, guild_id=guild_id, user_id=member.id)
        result = receipt.result
        lines = [render.promotion_text(*n) for n in notices if n[0] != event_id]
        lines.append(render.receipt_text(receipt, now=now))
        view = None
        if dms.consent is None and result.status in (RsvpStatus.GOING, RsvpStatus.WAITLIST):
            lines.append(
                "Would you like a reminder by DM before the events you're going to? "
                "You can change your mind any time."
            )
            view = render.dm_question_view()
        await interaction.response.send_message(
            "\n\n".join(lines), ephemeral=True, **({"view": view} if view else {})
        )
        if result.changed:
            self.refresher.touch(guild_id, event_id)
        if result.previous is None:
            await self.bot.recorder.put(
                ActivityRecord(
                    guild_id,
                    member.id,
                    ActivityKind.RSVP,
                    interaction.created_at,
                    channel_id=result.event.post_channel_id,
                )
            )
        await self._tell_promoted(guild_id, result.event, result.promoted)

    async def _tell_promoted(
        self, guild_id: int, event: events.EventSnapshot, promoted: tuple[int, ...]
    ) -> None:
        told = []
        for user_id in promoted:
            async with self.bot.db.reading() as session:
                dms = await members.dm_status(session, guild_id=guild_id, user_id=user_id)
            if dms.may_dm and await self._dm(
                guild_id,
                user_id,
                content=render.promotion_text(event.id, event.title, event.starts_at),
            ):
                told.append(user_id)
        if told:
            async with self.bot.db.writing() as session:
                await events.mark_promotion_seen(session, event_id=event.id, user_ids=told)

    async def answer_dm_consent(self, interaction: discord.Interaction, consent: bool) -> None:
        guild_id, member = guild_member(interaction)
        async with self.bot.db.writing() as session:
            await members.set_dm_consent(
                session, guild_id=guild_id, user_id=member.id, consent=consent, now=self.now
            )
        text = (
            "Done: I'll DM you a reminder before events you're going to."
            if consent
            else "Done: no DMs. The event messages keep you up to date."
        )
        await interaction.response.send_message(text, ephemeral=True)

    async def check_in(self, interaction: discord.Interaction, event_id: int) -> None:
        guild_id, member = guild_member(interaction)
        async with self.bot.db.writing() as session:
            event, newly = await events.check_in(
                session,
                guild_id=guild_id,
                event_id=event_id,
                user_id=member.id,
                role_ids=[r.id for r in member.roles],
                now=self.now,
            )
        await self._attended(guild_id, newly)
        text = (
            f"✅ Checked in to **{discord.utils.escape_markdown(event.title)}**. Enjoy!"
            if newly
            else "You're already checked in."
        )
        await interaction.response.send_message(text, ephemeral=True)

    # -- commands ---------------------------------------------------------------------------------

    async def _zone(self, guild_id: int, name: str | None) -> Any:
        if name:
            return guilds.parse_timezone(name)
        async with self.bot.db.reading() as session:
            settings = await events.get_event_settings(session, guild_id)
        return guilds.parse_timezone(settings.timezone)

    @event.command(name="create", description="Plan an event with RSVPs and reminders")
    @app_commands.describe(
        title="What it is (up to 100 characters)",
        start="When: 2026-12-03 19:00, tomorrow 19:00, fri 18:30, in 3 days 20:00",
        duration="How long: 90, 90m, 1h30m (default 60 minutes, at most 24 h)",
        timezone="Time zone of the start time (default: the server's)",
        capacity="Seats (1-10,000); more RSVPs join a waitlist. Default: no limit",
        channel="The voice or stage channel where it happens",
        location="Or where else: a place or a link",
        description="Details (up to 1,000 characters)",
        tier="Only members with this role may RSVP",
        repeat="Repeat it",
    )
    @app_commands.choices(repeat=REPEATS)
    async def create(
        self,
        interaction: discord.Interaction,
        title: str,
        start: str,
        duration: str | None = None,
        timezone: str | None = None,
        capacity: int | None = None,
        channel: discord.abc.GuildChannel | None = None,
        location: str | None = None,
        description: str | None = None,
        tier: discord.Role | None = None,
        repeat: app_commands.Choice[str] | None = None,
    ) -> None:
        guild_id, member = guild_member(interaction)
        assert interaction.guild is not None
        now = self.now
        zone = await self._zone(guild_id, timezone)
        if channel is not None and not isinstance(
            channel, discord.VoiceChannel | discord.StageChannel
        ):
            raise InvalidInputError(
                f"{channel.mention} is not a voice or stage channel. For an event somewhere "
                "else, leave `channel` empty and write a `location`."
            )
        spec = events.build_spec(
            title=title,
            starts_at=parse_start(start, tz=zone, now=now),
            duration=timedelta(
                minutes=parse_minutes(duration, default=60, low=1, high=24 * 60, what="duration")
            ),
            timezone=zone,
            now=now,
            capacity=capacity,
            channel_id=channel.id if channel else None,
            location=location,
            description=description,
            member_role_id=None if tier is None or tier.is_default() else tier.id,
            repeat=repeat.value if repeat else None,
        )
        target = interaction.channel
        if not isinstance(target, discord.TextChannel | discord.Thread):
            raise InvalidInputError(
                "Create events from a server text channel: the post goes there."
            )
        require_bot_can_post(target, interaction.guild.me, POSTING_PERMISSIONS, "events")
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.bot.db.writing() as session:
            created = await events.create_event(
                session,
                guild_id=guild_id,
                post_channel_id=target.id,
                host_id=member.id,
                spec=spec,
                now=now,
            )
        message, skipped = await self._publish_new(created, target, interaction.guild)
        local = created.starts_at.astimezone(zone)
        text = (
            f"Event #{created.id} is up: {message.jump_url}\n"
            f"Starts {render.ts(created.starts_at, 'F')} ({render.ts(created.starts_at, 'R')}) "
            f"— {local:%a %d %b %H:%M} in {zone.key}. Everyone sees it in their own time."
        )
        if skipped:
            text += f"\n{skipped}"
        await interaction.followup.send(text, ephemeral=True)

    @create.autocomplete("timezone")
    async def _zone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return zone_choices(current)

    @event.command(name="list", description="Upcoming events")
    async def list_(self, interaction: discord.Interaction) -> None:
        guild_id = guild_member(interaction)[0]
        async with self.bot.db.reading() as session:
            upcoming = await events.list_upcoming(session, guild_id=guild_id, now=self.now)
        if not upcoming:
            await interaction.response.send_message(
                "No events coming up. Plan one with `/event create`.", ephemeral=True
            )
            return
        lines = []
        for e in upcoming:
            link = f"https://discord.com/channels/{e.guild_id}/{e.post_channel_id}/{e.message_id}"
            lines.append(
                f"**#{e.id}** [{discord.utils.escape_markdown(e.title)}]({link})\n"
                f"{render.ts(e.starts_at, 'F')} ({render.ts(e.starts_at, 'R')}) · "
                f"{render.counts_line(e)}"
            )
        embed = discord.Embed(
            title=f"Upcoming events ({len(upcoming)})",
            description="\n\n".join(lines)[:4096],
            colour=render.COLOUR,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @event.command(name="edit", description="Change an event (its host or a moderator)")
    @app_commands.describe(
        event="The event (type to search)",
        title="New title",
        start="New start time",
        duration="New duration, like 90m or 2h",
        timezone="Time zone of the new start time",
        capacity="New number of seats (added seats go to the waitlist first)",
        channel="New voice or stage channel",
        location="New location (instead of a channel)",
        description="New details",
    )
    async def edit(
        self,
        interaction: discord.Interaction,
        event: str,
        title: str | None = None,
        start: str | None = None,
        duration: str | None = None,
        timezone: str | None = None,
        capacity: int | None = None,
        channel: discord.abc.GuildChannel | None = None,
        location: str | None = None,
        description: str | None = None,
    ) -> None:
        guild_id, member = guild_member(interaction)
        event_id = events.parse_event_reference(event)
        current = await self.read_event(guild_id, event_id)
        now = self.now
        zone = guilds.parse_timezone(timezone or current.timezone)
        if channel is not None and not isinstance(
            channel, discord.VoiceChannel | discord.StageChannel
        ):
            raise InvalidInputError(f"{channel.mention} is not a voice or stage channel.")
        changes = events.EventChanges(
            title=title,
            starts_at=parse_start(start, tz=zone, now=now) if start else None,
            duration=timedelta(
                minutes=parse_minutes(duration, default=60, low=1, high=24 * 60, what="duration")
            )
            if duration
            else None,
            timezone=zone.key if timezone else None,
            capacity=capacity,
            channel_id=channel.id if channel else None,
            location=location,
            description=description,
        )
        is_mod = await self.bot.is_moderator(member)
        async with self.bot.db.writing() as session:
            updated, promoted = await events.edit_event(
                session,
                guild_id=guild_id,
                event_id=event_id,
                user_id=member.id,
                is_moderator=is_mod,
                changes=changes,
                now=now,
            )
        await interaction.response.send_message(
            f"Event #{event_id} is updated. It starts {render.ts(updated.starts_at, 'F')}.",
            ephemeral=True,
        )
        self.refresher.touch(guild_id, event_id)
        await self._refresh_windows()  # the time or the channel may have changed
        await self._sync_discord_event(interaction.guild, updated)
        await self._tell_promoted(guild_id, updated, promoted)

    async def _sync_discord_event(
        self, guild: discord.Guild | None, event: events.EventSnapshot, *, cancel: bool = False
    ) -> None:
        if guild is None or event.discord_event_id is None:
            return
        scheduled = guild.get_scheduled_event(event.discord_event_id)
        if scheduled is None:
            return
        if cancel:
            await _quietly(scheduled.delete())
            return
        options: dict[str, Any] = {
            "name": event.title,
            "start_time": event.starts_at,
            "end_time": event.ends_at,
            "description": (event.description or "")[:1000],
        }
        if event.channel_id is None:
            options.update(
                entity_type=discord.EntityType.external, location=event.location or "TBA"
            )
        await _quietly(scheduled.edit(**options))

    @event.command(name="cancel", description="Cancel an event (its host or a moderator)")
    @app_commands.describe(event="The event (type to search)", reason="Why (shown on the event)")
    async def cancel(
        self, interaction: discord.Interaction, event: str, reason: str | None = None
    ) -> None:
        guild_id, member = guild_member(interaction)
        event_id = events.parse_event_reference(event)
        is_mod = await self.bot.is_moderator(member)
        async with self.bot.db.writing() as session:
            cancelled = await events.cancel_event(
                session,
                guild_id=guild_id,
                event_id=event_id,
                user_id=member.id,
                is_moderator=is_mod,
                reason=reason,
                now=self.now,
            )
        await interaction.response.send_message(
            f"Event #{event_id} is cancelled; its message says so.", ephemeral=True
        )
        async with self.refresher.lock(event_id):
            await self.edit_message(cancelled)
        await self._refresh_windows()
        await self._sync_discord_event(interaction.guild, cancelled, cancel=True)

    @event.command(name="attendees", description="Who is going, maybe, waitlisted (and came)")
    @app_commands.describe(event="The event (type to search)")
    async def attendees(self, interaction: discord.Interaction, event: str) -> None:
        guild_id, member = guild_member(interaction)
        current = await self.read_event(guild_id, events.parse_event_reference(event))
        embed = discord.Embed(
            title=f"{current.title}: who's coming"[:256],
            description=render.counts_line(current),
            colour=render.COLOUR,
        )
        for name, ids in (
            ("Going", current.going),
            ("Maybe", current.maybe),
            ("Waitlist (in order)", current.waitlist),
        ):
            embed.add_field(name=name, value=render.names(ids, 40) or "nobody yet", inline=False)
        if await self.bot.is_moderator(member):
            embed.add_field(
                name=f"Attended ({len(current.attended)})",
                value=render.names(current.attended, 40) or "nobody yet",
                inline=False,
            )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @event.command(name="export", description="Moderators: an event's RSVPs and attendance (CSV)")
    @app_commands.describe(event="The event (type to search)")
    @app_commands.default_permissions(manage_guild=True)
    @moderator_only()
    async def export(self, interaction: discord.Interaction, event: str) -> None:
        guild_id = guild_member(interaction)[0]
        event_id = events.parse_event_reference(event)
        async with self.bot.db.reading() as session:
            current = await events.get_event(session, guild_id=guild_id, event_id=event_id)
            details = await events.attendance_details(session, guild_id=guild_id, event_id=event_id)
        guild = interaction.guild

        def name_of(user_id: int) -> str:
            m = guild.get_member(user_id) if guild else None
            return m.display_name if m else "(left the server)"

        data = render.export_csv(
            current,
            name_of,
            {u: s // 60 for u, (s, _) in details.items()},
            {u for u, (_, c) in details.items() if c},
        )
        await interaction.response.send_message(
            f"RSVPs and attendance of event #{event_id}.",
            file=discord.File(io.BytesIO(data), filename=f"event-{event_id}.csv"),
            ephemeral=True,
        )

    @event.command(name="ics", description="An .ics file to add the event to your calendar")
    @app_commands.describe(event="The event (type to search)")
    async def ics(self, interaction: discord.Interaction, event: str) -> None:
        guild_id = guild_member(interaction)[0]
        current = await self.read_event(guild_id, events.parse_event_reference(event))
        link = (
            f"https://discord.com/channels/{current.guild_id}/{current.post_channel_id}/"
            f"{current.message_id}"
        )
        where = current.location
        if current.channel_id is not None:
            ch = self.bot.get_channel(current.channel_id)
            where = f"Discord: #{ch.name}" if isinstance(ch, discord.abc.GuildChannel) else where
        data = event_ics(
            uid=f"hearth-event-{current.id}@{current.guild_id}",
            title=current.title,
            start=current.starts_at,
            end=current.ends_at,
            tz=guilds.parse_timezone(current.timezone),
            description=current.description,
            location=where,
            url=link,
            repeat="none",  # each occurrence is its own event with its own RSVPs
            cancelled=current.is_cancelled,
            now=self.now,
        )
        await interaction.response.send_message(
            "Open the file to add it to your calendar.",
            file=discord.File(io.BytesIO(data), filename=f"event-{current.id}.ics"),
            ephemeral=True,
        )

    @event.command(name="timezone", description="Moderators: the server's default time zone")
    @app_commands.describe(zone="An IANA time zone, like Europe/Berlin")
    @app_commands.default_permissions(manage_guild=True)
    @moderator_only()
    async def timezone_(self, interaction: discord.Interaction, zone: str) -> None:
        guild_id = guild_member(interaction)[0]
        name = await self.bot.set_server_timezone(guild_id, zone)
        await interaction.response.send_message(
            f"Event times without a time zone are now read in **{name}** (weeks in /stats "
            "and the digest use it too).",
            ephemeral=True,
        )

    @timezone_.autocomplete("zone")
    async def _default_zone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return zone_choices(current)

    @event.command(name="settings", description="Moderators: attendance and reminder settings")
    @app_commands.describe(
        attendance_minutes="Minutes in the event's channel that count as attending (default 10)",
        reminders="When reminders go out before the start, like: 24h, 1h",
    )
    @app_commands.default_permissions(manage_guild=True)
    @moderator_only()
    async def settings(
        self,
        interaction: discord.Interaction,
        attendance_minutes: int | None = None,
        reminders: str | None = None,
    ) -> None:
        guild_id = guild_member(interaction)[0]
        offsets = None
        if reminders is not None:
            offsets = [
                parse_minutes(part, default=60, low=5, high=7 * 24 * 60, what="reminder")
                for part in reminders.split(",")
                if part.strip()
            ]
        async with self.bot.db.writing() as session:
            saved = await events.set_event_settings(
                session,
                guild_id=guild_id,
                now=self.now,
                attendance_minutes=attendance_minutes,
                reminders=offsets,
            )
        when = ", ".join(f"{m // 60} h" if m % 60 == 0 else f"{m} min" for m in saved.reminders)
        await interaction.response.send_message(
            f"Attendance: **{saved.attendance_minutes} minutes** in the event's channel (or a "
            f"check-in). Reminders: **{when}** before the start, to members who asked for them. "
            "New events use these; events already planned keep theirs.",
            ephemeral=True,
        )

    @edit.autocomplete("event")
    @cancel.autocomplete("event")
    @attendees.autocomplete("event")
    @export.autocomplete("event")
    @ics.autocomplete("event")
    async def _event_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        async with self.bot.db.reading() as session:
            found = await events.search_events(
                session, guild_id=interaction.guild_id, text=current, now=self.now
            )
        choices = []
        for e in found:
            label = f"#{e.id} · {e.title} · {e.starts_at:%d %b %H:%M} UTC"
            if e.status != "scheduled":
                label += f" ({e.status})"
            choices.append(app_commands.Choice(name=label[:100], value=str(e.id)))
        return choices


async def _quietly(call: Any) -> None:
    """Keep Discord's Events tab in step, best effort: Hearth's own event is the truth."""
    try:
        await call
    except discord.HTTPException as exc:
        log.info("scheduled event sync skipped: %s", exc)
