"""The Hearth bot class: receives its dependencies, loads every extension, runs the ticker."""

from __future__ import annotations

import asyncio
import gc
import logging
import pkgutil
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from discord import app_commands
from discord.ext import commands

import cogs
from cogs._errors import HearthTree, NotModeratorError
from models import Database
from services import digest, guilds
from services.activity import ActivityRecorder, ensure_guild_row
from services.scheduling import ActionRegistry, ActionTicker, utcnow
from services.settings import Settings

log = logging.getLogger(__name__)

VERSION = "0.1.0"


def hearth_intents() -> discord.Intents:
    """What Hearth listens to. Not message content (we count, never read) nor presences."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.members = True  # privileged: joins, leaves, screening
    intents.guild_messages = True
    intents.guild_reactions = True
    intents.voice_states = True
    intents.guild_scheduled_events = True
    return intents


# What the README's invite URL asks for, and why (each is explained there).
REQUIRED_PERMISSIONS = discord.Permissions(
    manage_roles=True,
    manage_guild=True,
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    read_message_history=True,
    manage_events=True,
)


def redirect_discord(api_base: str | None, gateway_url: str | None) -> Callable[[], None]:
    """Point discord.py at a Discord-compatible server (the sandbox, a self-hosted one).

    discord.py has no public setting for this; the one function that touches its class
    attributes (with a guard that fails loudly if a discord.py upgrade moves them) lives in
    sandbox.testing. Against Discord itself nothing is touched. Returns a restore function.
    """
    if not api_base or not gateway_url:
        return lambda: None
    from sandbox.testing import redirect_discord as redirect

    return redirect(api_base.rstrip("/"), gateway_url)


def discover_extensions() -> list[str]:
    """Every module or package under cogs/ not starting with ``_``."""
    return sorted(
        f"cogs.{m.name}" for m in pkgutil.iter_modules(cogs.__path__) if not m.name.startswith("_")
    )


class Hearth(commands.Bot):
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        actions: ActionRegistry,
        ticker: ActionTicker,
        recorder: ActivityRecorder,
        clock: Callable[[], datetime] = utcnow,
        extensions: list[str] | None = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        shard: dict[str, Any] = {}
        if settings.shard_count is not None:
            shard = {"shard_count": settings.shard_count}
            if settings.shard_ids:
                shard["shard_id"] = settings.shard_ids[0]
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=hearth_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=HearthTree,
            # Hearth reads no message cache (reactions come as raw events): don't keep one.
            max_messages=None,
            **shard,
            **(client_options or {}),
        )
        self.settings = settings
        self.db = db
        self.actions = actions
        self.ticker = ticker
        self.recorder = recorder
        self.clock = clock
        # Run after the gateway closes and before the recorder's final flush (e.g. the
        # activity cog ends open voice sessions here).
        self.shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        self._closing: asyncio.Future[None] | None = None
        self.extensions_to_load = extensions if extensions is not None else discover_extensions()
        self.started_monotonic = time.monotonic()
        self.scheduler = AsyncIOScheduler(timezone=UTC)

    async def setup_hook(self) -> None:
        await self.recorder.start()
        for extension in self.extensions_to_load:
            await self.load_extension(extension)
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.settings.scheduler_tick_seconds,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
            id="hearth-ticker",
        )
        self.scheduler.start()
        if self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to development guild %s", len(synced), guild.id)

    async def on_message(self, message: discord.Message) -> None:
        """Hearth has no prefix commands: skip commands.Bot's per-message command parsing."""

    async def _tick(self) -> None:
        # Handlers talk to Discord: wait for the gateway before running anything.
        if self.is_ready():
            await self.ticker.tick()

    async def on_ready(self) -> None:
        # The member and channel caches are loaded and will live as long as the process: move
        # them out of the collector's way, so full collections stop re-scanning them.
        gc.freeze()
        log.info(
            "connected as %s (%s) to %d guild(s)",
            self.user,
            self.user and self.user.id,
            len(self.guilds),
        )

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.remember_guild(guild)

    async def remember_guild(self, guild: discord.Guild) -> None:
        async with self.db.writing() as session:
            await guilds.ensure_guild(session, guild_id=guild.id, name=guild.name, now=self.clock())

    async def close(self) -> None:
        """Shut down in order, once: every caller (SIGTERM, ``async with``) waits for the end.

        Stop claiming work, let running handlers finish, close the gateway (no more events),
        run shutdown hooks (open voice sessions become records), then flush the recorder.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close_in_order())
        await asyncio.shield(self._closing)

    async def _close_in_order(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.ticker.close()
        await super().close()
        for hook in self.shutdown_hooks:
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook %r failed", hook)
        await self.recorder.close()

    async def set_server_timezone(self, guild_id: int, name: str) -> str:
        """The server's time zone (weeks, event times, the digest's send time): saved, the
        digest rescheduled to the new wall clock, the recorder told. Returns the zone's name."""
        now = self.clock()
        async with self.db.writing() as session:
            await ensure_guild_row(session, guild_id, now)
            zone = await guilds.set_timezone(session, guild_id=guild_id, name=name, now=now)
            await digest.set_schedule(session, guild_id=guild_id, now=now)
        self.recorder.set_timezone(guild_id, ZoneInfo(zone))
        return zone

    async def is_moderator(self, member: discord.Member) -> bool:
        """Manage Server (or admin), or the server's configured moderator role.

        Checked at run time on every moderator command: default_permissions is only a hint
        that server admins can override.
        """
        perms = member.guild_permissions
        if perms.administrator or perms.manage_guild:
            return True
        async with self.db.reading() as session:
            settings = await guilds.get_guild_settings(session, member.guild.id)
        return settings.moderator_role_id is not None and any(
            role.id == settings.moderator_role_id for role in member.roles
        )


def moderator_only() -> Callable[[Any], Any]:
    """An app-command check: only moderators (see :meth:`Hearth.is_moderator`)."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild is None or not isinstance(interaction.user, discord.Member):
            raise app_commands.NoPrivateMessage()
        client = interaction.client
        assert isinstance(client, Hearth)
        if await client.is_moderator(interaction.user):
            return True
        raise NotModeratorError(
            "Only moderators can use this: it needs the Manage Server permission or the "
            "server's moderator role."
        )

    return app_commands.check(predicate)
