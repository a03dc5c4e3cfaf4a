"""/stats server (moderators) and /stats me (anyone, about themselves only).

Glue only: parse the interaction, open one reading session, call services.metrics, render an
ephemeral embed that reads well on a phone. Definitions live in docs/metrics.md.
"""

from __future__ import annotations

from datetime import date

import discord
from discord import app_commands
from discord.ext import commands

from cogs._bot import Hearth, moderator_only
from services import metrics

NOT_ENOUGH = "not enough data yet"
PERIODS = [
    app_commands.Choice(name="This week", value=0),
    app_commands.Choice(name="Last week", value=1),
]


def _arrow(delta: float | None, unit: str = "") -> str:
    if delta is None:
        return ""
    if abs(delta) < 1e-9:
        return " ＝"
    return f" {'▲' if delta > 0 else '▼'}{abs(delta):g}{unit}"


def count_with_change(change: metrics.Change) -> str:
    """Like "12 ▲3": counts are never None; the arrow is the change from last period."""
    current = 0 if change.current is None else int(change.current)
    delta = None if change.delta is None else int(change.delta)
    return f"{current}{_arrow(delta)}"


def rate_with_change(change: metrics.Change) -> str:
    """Like "42% ▲5 pts" (percentage points), or "not enough data yet" without a denominator."""
    if change.current is None:
        return NOT_ENOUGH
    points = None if change.delta is None else round(change.delta * 100)
    return f"{round(change.current * 100)}%{_arrow(points, ' pts')}"


def _day(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b}"


def period_label(period: metrics.Period) -> str:
    return (
        f"{_day(period.start)} – {_day(period.last_day)} {period.last_day.year} ({period.timezone})"
    )


def server_embed(m: metrics.WeeklyMetrics) -> discord.Embed:
    c = m.changes()
    cur = m.current
    title = "Server stats: this week so far" if m.in_progress else "Server stats"
    embed = discord.Embed(
        title=title, description=period_label(m.period), colour=discord.Colour.orange()
    )
    embed.add_field(
        name="Members",
        value=f"{count_with_change(c['members_total'])}\n+{cur.joined} / −{cur.left}",
    )
    embed.add_field(name="Active", value=count_with_change(c["active"]))
    embed.add_field(name="Talking", value=count_with_change(c["communicators"]))
    embed.add_field(name="Engaged", value=rate_with_change(c["engagement_rate"]))
    embed.add_field(name="2+ days", value=count_with_change(c["contributors"]))
    stickiness = rate_with_change(c["stickiness"])
    embed.add_field(
        name="Weekly ÷ monthly", value=f"{cur.active} ÷ {cur.monthly_active}\n{stickiness}"
    )
    retention = rate_with_change(c["week1_retention"])
    if cur.retention_cohort:
        retention = f"{cur.retention_returned} of {cur.retention_cohort}\n{retention}"
    embed.add_field(name="New, back in wk 2", value=retention)
    embed.add_field(name="Events attended", value=count_with_change(c["events_attended"]))
    embed.add_field(name="Referrals", value=count_with_change(c["referrals"]))
    repeat = str(cur.repeat_attendees)
    if cur.rsvp_conversion is not None:
        repeat += f"\n{round(cur.rsvp_conversion * 100)}% of Going came"
    embed.add_field(name="Repeat attendees", value=repeat)
    if m.top_contributors:
        lines = [f"{i}. <@{t.user_id}> · {t.score:g}" for i, t in enumerate(m.top_contributors, 1)]
        embed.add_field(name="Top contributors", value="\n".join(lines)[:1024], inline=False)
    else:
        embed.add_field(name="Top contributors", value=NOT_ENOUGH, inline=False)
    embed.set_footer(text="▲▼ change from the week before")
    return embed


def me_embed(summary: metrics.MemberSummary) -> discord.Embed:
    embed = discord.Embed(
        title="Your week", description=period_label(summary.period), colour=discord.Colour.teal()
    )
    if summary.opted_out:
        embed.description = (
            f"{embed.description}\nYou opted out of tracking, so Hearth records nothing new "
            "about you. What is shown was recorded before."
        )
    streak = summary.streak_weeks
    embed.add_field(name="Activity blocks", value=str(summary.activity_blocks))
    embed.add_field(name="Active days", value=str(summary.active_days))
    embed.add_field(
        name="Streak", value=f"{streak} week{'s' if streak != 1 else ''}" if streak else "—"
    )
    embed.add_field(
        name="Events attended",
        value=f"{summary.events_attended} this week\n{summary.events_attended_total} in total",
    )
    embed.add_field(name="Messages", value=str(summary.messages))
    embed.add_field(name="Voice", value=f"{summary.voice_minutes} min")
    embed.set_footer(text="An activity block is a 10-minute stretch with at least one message.")
    return embed


class StatsCog(commands.Cog):
    stats = app_commands.Group(
        name="stats", description="How the community is doing", guild_only=True
    )

    def __init__(self, bot: Hearth) -> None:
        self.bot = bot

    @stats.command(name="server", description="Moderators: this server's participation")
    @app_commands.describe(period="Which week (in the server's time zone)")
    @app_commands.choices(period=PERIODS)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @moderator_only()
    async def server(
        self, interaction: discord.Interaction, period: app_commands.Choice[int] | None = None
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        weeks_ago = period.value if period is not None else 0
        async with self.bot.db.reading() as session:
            result = await metrics.weekly_metrics(
                session, guild_id=interaction.guild_id, now=self.bot.clock(), weeks_ago=weeks_ago
            )
        await interaction.followup.send(embed=server_embed(result), ephemeral=True)

    @stats.command(name="me", description="Your own participation this week")
    async def me(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        async with self.bot.db.reading() as session:
            summary = await metrics.member_summary(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                now=self.bot.clock(),
            )
        await interaction.response.send_message(embed=me_embed(summary), ephemeral=True)


async def setup(bot: Hearth) -> None:
    await bot.add_cog(StatsCog(bot))
