"""Shared pieces of the REST layer: the request context, route definitions, JSON responses,
and the lookups every handler uses (which raise Discord's 404s and 403s)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import (
    UNKNOWN_CHANNEL,
    UNKNOWN_GUILD,
    UNKNOWN_MEMBER,
    missing_permissions,
    not_found,
)
from .state import (
    JSON,
    AttachmentRecord,
    BotApp,
    ChannelRecord,
    MemberRecord,
)

if TYPE_CHECKING:
    from .guild import Guild
    from .server import Sandbox

MEMBERS_INTENT = 1 << 1
SCHEDULED_EVENTS_INTENT = 1 << 16
_PARAM_PATTERNS = {
    "emoji": r"[^/]+",
    "token": r"[^/]+",
    "code": r"[^/]+",
    "message_ref": r"\d+|@original",
}


@dataclass
class Ctx:
    """One request as a handler sees it: ints for ``*_id`` params, parsed body, files."""

    request: web.Request
    params: dict[str, Any]
    body: Any
    files: list[AttachmentRecord] = field(default_factory=list)
    bot: BotApp | None = None

    @property
    def json(self) -> JSON:
        return self.body if isinstance(self.body, dict) else {}

    @property
    def me(self) -> BotApp:
        assert self.bot is not None
        return self.bot

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.request.query.get(name, default)


Handler = Callable[[Ctx], Awaitable[Any]]


@dataclass
class RouteDef:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    auth: bool


def compile_route(template: str) -> re.Pattern[str]:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        return f"(?P<{name}>{_PARAM_PATTERNS.get(name, r'[0-9]+')})"

    return re.compile("^" + re.sub(r"\{(\w+)\}", repl, template) + "$")


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Content-Type must be exactly ``application/json``: ``text=`` would append a charset,
    and discord.py then treats the body as text."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


class RestBase:
    """Lookups and permission checks shared by the handler mixins."""

    sb: Sandbox

    # -- lookups --------------------------------------------------------------------------
    def guild(self, guild_id: int, bot: BotApp | None = None) -> Guild:
        g = self.sb.guilds.get(guild_id)
        if g is None or (bot is not None and bot.user_id not in g.bot_ids):
            raise not_found(UNKNOWN_GUILD, "Guild")
        return g

    def channel(self, channel_id: int, bot: BotApp | None = None) -> ChannelRecord:
        ch = self.sb.channels.get(channel_id)
        if ch is None:
            raise not_found(UNKNOWN_CHANNEL, "Channel")
        if bot is not None:
            if ch.type == 1 and ch.recipient_bot_id != bot.user_id:
                raise not_found(UNKNOWN_CHANNEL, "Channel")
            if ch.guild_id is not None and bot.user_id not in self.sb.guilds[ch.guild_id].bot_ids:
                raise not_found(UNKNOWN_CHANNEL, "Channel")
        return ch

    def member(self, guild: Guild, user_id: int) -> MemberRecord:
        m = guild.members.get(user_id)
        if m is None:
            raise not_found(UNKNOWN_MEMBER, "Member")
        return m

    def require(
        self, ctx: Ctx, guild: Guild, bits: int, channel: ChannelRecord | None = None
    ) -> None:
        if not self.sb.can(ctx.me.user_id, guild, bits, channel):
            raise missing_permissions()
