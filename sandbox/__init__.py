"""A Discord-compatible server on loopback for end-to-end tests of discord.py bots.

See docs/sandbox.md. Public entry points: :class:`Sandbox`, :func:`redirect_discord`,
:func:`run_client`.
"""

from .errors import ApiError, InteractionTimeout, SandboxError
from .guild import Guild
from .interactions import InteractionResult
from .members import ScriptedMember
from .server import Sandbox
from .state import BotApp, ChannelRecord, MessageRecord, RoleRecord
from .testing import RecordingClient, redirect_discord, run_client

__all__ = [
    "ApiError",
    "BotApp",
    "ChannelRecord",
    "Guild",
    "InteractionResult",
    "InteractionTimeout",
    "MessageRecord",
    "RecordingClient",
    "RoleRecord",
    "Sandbox",
    "SandboxError",
    "ScriptedMember",
    "redirect_discord",
    "run_client",
]
