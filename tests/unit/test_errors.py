"""Every kind of failure maps to a plain sentence; only the unexpected is logged with a code."""

from __future__ import annotations

import pytest
from discord import app_commands

from cogs._errors import NotModeratorError, describe_error
from services.errors import DomainError, InvalidInputError


class Boom(RuntimeError):
    pass


def invoke_error(original: Exception) -> app_commands.CommandInvokeError:
    command = app_commands.Command(name="x", description="x", callback=_cb)
    err = app_commands.CommandInvokeError(command, original)
    err.__cause__ = original
    return err


async def _cb(interaction) -> None:  # type: ignore[no-untyped-def]
    return None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (DomainError("Polls need at least two options."), "Polls need at least two options."),
        (invoke_error(InvalidInputError("Use 30m, 2h or 3d.")), "Use 30m, 2h or 3d."),
        (app_commands.MissingPermissions(["manage_guild"]), "Manage Server"),
        (app_commands.BotMissingPermissions(["manage_roles", "send_messages"]), "Manage Roles"),
        (app_commands.CommandOnCooldown(app_commands.Cooldown(1, 30), 12.0), "try again <t:"),
        (app_commands.NoPrivateMessage(), "inside a server"),
        (NotModeratorError("Only moderators can use this."), "Only moderators"),
    ],
)
def test_expected_errors_become_plain_sentences(error: Exception, expected: str) -> None:
    message, unexpected = describe_error(error)
    assert expected in message and not unexpected


def test_unexpected_errors_are_flagged_for_a_reference_code() -> None:
    message, unexpected = describe_error(invoke_error(Boom("db exploded")))
    assert unexpected and message == ""
    message, unexpected = describe_error(Boom("raw"))
    assert unexpected
