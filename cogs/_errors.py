"""One friendly error path for every interaction: commands, buttons, selects and modals.

Members never see "This interaction failed": every error becomes a short ephemeral sentence,
sent as a followup when the interaction was already answered. Unexpected errors are logged with
guild, user and command, and the member gets a reference code to quote to a moderator.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import discord
from discord import app_commands

from services.errors import DomainError

log = logging.getLogger(__name__)


class NotModeratorError(app_commands.CheckFailure):
    """The member is not a moderator of this server."""


def permission_names(perms: list[str]) -> str:
    names = [p.replace("_", " ").replace("guild", "server").title() for p in perms]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def describe_error(error: BaseException) -> tuple[str, bool]:
    """The sentence to show for ``error``, and whether it was unexpected (to be logged)."""
    original: BaseException = error
    while isinstance(original, app_commands.CommandInvokeError | app_commands.TransformerError):
        if original.__cause__ is None or original.__cause__ is original:
            break
        if isinstance(original, app_commands.TransformerError) and not isinstance(
            original.__cause__, DomainError
        ):
            break
        original = original.__cause__
    if isinstance(original, app_commands.CommandInvokeError):
        original = original.original

    if isinstance(original, DomainError):
        return original.message, False
    if isinstance(original, app_commands.TransformerError):
        return (
            f"I couldn't understand {original.value!r} there. Please check it and try again.",
            False,
        )
    if isinstance(original, app_commands.MissingPermissions):
        names = permission_names(original.missing_permissions)
        return f"You need the **{names}** permission to use this.", False
    if isinstance(original, app_commands.BotMissingPermissions):
        names = permission_names(original.missing_permissions)
        return f"I need the **{names}** permission here to do that. Ask a server admin.", False
    if isinstance(original, app_commands.CommandOnCooldown):
        again = discord.utils.utcnow() + timedelta(seconds=original.retry_after)
        return f"Slow down a little: try again {discord.utils.format_dt(again, 'R')}.", False
    if isinstance(original, app_commands.NoPrivateMessage):
        return "This only works inside a server, not in DMs.", False
    if isinstance(original, NotModeratorError):
        return str(original) or "Only moderators can use this.", False
    if isinstance(original, app_commands.MissingRole | app_commands.MissingAnyRole):
        return "You don't have the role needed for this.", False
    if isinstance(original, app_commands.CheckFailure):
        return "You can't use this here.", False
    if isinstance(original, discord.Forbidden):
        return (
            "Discord didn't let me do that: I'm missing a permission in this channel or server. "
            "A server admin can fix my role's permissions.",
            False,
        )
    return "", True


async def reply_error(
    interaction: discord.Interaction,
    error: BaseException,
    *,
    where: str | None = None,
    private: bool = False,
) -> None:
    """Tell the member what went wrong, ephemerally; log the unexpected with a reference.

    ``private``: the log line leaves the member out (a vote in an anonymous poll must not be
    tied to anyone, not even by an error report).
    """
    message, unexpected = describe_error(error)
    if unexpected:
        ref = secrets.token_hex(4)
        command = interaction.command.qualified_name if interaction.command else None
        user = interaction.user.id if interaction.user and not private else "-"
        log.error(
            "unexpected error ref=%s guild=%s user=%s command=%s where=%s",
            ref,
            interaction.guild_id,
            user,
            command,
            where,
            exc_info=error,
        )
        message = (
            "Something went wrong on my side, sorry. Nothing you did was lost. "
            f"If it keeps happening, give a moderator this reference: `{ref}`."
        )
    try:
        if interaction.response.is_done():
            await interaction.followup.send(
                message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
        else:
            await interaction.response.send_message(
                message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
    except discord.HTTPException as exc:  # the interaction expired or Discord is away
        log.warning("could not deliver an error reply (%s): %s", type(exc).__name__, message)


class HearthTree(app_commands.CommandTree[discord.Client]):
    """The command tree: every slash-command error goes through :func:`reply_error`."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await reply_error(interaction, error)
