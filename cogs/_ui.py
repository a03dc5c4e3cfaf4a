"""Base View, Modal and DynamicItem classes whose errors reach the member, politely.

The command tree never sees errors raised in views, modals or dynamic items: discord.py only
logs them and the member sees "This interaction failed". These bases route them through
:func:`cogs._errors.reply_error` instead. Every button/select/modal in Hearth derives from them.
"""

from __future__ import annotations

from typing import Any, TypeVar

import discord
from discord.ui import DynamicItem, Item

from cogs._errors import reply_error

BaseT = TypeVar("BaseT", bound=Item[Any])


class HearthView(discord.ui.View):
    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: Item[Any]
    ) -> None:
        await reply_error(interaction, error, where=f"{type(self).__name__}/{type(item).__name__}")


class HearthModal(discord.ui.Modal):
    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await reply_error(interaction, error, where=type(self).__name__)


class HearthDynamicItem(DynamicItem[BaseT], template=r"(?!)"):
    """A persistent component whose custom_id carries only ids (``poll:vote:<poll>:<opt>``).

    Subclasses give their own ``template``, parse ids in ``from_custom_id`` (pure parsing, no
    I/O: discord.py drops the click silently if it raises) and implement :meth:`handle`.
    Register them in the cog's ``cog_load`` with ``bot.add_dynamic_items``.
    """

    # True for items whose click must never be tied to a member in a log line (votes).
    private: bool = False

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        try:
            await self.handle(interaction)
        except Exception as error:
            await reply_error(interaction, error, where=type(self).__name__, private=self.private)

    async def handle(self, interaction: discord.Interaction) -> None:
        raise NotImplementedError
