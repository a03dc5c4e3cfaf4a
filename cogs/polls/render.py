"""How a poll looks: the embed, its buttons or select menu, receipts, the chart and the CSV.

Everything here is a pure function of a PollSnapshot (plus the eligible count the cog takes
from the member cache), so the public message, /poll results and the close all agree.
"""

from __future__ import annotations

from datetime import datetime

import discord

from cogs._csv import cell, csv_bytes
from cogs.polls.views import ClearVoteButton, PickSelect, VoteButton
from services.charts import poll_results_png
from services.polls import PollSnapshot, VoteReceipt

BAR_WIDTH = 12
BUTTON_LIMIT = 5  # up to 5 options: a button each; more: a select menu
COLOUR_OPEN = discord.Colour.orange()
COLOUR_CLOSED = discord.Colour.dark_grey()
ANONYMOUS_NOTE = (
    "🔒 **Anonymous.** Nobody can see who voted for what: not moderators, not the server "
    "owner, not Hearth's database. Only the totals are kept when it closes."
)


def ts(moment: datetime, style: str = "f") -> str:
    return f"<t:{int(moment.timestamp())}:{style}>"


def bar(share: float) -> str:
    filled = round(max(0.0, min(share, 1.0)) * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def turnout(poll: PollSnapshot, eligible: int | None) -> str:
    """ "N votes · X of Y eligible" (votes are picks: with multi-choice, more than voters)."""
    text = plural(poll.total_votes, "vote")
    if eligible is None:
        return f"{text} · {plural(poll.voters, 'voter')}"
    share = f" ({poll.voters / eligible:.0%})" if eligible else ""
    return f"{text} · {poll.voters} of {eligible} eligible{share}"


def who_may_vote(poll: PollSnapshot) -> str:
    who = f"Members with <@&{poll.voter_role_id}>" if poll.voter_role_id else "Everyone"
    if poll.choices > 1:
        who += f" · pick up to {poll.choices}"
    return who


def option_lines(poll: PollSnapshot) -> list[str]:
    winners = set(poll.winners()) if poll.is_closed else set()
    lines = []
    for i, label in enumerate(poll.options):
        name = discord.utils.escape_markdown(label)
        if not poll.results_visible:
            lines.append(f"**{i + 1}.** {name}")
            continue
        crown = " 🏆" if i in winners else ""
        share = poll.share(i)
        lines.append(f"**{i + 1}. {name}**{crown}\n`{bar(share)}` {share:.0%} · {poll.counts[i]}")
    return lines


def winner_line(poll: PollSnapshot) -> str:
    winners = poll.winners()
    if not winners:
        return "No votes were cast."
    names = [f"**{discord.utils.escape_markdown(poll.options[i])}**" for i in winners]
    if len(names) == 1:
        return f"🏆 Winner: {names[0]}"
    return f"🏆 Tie between {', '.join(names[:-1])} and {names[-1]}"


def poll_embed(
    poll: PollSnapshot, *, eligible: int | None, chart_file: str | None = None
) -> discord.Embed:
    header = f"**{discord.utils.escape_markdown(poll.question)}**"
    body = "\n".join(option_lines(poll))
    parts = [header, body]
    if poll.is_closed:
        parts.append(winner_line(poll))
    elif not poll.results_visible:
        parts.append("_Results are hidden until the poll closes, so nobody follows the crowd._")
    if poll.anonymous:
        parts.append(ANONYMOUS_NOTE)
    parts.append(f"Asked by <@{poll.creator_id}>")
    title = f"📊 Poll #{poll.id}" + (" · closed" if poll.is_closed else "")
    embed = discord.Embed(
        title=title,
        description="\n\n".join(parts)[:4096],
        colour=COLOUR_CLOSED if poll.is_closed else COLOUR_OPEN,
    )
    embed.add_field(name="Turnout", value=turnout(poll, eligible))
    embed.add_field(name="Who can vote", value=who_may_vote(poll))
    if poll.closed_at is not None:
        embed.add_field(name="Closed", value=ts(poll.closed_at))
    else:
        embed.add_field(name="Closes", value=f"{ts(poll.closes_at)} ({ts(poll.closes_at, 'R')})")
    if chart_file:
        embed.set_image(url=f"attachment://{chart_file}")
    return embed


def poll_view(poll: PollSnapshot) -> discord.ui.View:
    """Buttons (up to 5 options) or a select menu, and "Clear my vote"; disabled once closed.

    Every component is a DynamicItem carrying only ids, so it works after a restart.
    """
    view = discord.ui.View(timeout=None)
    closed = poll.is_closed
    if len(poll.options) <= BUTTON_LIMIT:
        for i, label in enumerate(poll.options):
            view.add_item(VoteButton(poll.id, i, label=label, disabled=closed))
    else:
        view.add_item(
            PickSelect(poll.id, options=poll.options, choices=poll.choices, disabled=closed)
        )
    view.add_item(ClearVoteButton(poll.id, disabled=closed))
    return view


def receipt_text(receipt: VoteReceipt) -> str:
    poll = receipt.poll
    names = " and ".join(
        f"**{discord.utils.escape_markdown(poll.options[i])}**" for i in receipt.picked
    )
    until = ts(poll.closes_at)
    if not receipt.changed:
        text = f"You had already voted for {names}; nothing changed."
    elif poll.choices == 1:
        text = f"You voted for {names}. You can change it until {until}: just pick another option."
    else:
        text = (
            f"Your picks: {names} ({len(receipt.picked)} of up to {poll.choices}). You can "
            f"change them until {until}."
        )
    if poll.hide_results:
        text += "\nResults will show when the poll closes."
    if poll.anonymous:
        text += "\n🔒 Anonymous: your vote is stored under a code nobody can trace back to you."
    return text


def chart_filename(poll: PollSnapshot) -> str:
    return f"poll-{poll.id}-results.png"


def chart_footer(poll: PollSnapshot) -> str:
    closed = poll.closed_at or poll.closes_at
    return f"Poll #{poll.id} · {turnout(poll, poll.eligible)} · closed {closed:%d %b %Y %H:%M} UTC"


def chart_png(poll: PollSnapshot) -> bytes:
    return poll_results_png(
        poll.question,
        poll.options,
        poll.counts,
        voters=poll.voters,
        winners=poll.winners(),
        footer=chart_footer(poll),
    )


def results_csv(poll: PollSnapshot) -> bytes:
    header = ["poll", "question", "option_number", "option", "votes", "share_of_voters"]
    return csv_bytes(
        header,
        (
            [
                poll.id,
                cell(poll.question),
                i + 1,
                cell(label),
                poll.counts[i],
                f"{poll.share(i):.4f}",
            ]
            for i, label in enumerate(poll.options)
        ),
    )


def ballots_csv(poll: PollSnapshot, ballots: list[tuple[int, str, tuple[int, ...]]]) -> bytes:
    """One row per pick of a public poll: member id, name, option."""
    return csv_bytes(
        ["poll", "member_id", "member", "option_number", "option"],
        (
            [poll.id, user_id, cell(name), i + 1, cell(poll.options[i])]
            for user_id, name, picks in ballots
            for i in picks
        ),
    )
