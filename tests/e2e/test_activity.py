"""Participation through the sandbox ends up in the database: counted, never read."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from models import (
    ActivityDaily,
    ActivityEvent,
    ActivityKind,
    Member,
    MembershipEvent,
    MembershipKind,
)
from sandbox import Sandbox
from tests.e2e.conftest import World

ROOT = Path(__file__).resolve().parents[2]


async def rollup(world: World, user_id: int) -> dict[str, int]:
    async with world.db.reading() as s:
        rows = (
            await s.scalars(
                select(ActivityDaily).where(
                    ActivityDaily.guild_id == world.guild.id, ActivityDaily.user_id == user_id
                )
            )
        ).all()
    total: dict[str, int] = {}
    for row in rows:
        for col in (
            "messages",
            "activity_blocks",
            "reactions_given",
            "reactions_received",
            "voice_seconds",
            "active",
        ):
            total[col] = total.get(col, 0) + getattr(row, col)
    return total


async def test_chat_reactions_and_voice_are_recorded(world: World) -> None:
    start = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # last week, replayed "in the past"
    first = await world.alice.say(world.general, "hello all", at=start)
    await world.alice.say(world.general, "anyone around?", at=start + timedelta(minutes=2))
    await world.alice.say(world.general, "later then", at=start + timedelta(minutes=25))
    await world.bob.react(first, "👋")
    await world.alice.react(first, "🎉")  # her own message: given, not received
    await world.alice.join_voice(world.lounge)
    await world.bob.join_voice(world.lounge)
    await world.settle()
    world.clock.advance(minutes=30)
    await world.bob.leave_voice()
    await world.settle()

    alice = await rollup(world, world.alice.id)
    assert alice["messages"] == 3 and alice["activity_blocks"] == 2  # 18:00-18:10, 18:20-18:30
    assert alice["reactions_received"] == 1 and alice["reactions_given"] == 1
    bob = await rollup(world, world.bob.id)
    assert bob["reactions_given"] == 1 and bob["voice_seconds"] // 60 == 30
    async with world.db.reading() as s:
        day = await s.scalar(
            select(ActivityDaily.day).where(
                ActivityDaily.user_id == world.alice.id, ActivityDaily.messages > 0
            )
        )
        when = await s.scalar(
            select(func.min(ActivityEvent.occurred_at)).where(
                ActivityEvent.user_id == world.alice.id,
                ActivityEvent.kind == int(ActivityKind.MESSAGE),
            )
        )
    assert day == date(2026, 11, 23) and when == start  # time from the snowflake

    # Alice is still in voice, with nobody: her 30 minutes with Bob are counted when she leaves
    world.clock.advance(minutes=10)
    await world.alice.leave_voice()
    await world.settle()
    assert (await rollup(world, world.alice.id))["voice_seconds"] // 60 == 30


async def test_bots_are_not_recorded_and_membership_changes_are(world: World) -> None:
    helper_bot = world.guild.add_member("otherbot", bot=True)
    await helper_bot.say(world.general, "beep")
    dave = await world.guild.join("dave")
    await dave.say(world.general, "hi, I'm new")
    await dave.leave()
    await world.settle()
    assert await rollup(world, helper_bot.id) == {}
    assert (await rollup(world, dave.id))["messages"] == 1
    async with world.db.reading() as s:
        kinds = (
            await s.scalars(
                select(MembershipEvent.kind)
                .where(MembershipEvent.user_id == dave.id)
                .order_by(MembershipEvent.id)
            )
        ).all()
        member = await s.get(Member, (world.guild.id, dave.id))
        bot_member = await s.get(Member, (world.guild.id, helper_bot.id))
    assert kinds == [MembershipKind.JOINED, MembershipKind.LEFT]
    assert member is not None and member.left_at is not None
    assert bot_member is not None and bot_member.is_bot


def _bot_env(sb: Sandbox, app: Any, guild: Any, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))}
    return env | {
        "DISCORD_TOKEN": app.token,
        "DATABASE_URL": database_url,
        "DISCORD_API_BASE": sb.api_base,
        "DISCORD_GATEWAY_URL": sb.gateway_url,
        "DEV_GUILD_ID": str(guild.id),
        "LOG_LEVEL": "INFO",
    }


async def test_a_hard_kill_loses_at_most_the_last_second(
    sandbox: Sandbox, clean_database_url: str, tmp_path: Path
) -> None:
    """SIGKILL (no shutdown at all): what was flushed is there, and the writer process,
    its pipe closed, finishes its batch and exits rather than linger as an orphan."""
    sb = sandbox
    app = sb.create_bot("Hearth")
    guild = sb.create_guild("Kill")
    channel = guild.create_channel("general")
    members = [guild.add_member(f"m{i}") for i in range(10)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bot.py"),
        "run",
        cwd=tmp_path,
        env=_bot_env(sb, app, guild, clean_database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        await sb.wait_until_connected(app, timeout=30)
        await sb.wait_for(lambda: app.guild_commands.get(guild.id), timeout=30)
        writers = _writer_pids(proc.pid)
        assert writers, "bot.py run starts its activity writer process"
        for i in range(500):
            await members[i % 10].say(channel, "x")
        await members[0].slash("hearth about", answer_timeout=30)  # all handled
        await asyncio.sleep(2.5)  # more than a flush interval: all of it flushed
        proc.kill()
        await proc.wait()
        for _ in range(100):  # the writer sees its pipe close and exits
            if not _alive(writers):
                break
            await asyncio.sleep(0.05)
        assert not _alive(writers)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    from models import Database, create_engine

    db = Database.from_engine(create_engine(clean_database_url))
    try:
        async with db.reading() as s:
            events = await s.scalar(select(func.count()).select_from(ActivityEvent))
    finally:
        await db.dispose()
    assert events == 500


def _alive(pids: list[int]) -> bool:
    return any(os.path.exists(f"/proc/{pid}") for pid in pids)


def _writer_pids(parent: int) -> list[int]:
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if f"PPid:\t{parent}\n" in text and b"services.activity_writer" in cmdline:
            pids.append(int(status.parent.name))
    return pids


async def test_sigterm_mid_burst_loses_nothing(
    sandbox: Sandbox, clean_database_url: str, tmp_path: Path
) -> None:
    """The real process (python bot.py run) gets SIGTERM with records still buffered."""
    sb = sandbox
    app = sb.create_bot("Hearth")
    guild = sb.create_guild("Burst")
    channel = guild.create_channel("general")
    members = [guild.add_member(f"m{i}") for i in range(20)]
    env = _bot_env(sb, app, guild, clean_database_url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bot.py"),
        "run",
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        await sb.wait_until_connected(app, timeout=30)
        await sb.wait_for(lambda: app.guild_commands.get(guild.id), timeout=30)
        total = 3_000
        for i in range(total):
            await members[i % 20].say(channel, "x")
        # An interaction after the burst: once answered, every message before it was handled.
        await members[0].slash("hearth about", answer_timeout=30)
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    from models import Database, create_engine

    db = Database.from_engine(create_engine(clean_database_url))
    try:
        async with db.reading() as s:
            events = await s.scalar(select(func.count()).select_from(ActivityEvent))
            messages = await s.scalar(select(func.sum(ActivityDaily.messages)))
    finally:
        await db.dispose()
    assert events == total and messages == total, err.decode()[-3000:]


async def test_activity_through_the_writer_process(world: World) -> None:
    """As `bot.py run` does by default (ACTIVITY_WRITER=process): the same numbers."""
    from dataclasses import replace

    from sqlalchemy import func, select

    from models import ActivityDaily, ActivityEvent
    from sandbox.hearth_runner import running_hearth

    await world._runner.__aexit__(None, None, None)
    settings = replace(world.bot.settings, activity_writer="process")
    world._runner = running_hearth(world.sb, settings, clock=world.clock)
    world.bot = await world._runner.__aenter__()
    assert world.bot.recorder.writer is not None and world.bot.recorder.writer.alive
    for i in range(30):
        await world.alice.say(world.general, f"hello {i}")
    await world.bob.say(world.general, "hi")
    await world.settle()
    async with world.db.reading() as s:
        events = await s.scalar(select(func.count()).select_from(ActivityEvent))
        messages = await s.scalar(select(func.sum(ActivityDaily.messages)))
    assert events == 31 and messages == 31
    writer = world.bot.recorder.writer
    await world.restart()  # closing hands the writer its last batch, then stops it
    assert not writer.alive
