"""Helpers to point an unmodified discord.py client at a sandbox, for tests and the e2e harness.

discord.py has no supported way to change its endpoints; ``Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY`` are class attributes. :func:`redirect_discord` is the single
place that touches them, so if discord.py moves them one guard test fails loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

if TYPE_CHECKING:
    from .server import Sandbox


def redirect_discord(api_base: str, gateway_url: str) -> Callable[[], None]:
    """Send discord.py's REST and gateway traffic to ``api_base``/``gateway_url``.

    Returns a callable that restores the previous values. Process-wide (class attributes):
    run one redirected client set at a time.
    """
    route_cls = discord.http.Route
    ws_cls = discord.gateway.DiscordWebSocket
    if not isinstance(getattr(route_cls, "BASE", None), str):
        raise RuntimeError("discord.http.Route.BASE moved; the sandbox redirect needs updating")
    if not isinstance(getattr(ws_cls, "DEFAULT_GATEWAY", None), yarl.URL):
        raise RuntimeError(
            "discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY moved; the redirect needs updating"
        )
    old_base, old_gateway = route_cls.BASE, ws_cls.DEFAULT_GATEWAY
    route_cls.BASE = api_base
    ws_cls.DEFAULT_GATEWAY = yarl.URL(gateway_url)

    def restore() -> None:
        route_cls.BASE = old_base
        ws_cls.DEFAULT_GATEWAY = old_gateway

    return restore


@contextlib.asynccontextmanager
async def run_client(
    sb: Sandbox,
    client: discord.Client,
    token: str,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - a startup deadline, not a cancel scope
) -> AsyncIterator[discord.Client]:
    """Redirect discord.py, start ``client`` in a task, wait for ``on_ready``; close and restore
    on exit. Fails with the client's own exception if it dies while connecting (bad token,
    4014 disallowed intents...)."""
    restore = redirect_discord(sb.api_base, sb.gateway_url)
    task = asyncio.create_task(client.start(token), name="sandbox-client")
    try:
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            ready.cancel()
            task.result()  # raises the client's error
            raise RuntimeError("client stopped before it became ready")
        if ready not in done:
            ready.cancel()
            raise TimeoutError(f"client not ready within {timeout}s")
        yield client
    finally:
        with contextlib.suppress(Exception):
            await client.close()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        restore()


class RecordingClient(discord.Client):
    """A bare discord.py client that records every event it dispatches (for sandbox tests).

    Has an app-command ``tree`` and a short ``guild_ready_timeout`` so tests start fast.
    """

    def __init__(self, *, intents: discord.Intents | None = None, **kwargs: Any) -> None:
        if intents is None:
            intents = discord.Intents.default()
            intents.members = True
        kwargs.setdefault("guild_ready_timeout", 0.1)
        super().__init__(intents=intents, **kwargs)
        self.tree: app_commands.CommandTree[RecordingClient] = app_commands.CommandTree(self)
        self.events: list[tuple[str, tuple[Any, ...]]] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every non-initial IDENTIFY; the sandbox needs no
        IDENTIFY spacing, so tests re-identify immediately."""
        return None

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        self.events.append((event, args))
        super().dispatch(event, *args, **kwargs)

    def seen(self, name: str) -> list[tuple[Any, ...]]:
        """Argument tuples of every ``name`` event so far (``"message"``, ``"member_join"``...)."""
        return [args for ev, args in self.events if ev == name]
