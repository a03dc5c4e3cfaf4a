"""How the digest reads: one embed (phone-first), the chart, and the optional CSV.

Names are written as text (not mentions): in a DM a mention of someone the reader's client
has not cached shows as "@unknown-user", and nobody is ever pinged by a digest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import discord

from cogs._csv import csv_bytes
from services.charts import digest_png
from services.digest import Digest

NOT_ENOUGH = "not enough data yet"
NOT_YET = "not yet available"
COLOUR = discord.Colour.orange()

NameOf = Callable[[int], str]


def _day(d: date) -> str:
    return f"{d.day} {d:%b}"


def week_label(digest: Digest) -> str:
    p = digest.period
    return f"{_day(p.start)} – {_day(p.last_day)} {p.last_day.year}"


def _arrow(delta: float | None, unit: str = "") -> str:
    if delta is None:
        return ""
    if abs(delta) < 1e-9:
        return " (＝)"
    sign = "▲" if delta > 0 else "▼"
    return f" ({sign}{abs(delta):g}{unit})"


def count(current: int, previous: int) -> str:
    return f"{current}{_arrow(current - previous)}"


def rate(digest: Digest, current: float | None, previous: float | None) -> str:
    if current is None or digest.tiny:
        return NOT_ENOUGH
    points = None if previous is None else round((current - previous) * 100)
    return f"{round(current * 100)}%{_arrow(points, ' pts')}"


def _names(ids: list[int], name_of: NameOf) -> str:
    return ", ".join(name_of(u) for u in ids) if ids else ""


def digest_embed(digest: Digest, guild_name: str, name_of: NameOf) -> discord.Embed:
    cur, prev = digest.weekly.current, digest.weekly.previous
    title = f"{guild_name}: your week, {week_label(digest)}"
    if digest.in_progress:
        title = f"{guild_name}: this week so far, {week_label(digest)}"
    embed = discord.Embed(title=title[:256], colour=COLOUR)
    embed.description = (
        "How your community is really doing: who showed up, who came back, who to thank. "
        f"Weeks run Monday to Sunday in {digest.period.timezone}; (▲▼) is the change from the "
        "week before."
    )
    embed.add_field(
        name="Members",
        value=f"{count(cur.members_total, prev.members_total)}\n+{cur.joined} joined · "
        f"−{cur.left} left",
    )
    embed.add_field(name="Active members", value=count(cur.active, prev.active))
    embed.add_field(
        name="Engagement", value=rate(digest, cur.engagement_rate, prev.engagement_rate)
    )
    if cur.retention_cohort:
        back = f"{cur.retention_returned} of {cur.retention_cohort}"
        share = rate(digest, cur.week1_retention, prev.week1_retention)
        retention = back if share == NOT_ENOUGH else f"{back} · {share}"
    else:
        retention = NOT_ENOUGH
    embed.add_field(name="New members back in week 2", value=retention)
    embed.add_field(name="Active 2+ days", value=count(cur.contributors, prev.contributors))
    t, tb = digest.totals, digest.totals_before
    embed.add_field(
        name="Messages",
        value=f"{count(t.messages, tb.messages)}\n"
        f"{count(t.activity_blocks, tb.activity_blocks)} activity blocks",
    )
    embed.add_field(name="Voice", value=f"{count(t.voice_minutes, tb.voice_minutes)} min")
    ev, evb = digest.events, digest.events_before
    if ev.events or evb.events:
        events = (
            f"{ev.events} held · {count(ev.attended, evb.attended)} attended\n"
            f"{cur.repeat_attendees} repeat attendees"
        )
        if ev.conversion is not None:
            events += f" · {round(ev.conversion * 100)}% of Going came"
    else:
        events = "no events this week"
    embed.add_field(name="Events", value=events)
    p, pb = digest.polls, digest.polls_before
    if p.closed:
        turnout = "" if p.turnout is None else f" · {round(p.turnout * 100)}% turnout"
        polls = f"{p.closed} closed · {p.voters} voters{turnout}"
        if pb.turnout is not None and p.turnout is not None:
            polls += _arrow(round((p.turnout - pb.turnout) * 100), " pts")
    else:
        polls = "no polls closed this week"
    embed.add_field(name="Polls", value=polls)
    embed.add_field(name="Referrals", value=NOT_YET)
    embed.add_field(name="Showcase", value=NOT_YET)

    thank = [c.user_id for c in digest.weekly.top_contributors]
    embed.add_field(
        name="🙏 Thank",
        value=_names(thank, name_of) or NOT_ENOUGH,
        inline=False,
    )
    embed.add_field(
        name="👋 Reach out (quiet for 2 weeks after being regulars)",
        value=_names([d.user_id for d in digest.drifting], name_of) or "nobody: nice",
        inline=False,
    )
    embed.add_field(
        name="🌱 Welcome further (new and promising)",
        value=_names([n.user_id for n in digest.newcomers], name_of) or "no newcomers active yet",
        inline=False,
    )
    if digest.upcoming:
        lines = [
            f"<t:{int(e.starts_at.timestamp())}:f> **{discord.utils.escape_markdown(e.title)}**"
            f" · {len(e.going)}{f'/{e.capacity}' if e.capacity else ''} going"
            + (f" · {len(e.waitlist)} waitlisted" if e.waitlist else "")
            for e in digest.upcoming
        ]
        embed.add_field(name="📅 Coming up", value="\n".join(lines)[:1024], inline=False)
    else:
        embed.add_field(name="📅 Coming up", value="no events planned", inline=False)
    embed.set_image(url=f"attachment://{chart_filename(digest)}")
    embed.set_footer(text="Hearth · depth over reach. /digest setup changes when this arrives.")
    return embed


def chart_filename(digest: Digest) -> str:
    return f"digest-{digest.period.start.isoformat()}.png"


def chart(digest: Digest, guild_name: str) -> bytes:
    series = digest.series
    table = digest.cohorts
    return digest_png(
        f"{guild_name} · {week_label(digest)}",
        [_day(w.start) for w in series],
        [w.active for w in series],
        [None if digest.tiny else w.engagement for w in series],
        [_day(r.period.start) for r in table.rows],
        [r.size for r in table.rows],
        [[r.rate(k) for k in range(table.weeks)] for r in table.rows],
    )


def figures_csv(digest: Digest) -> bytes:
    """The week's figures, one row per metric, this week and the week before."""
    cur, prev = digest.weekly.current, digest.weekly.previous
    names = (
        "members_total",
        "joined",
        "left",
        "active",
        "communicators",
        "engagement_rate",
        "monthly_active",
        "stickiness",
        "contributors",
        "retention_cohort",
        "retention_returned",
        "week1_retention",
        "events_attended",
        "repeat_attendees",
        "rsvp_conversion",
    )
    rows: list[list[object]] = [
        [name, *("" if v is None else v for v in (getattr(cur, name), getattr(prev, name)))]
        for name in names
    ]
    t, tb = digest.totals, digest.totals_before
    rows += [
        ["messages", t.messages, tb.messages],
        ["activity_blocks", t.activity_blocks, tb.activity_blocks],
        ["voice_minutes", t.voice_minutes, tb.voice_minutes],
        ["polls_closed", digest.polls.closed, digest.polls_before.closed],
        ["poll_voters", digest.polls.voters, digest.polls_before.voters],
    ]
    return csv_bytes(["metric", "this_week", "week_before"], rows)


def csv_filename(digest: Digest) -> str:
    return f"digest-{digest.period.start.isoformat()}.csv"
