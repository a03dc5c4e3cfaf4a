"""The event message's buttons and the DM-consent question: DynamicItems carrying only ids.

``event:rsvp:<event>:<going|maybe|no>``, ``event:checkin:<event>``, ``event:dms:<yes|no>``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from cogs._ui import HearthDynamicItem
from models import RsvpStatus

if TYPE_CHECKING:
    from cogs.events.cog import EventsCog

CHOICES = {"going": RsvpStatus.GOING, "maybe": RsvpStatus.MAYBE, "no": RsvpStatus.DECLINED}
LABELS = {"going": "Going", "maybe": "Maybe", "no": "Can't go"}
STYLES = {
    "going": discord.ButtonStyle.success,
    "maybe": discord.ButtonStyle.secondary,
    "no": discord.ButtonStyle.secondary,
}


def _cog(interaction: discord.Interaction) -> EventsCog:
    cog = interaction.client.get_cog("EventsCog")  # type: ignore[attr-defined]
    if cog is None:
        raise RuntimeError("the events cog is not loaded")
    return cog  # type: ignore[no-any-return]


class RsvpButton(
    HearthDynamicItem[discord.ui.Button[Any]],
    template=r"event:rsvp:(?P<event>\d+):(?P<choice>going|maybe|no)",
):
    def __init__(self, event_id: int, choice: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=LABELS[choice],
                style=STYLES[choice],
                custom_id=f"event:rsvp:{event_id}:{choice}",
            )
        )
        self.event_id = event_id
        self.choice = choice

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RsvpButton:
        return cls(int(match["event"]), match["choice"])

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).answer_rsvp(interaction, self.event_id, CHOICES[self.choice])


class CheckInButton(
    HearthDynamicItem[discord.ui.Button[Any]], template=r"event:checkin:(?P<event>\d+)"
):
    def __init__(self, event_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Check in",
                emoji="✅",
                style=discord.ButtonStyle.primary,
                custom_id=f"event:checkin:{event_id}",
            )
        )
        self.event_id = event_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CheckInButton:
        return cls(int(match["event"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).check_in(interaction, self.event_id)


class DmConsentButton(
    HearthDynamicItem[discord.ui.Button[Any]], template=r"event:dms:(?P<answer>yes|no)"
):
    def __init__(self, answer: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Yes, remind me by DM" if answer == "yes" else "No DMs, thanks",
                style=discord.ButtonStyle.primary
                if answer == "yes"
                else discord.ButtonStyle.secondary,
                custom_id=f"event:dms:{answer}",
            )
        )
        self.answer = answer

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> DmConsentButton:
        return cls(match["answer"])

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).answer_dm_consent(interaction, self.answer == "yes")


DYNAMIC_ITEMS = (RsvpButton, CheckInButton, DmConsentButton)
