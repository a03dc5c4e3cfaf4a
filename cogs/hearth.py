"""/hearth about and /hearth health: proof that the wiring works, end to end."""

from __future__ import annotations

import functools
import time
from zoneinfo import available_timezones

import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy import text

from cogs._bot import VERSION, Hearth, moderator_only
from cogs._checks import require_bot_can_post
from services import guilds
from services.errors import InvalidInputError
from services.scheduling import scheduler_health


def _human(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    parts += [f"{minutes}m", f"{secs}s"] if not days else [f"{minutes}m"]
    return " ".join(parts)


class HearthCog(commands.Cog):
    hearth = app_commands.Group(name="hearth", description="About Hearth itself")

    def __init__(self, bot: Hearth) -> None:
        self.bot = bot

    @hearth.command(name="about", description="What Hearth is, and how it is running")
    async def about(self, interaction: discord.Interaction) -> None:
        latency = self.bot.latency
        embed = discord.Embed(
            title="Hearth",
            description=(
                "A host for small, high-trust communities: onboarding, tiers, polls, events, "
                "a showcase, and a weekly digest of how the community is really doing."
            ),
            colour=discord.Colour.orange(),
        )
        embed.add_field(name="Version", value=VERSION)
        embed.add_field(name="Uptime", value=_human(time.monotonic() - self.bot.started_monotonic))
        embed.add_field(name="Database", value=self.bot.db.backend)
        embed.add_field(
            name="Gateway latency",
            value="measuring…"
            if latency != latency or latency == float("inf")
            else f"{latency * 1000:.0f} ms",
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @hearth.command(name="health", description="Moderators: is Hearth healthy?")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @moderator_only()
    async def health(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        now = self.bot.clock()
        started = time.perf_counter()
        try:
            async with self.bot.db.reading() as session:
                await session.execute(text("SELECT 1"))
                stats = await scheduler_health(session, now=now)
            took_ms = (time.perf_counter() - started) * 1000
            db_line = f"✅ reachable ({self.bot.db.backend}, {took_ms:.0f} ms)"
        except Exception as exc:  # health must report a broken database, not crash on it
            stats = None
            db_line = f"❌ unreachable: {type(exc).__name__}"
        ticker = self.bot.ticker
        if ticker.last_tick_at is None:
            tick_line = "⚠️ not ticked yet"
        else:
            ago = (now - ticker.last_tick_at).total_seconds()
            stale = ago > max(30.0, self.bot.settings.scheduler_tick_seconds * 5)
            tick_line = (
                f"{'⚠️' if stale else '✅'} {discord.utils.format_dt(ticker.last_tick_at, 'R')}"
            )
            if ticker.last_tick_error:
                tick_line += f" (last error: {ticker.last_tick_error[:100]})"
        embed = discord.Embed(title="Hearth health", colour=discord.Colour.green())
        embed.add_field(name="Database", value=db_line, inline=False)
        embed.add_field(name="Scheduler", value=tick_line, inline=False)
        if stats is not None:
            overdue = f" · ⚠️ {stats.overdue} overdue" if stats.overdue else ""
            embed.add_field(
                name="Scheduled actions",
                value=(
                    f"{stats.pending} pending{overdue} · {stats.running} running · "
                    f"{stats.failed} failed"
                ),
                inline=False,
            )
            if stats.failed or stats.overdue:
                embed.colour = discord.Colour.gold()
        else:
            embed.colour = discord.Colour.red()
        embed.set_footer(
            text=f"Gateway latency {self.bot.latency * 1000:.0f} ms"
            if self.bot.latency == self.bot.latency
            else "Gateway latency unknown"
        )
        await interaction.followup.send(embed=embed, ephemeral=True)

    @hearth.command(name="timezone", description="Moderators: the server's time zone")
    @app_commands.describe(zone="An IANA time zone, like Europe/Berlin or America/New_York")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @moderator_only()
    async def timezone(self, interaction: discord.Interaction, zone: str) -> None:
        assert interaction.guild is not None
        now = self.bot.clock()
        await self.bot.remember_guild(interaction.guild)
        name = await self.bot.set_server_timezone(interaction.guild.id, zone)
        await interaction.response.send_message(
            f"This server's time zone is now **{name}**: weeks start on Monday at 00:00 there, "
            f"and it is {discord.utils.format_dt(now, 't')} for you right now.",
            ephemeral=True,
        )

    @hearth.command(
        name="moderators", description="Admins: the moderator role and moderators' channel"
    )
    @app_commands.describe(
        role="Members with this role count as moderators (besides Manage Server)",
        channel="A private channel for moderators (digests whose DM failed go there)",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def moderators(
        self,
        interaction: discord.Interaction,
        role: discord.Role | None = None,
        channel: discord.TextChannel | None = None,
    ) -> None:
        assert interaction.guild is not None
        await self.bot.remember_guild(interaction.guild)
        if (
            channel is not None
            and channel.permissions_for(interaction.guild.default_role).view_channel
        ):
            raise InvalidInputError(
                f"{channel.mention} is visible to everyone: pick a channel only moderators can "
                "see (digests are for the people running the community)."
            )
        if channel is not None:
            needed = ("view_channel", "send_messages", "embed_links", "attach_files")
            require_bot_can_post(channel, interaction.guild.me, needed, "digests")
        async with self.bot.db.writing() as session:
            saved = await guilds.set_moderation(
                session,
                guild_id=interaction.guild.id,
                role_id=role.id if role else None,
                channel_id=channel.id if channel else None,
                now=self.bot.clock(),
            )
        role_text = f"<@&{saved.moderator_role_id}>" if saved.moderator_role_id else "none"
        channel_text = f"<#{saved.moderator_channel_id}>" if saved.moderator_channel_id else "none"
        await interaction.response.send_message(
            f"Moderator role: {role_text}. Moderators' channel: {channel_text}.", ephemeral=True
        )

    @timezone.autocomplete("zone")
    async def _zone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return zone_choices(current)


@functools.cache
def _all_zones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


def zone_choices(current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete for every time-zone option in Hearth."""
    return [app_commands.Choice(name=z, value=z) for z in suggest_timezones(current)]


def suggest_timezones(current: str, limit: int = 25) -> list[str]:
    needle = current.strip().lower().replace(" ", "_")
    zones = _all_zones()
    starts = [
        z
        for z in zones
        if z.lower().startswith(needle) or z.lower().split("/")[-1].startswith(needle)
    ]
    contains = [z for z in zones if needle in z.lower() and z not in starts]
    return (starts + contains)[:limit]


async def setup(bot: Hearth) -> None:
    await bot.add_cog(HearthCog(bot))
