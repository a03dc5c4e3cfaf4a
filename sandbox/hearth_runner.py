"""Run the real Hearth against a sandbox, exactly as ``bot.py run`` builds it.

Used by the end-to-end tests, the benchmarks and ``bot.py demo``. The only differences from
production are the settings (the sandbox's URLs, a test database, a fast scheduler tick) and a
short ``guild_ready_timeout`` so start-up does not wait 2 s for guilds that will not come.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cogs._bot import Hearth
    from sandbox.guild import Guild
    from sandbox.server import Sandbox
    from sandbox.state import BotApp
    from services.settings import Settings


def sandbox_settings(
    sb: Sandbox,
    app: BotApp,
    database_url: str,
    *,
    dev_guild: Guild | None = None,
    **changes: object,
) -> Settings:
    from services.settings import Secret, Settings

    settings = Settings(
        discord_token=Secret(app.token),
        database_url=database_url,
        discord_api_base=sb.api_base,
        discord_gateway_url=sb.gateway_url,
        dev_guild_id=dev_guild.id if dev_guild is not None else None,
        scheduler_tick_seconds=0.2,
        # In-process activity writes: a writer process per start would slow every test; the
        # writer process has tests of its own (tests/services/test_activity_writer.py).
        activity_writer="inline",
        # A fixed key is fine here: the sandbox's data is throwaway. Real deployments make one.
        secret_key=Secret("sandbox-only-secret-key-not-for-real-use"),
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_hearth(
    sb: Sandbox,
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    ready_within: float = 15.0,
) -> AsyncIterator[Hearth]:
    """Start Hearth in a task, wait until it is ready (commands synced); close it on exit."""
    from bot import open_hearth, start_bot

    options: dict[str, Any] = {"client_options": {"guild_ready_timeout": 0.05}}
    if clock is not None:
        options["clock"] = clock
    async with open_hearth(settings, **options) as bot:
        task = asyncio.create_task(start_bot(bot, settings.require_token()), name="hearth")
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait(
            {task, ready}, timeout=ready_within, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if task in done:
                raise RuntimeError(f"Hearth stopped while connecting (exit {task.result()})")
            await bot.close()
            raise TimeoutError(f"Hearth was not ready within {ready_within}s")
        try:
            yield bot
        finally:
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)


class MovableClock:
    """Wall-clock time that a test or the demo can move forward (voice minutes, deadlines)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> datetime:
        from datetime import UTC, timedelta

        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.offset += timedelta(**delta).total_seconds()
