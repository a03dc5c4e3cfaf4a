"""The poll's components: DynamicItems whose custom_id carries only ids.

``poll:vote:<poll>:<option>`` (a button per option), ``poll:pick:<poll>`` (a select menu for
more than 5 options) and ``poll:clear:<poll>``. State lives in the database, so a button
posted before a restart works after it. ``from_custom_id`` only parses (discord.py drops the
click silently if it raises); the work happens in the cog.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from cogs._ui import HearthDynamicItem

if TYPE_CHECKING:
    from cogs.polls.cog import PollsCog


def _cog(interaction: discord.Interaction) -> PollsCog:
    cog = interaction.client.get_cog("PollsCog")  # type: ignore[attr-defined]
    if cog is None:
        raise RuntimeError("the polls cog is not loaded")
    return cog  # type: ignore[no-any-return]


class VoteButton(
    HearthDynamicItem[discord.ui.Button[Any]], template=r"poll:vote:(?P<poll>\d+):(?P<option>\d+)"
):
    private = True  # a vote may be anonymous: error logs leave the member out

    def __init__(
        self, poll_id: int, position: int, *, label: str = "Vote", disabled: bool = False
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:80],
                style=discord.ButtonStyle.primary,
                custom_id=f"poll:vote:{poll_id}:{position}",
                disabled=disabled,
            )
        )
        self.poll_id = poll_id
        self.position = position

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        label = getattr(item, "label", None) or "Vote"
        return cls(int(match["poll"]), int(match["option"]), label=label)

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).vote(interaction, self.poll_id, add=self.position)


class PickSelect(HearthDynamicItem[discord.ui.Select[Any]], template=r"poll:pick:(?P<poll>\d+)"):
    private = True

    def __init__(
        self,
        poll_id: int,
        *,
        options: Sequence[str] = (),
        choices: int = 1,
        disabled: bool = False,
        select: discord.ui.Select[Any] | None = None,
    ) -> None:
        if select is None:
            select = discord.ui.Select(
                custom_id=f"poll:pick:{poll_id}",
                placeholder="Choose an option" if choices == 1 else f"Pick up to {choices}",
                min_values=1,
                max_values=max(1, min(choices, len(options))),
                options=[
                    discord.SelectOption(label=label[:100], value=str(i))
                    for i, label in enumerate(options)
                ],
                disabled=disabled,
            )
        super().__init__(select)
        self.poll_id = poll_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PickSelect:
        if not isinstance(item, discord.ui.Select):
            raise TypeError("poll:pick is a select menu")
        return cls(int(match["poll"]), select=item)

    async def handle(self, interaction: discord.Interaction) -> None:
        picked = [int(v) for v in self.item.values if v.isdigit()]
        await _cog(interaction).vote(interaction, self.poll_id, replace=picked)


class ClearVoteButton(
    HearthDynamicItem[discord.ui.Button[Any]], template=r"poll:clear:(?P<poll>\d+)"
):
    private = True

    def __init__(self, poll_id: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Clear my vote",
                style=discord.ButtonStyle.secondary,
                custom_id=f"poll:clear:{poll_id}",
                disabled=disabled,
                row=4,
            )
        )
        self.poll_id = poll_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ClearVoteButton:
        return cls(int(match["poll"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).clear(interaction, self.poll_id)


DYNAMIC_ITEMS = (VoteButton, PickSelect, ClearVoteButton)
