"""How an event looks: its message, the buttons of the moment, receipts, CSV and reminders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import discord

from cogs._csv import cell, csv_bytes
from cogs.events.views import CheckInButton, DmConsentButton, RsvpButton
from models import RsvpStatus
from services.events import REPEAT_LABELS, EventSnapshot, RsvpReceipt

SHOWN_NAMES = 10
COLOUR = discord.Colour.blurple()


def ts(moment: datetime, style: str = "f") -> str:
    return f"<t:{int(moment.timestamp())}:{style}>"


def duration_text(event: EventSnapshot) -> str:
    minutes = int((event.ends_at - event.starts_at).total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def where(event: EventSnapshot) -> str:
    if event.channel_id is not None:
        return f"<#{event.channel_id}>"
    return discord.utils.escape_markdown(event.location or "to be announced")


def counts_line(event: EventSnapshot) -> str:
    going = len(event.going)
    text = f"{going}/{event.capacity} going" if event.capacity else f"{going} going"
    if event.maybe:
        text += f" · {len(event.maybe)} maybe"
    if event.waitlist:
        text += f" · {len(event.waitlist)} waitlisted"
    return text


def names(user_ids: tuple[int, ...], limit: int = SHOWN_NAMES) -> str:
    shown = " ".join(f"<@{u}>" for u in user_ids[:limit])
    more = len(user_ids) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def event_embed(event: EventSnapshot, *, now: datetime) -> discord.Embed:
    title = event.title
    if event.is_cancelled:
        title = f"Cancelled: {title}"
    elif event.is_ended:
        title = f"Ended: {title}"
    embed = discord.Embed(
        title=title[:256],
        colour=discord.Colour.dark_grey() if (event.is_cancelled or event.is_ended) else COLOUR,
    )
    parts = []
    if event.description:
        parts.append(event.description)
    if event.is_cancelled:
        parts.append(
            "**This event was cancelled.**"
            + (
                f" {discord.utils.escape_markdown(event.cancel_reason)}"
                if event.cancel_reason
                else ""
            )
        )
    if parts:
        embed.description = "\n\n".join(parts)[:4096]
    when = f"{ts(event.starts_at, 'F')} ({ts(event.starts_at, 'R')})\n{duration_text(event)}"
    if event.repeat != "none":
        when += f" · repeats {REPEAT_LABELS[event.repeat]}"
    embed.add_field(name="When", value=when, inline=False)
    embed.add_field(name="Where", value=where(event))
    embed.add_field(name="Host", value=f"<@{event.host_id}>")
    if event.member_role_id:
        embed.add_field(name="Who can come", value=f"Members with <@&{event.member_role_id}>")
    embed.add_field(name="RSVPs", value=counts_line(event), inline=False)
    if event.going and not event.is_cancelled:
        embed.add_field(name="Going", value=names(event.going), inline=False)
    if event.attended:
        # Who was there, never who was not.
        embed.add_field(
            name=f"Attended ({len(event.attended)})", value=names(event.attended), inline=False
        )
    if event.in_window(now) and event.held_elsewhere:
        embed.set_footer(text="Check in when you're there: it counts as attending.")
    else:
        embed.set_footer(text=f"Event #{event.id}")
    return embed


def event_view(event: EventSnapshot, *, now: datetime) -> discord.ui.View | None:
    """RSVP buttons until it ends; a Check in button during the window for events held
    elsewhere (voice events count presence in the channel); nothing once over or cancelled."""
    if event.is_cancelled or event.is_ended or now >= event.window_end:
        return None
    view = discord.ui.View(timeout=None)
    if now < event.ends_at:
        for choice in ("going", "maybe", "no"):
            view.add_item(RsvpButton(event.id, choice))
    if event.held_elsewhere and event.in_window(now):
        view.add_item(CheckInButton(event.id))
    return view


def dm_question_view() -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(DmConsentButton("yes"))
    view.add_item(DmConsentButton("no"))
    return view


def receipt_text(receipt: RsvpReceipt, *, now: datetime) -> str:
    result = receipt.result
    event = result.event
    title = f"**{discord.utils.escape_markdown(event.title)}** ({ts(event.starts_at)})"
    status = result.status
    if not result.changed:
        already = {
            RsvpStatus.GOING: "You're already going to",
            RsvpStatus.MAYBE: "You're already a maybe for",
            RsvpStatus.DECLINED: "You already said you can't make it to",
            RsvpStatus.WAITLIST: "You're already on the waitlist for",
        }[RsvpStatus(status)]
        text = f"{already} {title}."
    elif status == RsvpStatus.GOING:
        text = f"You're going to {title}. See you there!"
    elif status == RsvpStatus.WAITLIST:
        text = (
            f"{title} is full, so you're on the waitlist: number {receipt.waitlist_position} in "
            "line. If a seat opens up, you move up at once and I'll let you know."
        )
    elif status == RsvpStatus.MAYBE:
        text = f"Marked you as a maybe for {title}."
    else:
        text = f"Got it: you can't make it to {title}."
    if result.changed and now < event.starts_at:
        text += f"\nYou can change this until it starts {ts(event.starts_at, 'R')}."
    return text


def promotion_text(event_id: int, title: str, starts_at: datetime) -> str:
    return (
        f"🎉 A seat opened up: you're now **going** to "
        f"**{discord.utils.escape_markdown(title)}** (event #{event_id}, {ts(starts_at)})."
    )


def reminder_embed(event: EventSnapshot, guild_name: str, link: str | None) -> discord.Embed:
    embed = discord.Embed(
        title=f"⏰ {event.title}"[:256],
        description=(
            f"Starts {ts(event.starts_at, 'R')} ({ts(event.starts_at, 'F')}) in **"
            f"{discord.utils.escape_markdown(guild_name)}**.\nWhere: {where(event)}"
            + (f"\n[Event details]({link})" if link else "")
        ),
        colour=COLOUR,
    )
    embed.set_footer(text="You get this because you're going and asked for reminders.")
    return embed


def export_csv(
    event: EventSnapshot,
    name_of: Callable[[int], str],
    voice_minutes: dict[int, int],
    checked_in: set[int],
) -> bytes:
    """One row per member who answered or attended: RSVP, place in line, attendance."""
    rows: dict[int, tuple[str, int | str]] = {}
    for status, members in (
        ("going", event.going),
        ("maybe", event.maybe),
        ("waitlist", event.waitlist),
        ("declined", event.declined),
    ):
        for i, user_id in enumerate(members, 1):
            rows[user_id] = (status, i if status == "waitlist" else "")
    for user_id in event.attended:
        rows.setdefault(user_id, ("", ""))
    attended = set(event.attended)
    header = ["event", "member_id", "member", "rsvp", "waitlist_position", "attended"]
    return csv_bytes(
        [*header, "voice_minutes", "checked_in"],
        (
            [
                event.id,
                user_id,
                cell(name_of(user_id)),
                status,
                position,
                "yes" if user_id in attended else "no",
                voice_minutes.get(user_id, 0),
                "yes" if user_id in checked_in else "no",
            ]
            for user_id, (status, position) in rows.items()
        ),
    )
