"""One bot process for bench/ingest.py: Hearth built by open_hearth, as bot.py builds it.

Reads DISCORD_*/DATABASE_URL from the environment; prints JSON lines on stdout:
{"ready": ...} once connected, {"done": ...} when ``--expect`` events are handled (for
``full``: written to the database), {"final": ...} after a clean close with the row count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import time
from typing import Any

from sqlalchemy import func, select

from bot import open_hearth, start_bot
from cogs._bot import discover_extensions
from models import ActivityEvent
from services.settings import Settings

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def writer_rss_mib(bot: Any) -> float:
    """The activity writer process's memory (ACTIVITY_WRITER=process), 0 without one."""
    writer = bot.recorder.writer
    proc = getattr(writer, "_proc", None)
    return rss_mib(proc.pid) if proc is not None and proc.returncode is None else 0.0


def emit(**data: Any) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def extensions_for(mode: str) -> list[str]:
    hearth = discover_extensions()
    if mode in ("full", "idle"):
        return hearth
    without = [e for e in hearth if e != "cogs.activity"]
    return [*without, "bench.baseline_noop" if mode == "noop" else "bench.baseline_naive"]


class StallMonitor:
    """How late the event loop wakes a 5 ms sleeper: the longest stall members would feel."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.samples: list[float] = []

    async def run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            late = time.perf_counter() - start - 0.005
            self.samples.append(late)
            self.worst = max(self.worst, late)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["full", "noop", "naive", "idle"], required=True)
    parser.add_argument("--expect", type=int, default=0)
    args = parser.parse_args()
    settings = Settings.load(env_file=None)
    async with open_hearth(
        settings,
        extensions=extensions_for(args.mode),
        client_options={"guild_ready_timeout": 0.05, "chunk_guilds_at_startup": True},
    ) as bot:
        runner = asyncio.create_task(start_bot(bot, settings.require_token()))
        await bot.wait_until_ready()
        # Measure once every member is in the cache (chunking can outlast READY on big guilds)
        # and start-up work (member sync) is done: the steady state of an idle bot.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not all(g.chunked for g in bot.guilds):  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # discord.py has no event for "chunking finished"
        await asyncio.sleep(1.0)
        gc.collect()
        members = sum(len(g.members) for g in bot.guilds)
        emit(
            ready=True,
            rss_mib=round(rss_mib(), 1),
            writer_rss_mib=round(writer_rss_mib(bot), 1),
            members=members,
        )
        monitor = StallMonitor()
        stall_task = asyncio.create_task(monitor.run())

        def progress() -> int:
            if args.mode == "full":
                return bot.recorder.recorded
            cog = bot.get_cog("NoopListener") or bot.get_cog("NaiveRecorder")
            return int(getattr(cog, "seen", 0))

        if args.expect:
            first = None
            while progress() < args.expect:
                if first is None and progress() > 0:
                    first = time.perf_counter()
                await asyncio.sleep(0.002)
            emit(done=True, handled=progress())
        else:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        stall_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stall_task
        samples = sorted(monitor.samples) or [0.0]
        stats = {
            "stall_max_ms": round(monitor.worst * 1000, 1),
            "stall_p99_ms": round(samples[int(len(samples) * 0.99) - 1] * 1000, 1),
        }
        await bot.close()
        await runner
        async with bot.db.reading() as session:
            rows = await session.scalar(select(func.count()).select_from(ActivityEvent))
    emit(final=True, db_rows=int(rows or 0), **stats)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
