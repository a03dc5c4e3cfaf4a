"""/digest setup | recipients | preview | send-now | status, and the weekly delivery.

Delivery is exactly once per recipient per week: a row keyed (server, recipient, ISO week in
the server's zone) is claimed before anything is sent (services.digest.claim_delivery), so a
restart, a DST change or a second bot process cannot send it twice. DMs are paced; a recipient
whose DMs are closed (50007) is served in the moderators' channel, if one is set, and marked.
"""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import date, datetime

import discord
from discord import app_commands
from discord.ext import commands

from cogs._bot import Hearth, moderator_only
from cogs.digest import render
from cogs.hearth import zone_choices
from services import digest, guilds
from services.errors import InvalidInputError
from services.scheduling import Action, LatePolicy

log = logging.getLogger(__name__)

CANNOT_DM = 50007
DM_PACE = 1.0  # seconds between digest DMs: opening many DMs quickly earns 40003
DAY_CHOICES = [app_commands.Choice(name=d.title(), value=i) for i, d in enumerate(digest.DAYS)]


class DigestCog(commands.Cog):
    group = app_commands.Group(
        name="digest",
        description="The creator's weekly report",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    recipients_group = app_commands.Group(
        name="recipients", description="Who receives the digest", parent=group
    )

    def __init__(self, bot: Hearth) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        # Late is better than never: a digest missed while Hearth was down goes out when it is
        # back (the delivery key still makes it once per week).
        self.bot.actions.register(digest.SEND_ACTION, self._send_due, late_policy=LatePolicy.RUN)

    async def cog_unload(self) -> None:
        self.bot.actions.unregister(digest.SEND_ACTION)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        async with self.bot.db.writing() as session:
            await digest.ensure_scheduled(session, guild_id=guild.id, now=self.bot.clock())

    # -- building and sending -----------------------------------------------------------------

    async def _build(
        self, guild: discord.Guild, *, weeks_ago: int
    ) -> tuple[digest.Digest, discord.Embed, bytes, bytes | None]:
        async with self.bot.db.reading() as session:
            built = await digest.build_digest(
                session, guild_id=guild.id, now=self.bot.clock(), weeks_ago=weeks_ago
            )
            schedule = await digest.get_schedule(session, guild.id)

        def name_of(user_id: int) -> str:
            member = guild.get_member(user_id)
            return member.display_name if member else "(left the server)"

        embed = render.digest_embed(built, guild.name, name_of)
        png = await asyncio.to_thread(render.chart, built, guild.name)
        figures = render.figures_csv(built) if schedule.csv else None
        return built, embed, png, figures

    def _files(self, built: digest.Digest, png: bytes, figures: bytes | None) -> list[discord.File]:
        files = [discord.File(io.BytesIO(png), filename=render.chart_filename(built))]
        if figures is not None:
            files.append(discord.File(io.BytesIO(figures), filename=render.csv_filename(built)))
        return files

    async def deliver(self, guild: discord.Guild, week: date) -> list[str]:
        """Send week ``week``'s digest (reporting on the week before it) to every recipient
        who has not had it; returns one line per recipient saying what happened."""
        now = self.bot.clock()
        async with self.bot.db.reading() as session:
            zone = (await digest.get_schedule(session, guild.id)).zone
        # The week before the delivery week, even when sent late (Hearth was down over Sunday).
        late_weeks = max(0, (digest.week_of(now, zone) - week).days // 7)
        built, embed, png, figures = await self._build(guild, weeks_ago=1 + late_weeks)
        async with self.bot.db.reading() as session:
            people = await digest.recipients(session, guild_id=guild.id, owner_id=guild.owner_id)
            settings = await guilds.get_guild_settings(session, guild.id)
        report: list[str] = []
        for i, person in enumerate(people):
            member = guild.get_member(person.user_id)
            if member is None:
                report.append(f"{person.user_id}: not a member any more, skipped")
                continue
            async with self.bot.db.writing() as session:
                claimed = await digest.claim_delivery(
                    session, guild_id=guild.id, user_id=member.id, week=week, now=now
                )
            if not claimed:
                report.append(f"{member.display_name}: already had this week's digest")
                continue
            if i:
                await asyncio.sleep(DM_PACE)
            status, detail = await self._send_one(
                guild,
                member,
                person.dm_closed,
                settings.moderator_channel_id,
                built,
                embed,
                png,
                figures,
            )
            async with self.bot.db.writing() as session:
                await digest.finish_delivery(
                    session,
                    guild_id=guild.id,
                    user_id=member.id,
                    week=week,
                    status=status,
                    detail=detail,
                    now=self.bot.clock(),
                )
            report.append(f"{member.display_name}: {detail or status}")
        return report

    async def _send_one(
        self,
        guild: discord.Guild,
        member: discord.Member,
        dm_closed: bool,
        channel_id: int | None,
        built: digest.Digest,
        embed: discord.Embed,
        png: bytes,
        figures: bytes | None,
    ) -> tuple[str, str | None]:
        if not dm_closed:
            try:
                await member.send(
                    embed=embed,
                    files=self._files(built, png, figures),
                    allowed_mentions=discord.AllowedMentions.none(),
                )
                return "dm", "sent by DM"
            except discord.Forbidden as exc:
                if exc.code != CANNOT_DM:
                    return "failed", f"Discord refused the DM ({exc.code})"
                async with self.bot.db.writing() as session:
                    await digest.mark_dm_closed(
                        session, guild_id=guild.id, user_id=member.id, now=self.bot.clock()
                    )
            except discord.HTTPException as exc:
                return "failed", f"Discord error {exc.status}"
        channel = guild.get_channel(channel_id) if channel_id else None
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            return "failed", "DMs closed and no moderators' channel is set (/hearth moderators)"
        try:
            await channel.send(
                f"Weekly digest for **{discord.utils.escape_markdown(member.display_name)}**, "
                "whose DMs are closed. (Re-adding them with `/digest recipients add` tries DMs "
                "again.)",
                embed=embed,
                files=self._files(built, png, figures),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:
            return "failed", f"DMs closed, and posting in #{channel.name} failed ({exc.status})"
        return "channel", f"DMs closed: posted in #{channel.name}"

    async def _send_due(self, action: Action) -> None:
        if action.guild_id is None:
            return
        guild = self.bot.get_guild(action.guild_id)
        if guild is None:
            return  # not on this server any more (or not on this shard)
        week = date.fromisoformat(str(action.payload.get("week")))
        report = await self.deliver(guild, week)
        log.info("digest for guild %s, week %s: %d recipient(s)", guild.id, week, len(report))
        async with self.bot.db.writing() as session:
            await digest.ensure_scheduled(session, guild_id=guild.id, now=self._after(action))

    def _after(self, action: Action) -> datetime:
        # The next digest is the first one after this one's due time (and after now).
        return max(self.bot.clock(), action.due_at)

    # -- commands --------------------------------------------------------------------------------

    def _guild(self, interaction: discord.Interaction) -> discord.Guild:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        return interaction.guild

    @group.command(name="setup", description="When the digest goes out (moderators)")
    @app_commands.describe(
        day="Day of the week (default Monday)",
        time="Time of day, like 09:00 or 9am (default 09:00)",
        timezone="The server's time zone (weeks and the send time use it)",
        csv="Attach the week's figures as a CSV file",
    )
    @app_commands.choices(day=DAY_CHOICES)
    @moderator_only()
    async def setup_(
        self,
        interaction: discord.Interaction,
        day: app_commands.Choice[int] | None = None,
        time: str | None = None,
        timezone: str | None = None,
        csv: bool | None = None,
    ) -> None:
        guild = self._guild(interaction)
        at = digest.parse_clock(time) if time else None
        now = self.bot.clock()
        if timezone:
            await self.bot.set_server_timezone(guild.id, timezone)
        async with self.bot.db.writing() as session:
            schedule = await digest.set_schedule(
                session,
                guild_id=guild.id,
                now=now,
                day=day.value if day else None,
                at=at,
                csv=csv,
            )
            due, _week = digest.next_send(schedule, now)
        await interaction.response.send_message(
            f"The digest goes out **{schedule.describe()}**; the next one "
            f"<t:{int(due.timestamp())}:F> (<t:{int(due.timestamp())}:R>)."
            + (" The week's figures come as a CSV too." if schedule.csv else ""),
            ephemeral=True,
        )

    @setup_.autocomplete("timezone")
    async def _zone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return zone_choices(current)

    @recipients_group.command(name="add", description="Add a digest recipient (moderators)")
    @app_commands.describe(member="Who should receive it (default: you)")
    @moderator_only()
    async def add(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        guild = self._guild(interaction)
        assert isinstance(interaction.user, discord.Member)
        target = member or interaction.user
        if target.bot:
            raise InvalidInputError("Bots don't read digests: pick a person.")
        if target.id != interaction.user.id and not (
            interaction.user.guild_permissions.manage_guild
            or interaction.user.guild_permissions.administrator
        ):
            raise app_commands.MissingPermissions(["manage_guild"])
        if guild.get_member(target.id) is None:
            raise InvalidInputError("A recipient must be a member of this server.")
        async with self.bot.db.writing() as session:
            await digest.add_recipient(
                session,
                guild_id=guild.id,
                user_id=target.id,
                added_by=interaction.user.id,
                now=self.bot.clock(),
            )
        await interaction.response.send_message(
            f"**{discord.utils.escape_markdown(target.display_name)}** will receive the weekly "
            "digest by DM (if their DMs are closed, it goes to the moderators' channel).",
            ephemeral=True,
        )

    @recipients_group.command(name="remove", description="Remove a digest recipient")
    @moderator_only()
    async def remove(self, interaction: discord.Interaction, member: discord.Member) -> None:
        guild = self._guild(interaction)
        async with self.bot.db.writing() as session:
            removed = await digest.remove_recipient(session, guild_id=guild.id, user_id=member.id)
        name = discord.utils.escape_markdown(member.display_name)
        await interaction.response.send_message(
            f"**{name}** no longer receives the digest."
            if removed
            else f"**{name}** wasn't on the list.",
            ephemeral=True,
        )

    @recipients_group.command(name="list", description="Who receives the digest")
    @moderator_only()
    async def list_(self, interaction: discord.Interaction) -> None:
        guild = self._guild(interaction)
        async with self.bot.db.reading() as session:
            people = await digest.recipients(session, guild_id=guild.id, owner_id=guild.owner_id)
        lines = []
        for p in people:
            m = guild.get_member(p.user_id)
            name = m.display_name if m else f"(left the server, {p.user_id})"
            note = " — DMs closed: served in the moderators' channel" if p.dm_closed else ""
            note += " — the server owner, as nobody was added" if p.implicit else ""
            lines.append(f"• {discord.utils.escape_markdown(name)}{note}")
        await interaction.response.send_message("\n".join(lines) or "Nobody.", ephemeral=True)

    @group.command(name="preview", description="This week's digest so far, just for you")
    @moderator_only()
    async def preview(self, interaction: discord.Interaction) -> None:
        guild = self._guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        built, embed, png, figures = await self._build(guild, weeks_ago=0)
        await interaction.followup.send(
            "A preview: nothing was sent to anyone.",
            embed=embed,
            files=self._files(built, png, figures),
            ephemeral=True,
        )

    @group.command(name="send-now", description="Send this week's digest now")
    @moderator_only()
    async def send_now(self, interaction: discord.Interaction) -> None:
        guild = self._guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.bot.db.reading() as session:
            schedule = await digest.get_schedule(session, guild.id)
        week = digest.week_of(self.bot.clock(), schedule.zone)
        report = await self.deliver(guild, week)
        await interaction.followup.send(
            "This week's digest (counts as this week's delivery):\n"
            + "\n".join(f"• {line}" for line in report),
            ephemeral=True,
        )

    @group.command(name="status", description="When the digest last went out, and to whom")
    @moderator_only()
    async def status(self, interaction: discord.Interaction) -> None:
        guild = self._guild(interaction)
        async with self.bot.db.reading() as session:
            rows = await digest.recent_deliveries(session, guild_id=guild.id)
            people = await digest.recipients(session, guild_id=guild.id, owner_id=guild.owner_id)
            schedule = await digest.get_schedule(session, guild.id)
        due, _week = digest.next_send(schedule, self.bot.clock())
        embed = discord.Embed(title="Weekly digest", colour=render.COLOUR)
        embed.add_field(
            name="Schedule",
            value=f"{schedule.describe()}\nnext <t:{int(due.timestamp())}:F>",
            inline=False,
        )
        if rows:
            lines = []
            for r in rows:
                m = guild.get_member(r.user_id)
                name = discord.utils.escape_markdown(m.display_name if m else str(r.user_id))
                lines.append(
                    f"week of {r.week:%d %b}: **{name}** — {r.detail or r.status} "
                    f"(<t:{int(r.at.timestamp())}:R>)"
                )
            embed.add_field(name="Recent deliveries", value="\n".join(lines)[:1024], inline=False)
        else:
            embed.add_field(name="Recent deliveries", value="none yet", inline=False)
        closed = [p for p in people if p.dm_closed]
        if closed:
            names = ", ".join(
                discord.utils.escape_markdown(
                    m.display_name if (m := guild.get_member(p.user_id)) else str(p.user_id)
                )
                for p in closed
            )
            embed.add_field(
                name="DMs closed",
                value=f"{names}: served in the moderators' channel until re-added.",
                inline=False,
            )
        await interaction.response.send_message(embed=embed, ephemeral=True)
