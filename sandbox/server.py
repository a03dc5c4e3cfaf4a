"""The :class:`Sandbox`: one aiohttp server holding all state for one test.

Nothing is global: two sandboxes in one process are fully independent, which keeps tests
parallel-safe and lets the e2e harness run several bots against separate worlds.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from . import permissions as perm
from .errors import SandboxError
from .faults import Faults
from .gateway import GatewayHub, Session
from .guild import Guild
from .interactions import InteractionHub
from .messages import MessageStore
from .snowflakes import SnowflakeGenerator, iso
from .state import (
    JSON,
    AttachmentRecord,
    BotApp,
    ChannelRecord,
    InteractionResponseRecord,
    InviteRecord,
    MessageRecord,
    RequestRecord,
    RoleChange,
    ScheduledEventRecord,
    UserRecord,
)

T = TypeVar("T")
DEFAULT_PRIVILEGED = frozenset({"members"})


class Sandbox:
    """A Discord-compatible server on loopback for end-to-end tests of a discord.py bot."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        interaction_timeout: float = 5.0,
        recommended_shards: int = 1,
        auto_add_bots: bool = True,
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.host = host
        self.port = port
        self.interaction_timeout = interaction_timeout
        #: Discord gives 3 s to acknowledge an interaction and 15 min to use its token.
        self.interaction_ack_deadline = 3.0
        self.interaction_token_ttl = 900.0
        self.recommended_shards = recommended_shards
        self.auto_add_bots = auto_add_bots
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.ids = SnowflakeGenerator()
        self.users: dict[int, UserRecord] = {}
        self.bots: dict[str, BotApp] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, ChannelRecord] = {}
        self.invites: dict[str, InviteRecord] = {}
        self.dm_channels: dict[tuple[int, int], ChannelRecord] = {}
        self.requests: list[RequestRecord] = []
        self.role_changes: list[RoleChange] = []
        self.everyone_pings: list[MessageRecord] = []
        self.interaction_responses: list[InteractionResponseRecord] = []
        self.scheduled_events: list[ScheduledEventRecord] = []
        self.attachments: dict[int, AttachmentRecord] = {}
        self.faults = Faults()
        self.store = MessageStore(self)
        self.gateway = GatewayHub(self)
        self.interactions = InteractionHub(self)
        self._clock_offset = 0.0
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        from .rest import RestApi

        app = web.Application(client_max_size=64 * 1024 * 1024)
        rest = RestApi(self)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_route("*", "/api/v10/{tail:.*}", rest.handle)
        app.router.add_get("/attachments/{id}/{name}", rest.attachment)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    # -- world building -------------------------------------------------------------------
    def create_user(self, name: str, *, bot: bool = False, accepts_dms: bool = True) -> UserRecord:
        user = UserRecord(self.ids.next(), name, bot=bot, accepts_dms=accepts_dms, global_name=name)
        self.users[user.id] = user
        return user

    def create_bot(
        self,
        name: str = "Hearth",
        *,
        privileged_intents: Iterable[str] = DEFAULT_PRIVILEGED,
        token: str | None = None,
    ) -> BotApp:
        """An application with a bot user; added to every guild when ``auto_add_bots``.

        ``privileged_intents`` names what the developer portal toggles allow: any of
        ``"members"``, ``"presences"``, ``"message_content"``; asking for others gets 4014.
        """
        privileged = frozenset(privileged_intents)
        unknown = privileged - {"members", "presences", "message_content"}
        if unknown:
            raise SandboxError(f"unknown privileged intents {sorted(unknown)}")
        user = self.create_user(name, bot=True)
        app = BotApp(
            token=token or f"sandbox.{user.id}.{secrets.token_urlsafe(18)}",
            user=user,
            application_id=user.id,
            name=name,
            privileged_intents=privileged,
        )
        self.bots[app.token] = app
        if self.auto_add_bots:
            for guild in self.guilds.values():
                guild.add_bot(app)
        return app

    def create_guild(self, name: str, owner_name: str = "owner") -> Guild:
        guild = Guild(self, self.ids.next(), name)
        self.guilds[guild.id] = guild
        owner = guild._new_member(owner_name)
        guild.owner_id = owner.user.id
        if self.auto_add_bots:
            for bot in self.bots.values():
                guild.add_bot(bot)
        return guild

    def bot_by_user(self, user_id: int) -> BotApp | None:
        return next((b for b in self.bots.values() if b.user_id == user_id), None)

    def dm_channel(self, bot_user_id: int, user_id: int) -> ChannelRecord:
        key = (bot_user_id, user_id)
        ch = self.dm_channels.get(key)
        if ch is None:
            ch = ChannelRecord(self.ids.next(), 1, "", None, recipient_id=user_id)
            ch.recipient_bot_id = bot_user_id
            self.dm_channels[key] = ch
            self.channels[ch.id] = ch
        return ch

    def channel_payload(self, ch: ChannelRecord) -> JSON:
        if ch.type == 1:
            out = ch.to_payload()
            if ch.recipient_id is not None:
                out["recipients"] = [self.users[ch.recipient_id].to_payload()]
            return out
        assert ch.guild_id is not None
        return self.guilds[ch.guild_id].channel_payload(ch)

    # -- clock ----------------------------------------------------------------------------
    def now(self) -> float:
        """Monotonic seconds, shifted by :meth:`advance_clock` (for token-expiry tests)."""
        return asyncio.get_running_loop().time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Pretend ``seconds`` passed for interaction deadlines, without sleeping."""
        self._clock_offset += seconds

    # -- dispatch -------------------------------------------------------------------------
    def dispatch(
        self,
        event: str,
        data: JSON,
        guild_id: int | None = None,
        *,
        intent: int | None = None,
        only_bots: list[int] | None = None,
        choose: Callable[[int, int], JSON] | None = None,
    ) -> int:
        n = self.gateway.dispatch(
            event, data, guild_id, intent=intent, only_bots=only_bots, choose=choose
        )
        self.notify()
        return n

    def dispatch_guild_create(self, guild: Guild, bot: BotApp) -> None:
        self.gateway.guild_create(guild.id, bot)

    async def drop_gateway(self, bot: BotApp | None = None, code: int = 4000) -> int:
        """Close the bot's socket(s) with a resumable code; events keep buffering for RESUME."""
        return await self.gateway.drop(bot, code)

    async def request_reconnect(self, bot: BotApp | None = None) -> int:
        """Send op 7 RECONNECT to the bot's session(s)."""
        return await self.gateway.reconnect(bot)

    def invalidate_sessions(self, bot: BotApp | None = None) -> None:
        """Make sessions unknown, so a RESUME gets INVALID_SESSION and must re-IDENTIFY."""
        self.gateway.invalidate(bot)

    @property
    def connected(self) -> list[Session]:
        """Live sessions that have been sent READY and their GUILD_CREATEs."""
        return [s for s in self.gateway.sessions.values() if s.connected]

    async def wait_until_connected(
        self,
        bot: BotApp | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - public contract
    ) -> Session:
        def live() -> Session | None:
            return next(
                (s for s in self.connected if bot is None or (s.bot is bot and s.queue.empty())),
                None,
            )

        return await self.wait_for(live, timeout)

    # -- recordings -----------------------------------------------------------------------
    def notify(self) -> None:
        """Wake :meth:`wait_for` callers: something was recorded."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109 - public contract
    ) -> T:
        """Await until ``predicate()`` is truthy and return its value (TimeoutError otherwise)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"sandbox condition not met within {timeout}s")
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))

    def messages(
        self, channel: ChannelRecord | int | Any, *, include_deleted: bool = True
    ) -> list[MessageRecord]:
        """Messages in order of creation (ephemeral ones are not channel messages)."""
        cid = channel if isinstance(channel, int) else channel.id  # also discord.py objects
        recs = self.store.records(cid)
        return recs if include_deleted else [m for m in recs if not m.deleted]

    def message(self, message_id: int) -> MessageRecord:
        return self.store.by_id[message_id]

    def bot_messages(self, channel: ChannelRecord | int) -> list[MessageRecord]:
        return [m for m in self.messages(channel) if self.users[m.author_id].bot]

    # -- scheduled events -----------------------------------------------------------------
    def scheduled_event_payload(self, e: ScheduledEventRecord) -> JSON:
        creator = self.users.get(e.creator_id)
        return {
            "id": str(e.id),
            "guild_id": str(e.guild_id),
            "channel_id": str(e.channel_id) if e.channel_id else None,
            "creator_id": str(e.creator_id),
            "creator": creator.to_payload() if creator else None,
            "name": e.name,
            "description": e.description,
            "scheduled_start_time": e.scheduled_start_time,
            "scheduled_end_time": e.scheduled_end_time,
            "privacy_level": e.privacy_level,
            "status": e.status,
            "entity_type": e.entity_type,
            "entity_id": None,
            "entity_metadata": e.entity_metadata,
            "user_count": len(e.interested),
            "image": e.image,
            "recurrence_rule": e.recurrence_rule,
        }

    def invite_payload(self, inv: InviteRecord) -> JSON:
        guild = self.guilds[inv.guild_id]
        channel = self.channels[inv.channel_id]
        out: JSON = {
            "type": 0,
            "code": inv.code,
            "guild": {
                "id": str(guild.id),
                "name": guild.name,
                "features": [],
                "icon": None,
                "splash": None,
                "banner": None,
                "description": None,
                "verification_level": 0,
                "vanity_url_code": None,
                "nsfw_level": 0,
                "premium_subscription_count": 0,
            },
            "channel": {"id": str(channel.id), "name": channel.name, "type": channel.type},
            "uses": inv.uses,
            "max_uses": inv.max_uses,
            "max_age": inv.max_age,
            "temporary": inv.temporary,
            "created_at": iso(inv.created_at),
            "expires_at": None,
        }
        if inv.inviter_id is not None:
            out["inviter"] = self.users[inv.inviter_id].to_payload()
        return out

    def create_invite(
        self, channel: ChannelRecord, inviter_id: int | None, body: JSON | None = None
    ) -> InviteRecord:
        body = body or {}
        assert channel.guild_id is not None
        inv = InviteRecord(
            code=secrets.token_urlsafe(6).replace("-", "x").replace("_", "y"),
            guild_id=channel.guild_id,
            channel_id=channel.id,
            inviter_id=inviter_id,
            max_age=int(body.get("max_age", 86400)),
            max_uses=int(body.get("max_uses", 0)),
            temporary=bool(body.get("temporary", False)),
            created_at=datetime.now(UTC),
        )
        self.invites[inv.code] = inv
        data = {
            **self.invite_payload(inv),
            "guild_id": str(inv.guild_id),
            "channel_id": str(channel.id),
        }
        self.dispatch("INVITE_CREATE", data, inv.guild_id, intent=1 << 6)
        return inv

    def delete_invite(self, inv: InviteRecord) -> None:
        inv.deleted = True
        self.dispatch(
            "INVITE_DELETE",
            {"channel_id": str(inv.channel_id), "guild_id": str(inv.guild_id), "code": inv.code},
            inv.guild_id,
            intent=1 << 6,
        )

    # -- streaming ------------------------------------------------------------------------
    async def stream_messages(
        self, channel: ChannelRecord, members: list[Any], count: int, content: str = "hello"
    ) -> int:
        """Push ``count`` MESSAGE_CREATEs round-robin from ``members`` as fast as the socket
        drains; payloads are templated once, not built per message. Not recorded in
        ``sb.messages`` (that would dominate a benchmark); returns how many were sent."""
        import json

        assert channel.guild_id is not None
        guild = self.guilds[channel.guild_id]
        templates = []
        for m in members:
            rec = MessageRecord(0, channel.id, guild.id, m.id, content=content)
            body = self.store.payload(rec)
            body["id"] = "@@ID@@"
            body["timestamp"] = "@@TS@@"
            templates.append(json.dumps(body, separators=(",", ":")))
        sessions = list(self.gateway.targets(guild.id, 1 << 9, None))
        ts = iso(datetime.now(UTC))
        sent = 0
        for i in range(count):
            mid = str(self.ids.next())
            raw = templates[i % len(templates)].replace("@@ID@@", mid, 1).replace("@@TS@@", ts, 1)
            for s in sessions:
                s.push("MESSAGE_CREATE", raw)
            sent += 1
            if i % 500 == 499:
                await self._drain(sessions)
        await self._drain(sessions)
        return sent

    async def _drain(self, sessions: list[Session]) -> None:
        for s in sessions:
            if s.ws is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(s.queue.join(), 30)

    # -- helpers used by rest/members -----------------------------------------------------
    def guild_of(self, channel: ChannelRecord) -> Guild | None:
        return self.guilds.get(channel.guild_id) if channel.guild_id is not None else None

    def record_role_change(self, guild_id: int, member_id: int, role_id: int, added: bool) -> None:
        self.role_changes.append(RoleChange(guild_id, member_id, role_id, added))

    def can(
        self, user_id: int, guild: Guild, bits: int, channel: ChannelRecord | None = None
    ) -> bool:
        perms = guild.permissions_for(user_id, channel)
        return bool(perms & perm.ADMINISTRATOR) or perms & bits == bits
