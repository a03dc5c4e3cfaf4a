"""Checks the commands share: who is asking, and whether Hearth can post where it is asked to."""

from __future__ import annotations

from collections.abc import Sequence

import discord
from discord import app_commands

from cogs._errors import permission_names
from services.errors import InvalidInputError


def guild_member(interaction: discord.Interaction) -> tuple[int, discord.Member]:
    """The server and the member behind a server interaction (refused in DMs)."""
    if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id, interaction.user


def require_bot_can_post(
    channel: discord.abc.GuildChannel | discord.Thread,
    me: discord.Member,
    needed: Sequence[str],
    what: str,
) -> None:
    """Refuse, saying which permissions are missing, before anything is created."""
    mine = channel.permissions_for(me)
    missing = [p for p in needed if not getattr(mine, p)]
    if missing:
        raise InvalidInputError(
            f"I can't post {what} in {channel.mention}: I need **{permission_names(missing)}** "
            "there. A server admin can give my role those permissions, or pick another channel."
        )
