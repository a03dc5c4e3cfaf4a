"""Hearth: composition root and command line.

python bot.py run        the bot, against Discord (token from .env)
python bot.py demo       the sandbox story: no token, no network
python bot.py migrate    upgrade the database to the newest schema
python bot.py sync       register slash commands (--global for production)
python bot.py backup     a consistent copy of the SQLite database, while the bot runs
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord

from cogs._bot import Hearth, redirect_discord
from models import Database, create_engine, normalize_url
from models.migrate import upgrade
from services.activity import ActivityRecorder
from services.activity_writer import ProcessWriter
from services.scheduling import ActionRegistry, ActionTicker, utcnow
from services.settings import Settings, SettingsError

log = logging.getLogger("hearth")

EXIT_CONFIG = 2
EXIT_PORTAL = 3


# ---------------------------------------------------------------------------------------------
# Logging


class _RedactFilter(logging.Filter):
    """Belt and braces: the token never reaches a log line, whoever logs it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "[redacted]")
            record.msg, record.args = message, None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.addFilter(_RedactFilter([settings.discord_token.reveal()]))
    # Hearth never plays audio (voice presence needs no voice libraries): drop that warning.
    handler.addFilter(lambda r: "voice will NOT be supported" not in r.getMessage())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level_number)
    # discord.py logs interaction tokens at DEBUG: never below INFO.
    logging.getLogger("discord").setLevel(max(logging.INFO, settings.log_level_number))
    # One line per tick is noise.
    # One line per tick, and a warning whenever a slow tick makes APScheduler skip one (the
    # next tick picks the work up anyway): noise.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


# ---------------------------------------------------------------------------------------------
# Composition


def worker_id(settings: Settings) -> str:
    shard = ",".join(map(str, settings.shard_ids)) if settings.shard_ids else "-"
    return f"{socket.gethostname()}:{os.getpid()}:{shard}"[:64]


# One garbage collection per 50,000 container allocations instead of 700: discord.py allocates
# a few dozen objects per gateway event, and at the default threshold the collector ran
# hundreds of times a second during a burst, each pass costing more as caches grow. Measured
# in bench/ingest.py: about twice the events per second for the no-op bot and for Hearth.
GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    gc.set_threshold(*GC_THRESHOLDS)


@asynccontextmanager
async def open_hearth(
    settings: Settings,
    *,
    client_options: dict[str, Any] | None = None,
    clock: Callable[[], datetime] = utcnow,
    extensions: list[str] | None = None,
) -> AsyncIterator[Hearth]:
    """Build Hearth and everything it needs; tear it all down on exit.

    Tests, the demo and ``run`` all go through here, so what is tested is what runs.
    ``client_options`` reach discord.py's Client (tests shorten ``guild_ready_timeout``);
    ``clock`` is the one source of "now" for the bot, the ticker and the recorder (tests move it);
    ``extensions`` replaces the discovered cogs (benchmarks swap in their baselines).
    """
    tune_gc()
    restore = redirect_discord(settings.discord_api_base, settings.discord_gateway_url)
    db = Database.from_engine(create_engine(settings.database_url))
    try:
        if settings.migrate_on_start:
            await upgrade(db.engine)
        actions = ActionRegistry()
        ticker = ActionTicker(
            db,
            actions,
            worker_id=worker_id(settings),
            clock=clock,
            shard_count=settings.shard_count,
            shard_ids=settings.shard_ids,
        )
        writer = (
            ProcessWriter(settings.database_url) if settings.activity_writer == "process" else None
        )
        recorder = ActivityRecorder(db, clock=clock, writer=writer)
        bot = Hearth(
            settings=settings,
            db=db,
            actions=actions,
            ticker=ticker,
            recorder=recorder,
            clock=clock,
            extensions=extensions,
            client_options=client_options,
        )
        try:
            async with bot:
                yield bot
        finally:
            # Client.__aexit__ skips close() once the gateway is closed; ours must still finish
            # (the recorder's final flush) before the engine goes.
            await bot.close()
    finally:
        await db.dispose()
        restore()


async def start_bot(bot: Hearth, token: str) -> int:
    """Run until closed. Maps the gateway's refusals to one clear line and an exit status."""
    try:
        await bot.start(token)
    except discord.PrivilegedIntentsRequired:
        print(
            "hearth: Discord refused the connection because the Server Members intent is off. "
            "Turn on 'Server Members Intent' under Bot > Privileged Gateway Intents in the "
            "developer portal (https://discord.com/developers/applications), then start again.",
            file=sys.stderr,
        )
        return EXIT_PORTAL
    except discord.LoginFailure:
        print(
            "hearth: DISCORD_TOKEN was refused by Discord. Reset the bot's token in the "
            "developer portal and put the new one in .env.",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return 0


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    token = settings.require_token()
    if settings.shard_ids and len(settings.shard_ids) > 1:
        raise SettingsError(
            "SHARD_IDS", "one shard per process for now: start one process per shard id"
        )
    if args.no_migrate:
        settings = _replace(settings, migrate_on_start=False)
    async with open_hearth(settings) as bot:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
        return await start_bot(bot, token)


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine, args.revision)
    finally:
        await engine.dispose()
    print(f"hearth: database at {_safe_url(settings.database_url)} is at revision {args.revision}")
    return 0


async def cmd_sync(settings: Settings, args: argparse.Namespace) -> int:
    token = settings.require_token()
    async with open_hearth(settings) as bot:
        await bot.login(token)  # runs setup_hook: extensions load, commands are known
        if args.global_:
            synced = await bot.tree.sync()
            print(
                f"hearth: synced {len(synced)} global commands (Discord may take a while "
                "to show them everywhere)"
            )
        elif settings.dev_guild_id:
            print(f"hearth: commands synced to development guild {settings.dev_guild_id}")
        else:
            print(
                "hearth: set DEV_GUILD_ID to sync to one server, or pass --global", file=sys.stderr
            )
            return EXIT_CONFIG
    return 0


async def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    url = normalize_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        print(
            "hearth: for PostgreSQL use pg_dump, which takes a consistent snapshot while the "
            "bot runs:\n  pg_dump --format=custom --file=hearth-$(date +%F).dump "
            "'postgresql://USER@HOST:5432/DBNAME'\nRestore with pg_restore --clean --dbname=...",
        )
        return 0
    written = await asyncio.to_thread(backup_sqlite_file, Path(url.database or ""), args.to)
    if written is None:
        print(f"hearth: no SQLite database at {url.database}; nothing to back up", file=sys.stderr)
        return EXIT_CONFIG
    print(f"hearth: backup written to {written}")
    return 0


def backup_sqlite_file(source: Path, to: str | None) -> Path | None:
    if not source.is_file():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = Path(to) if to else source.parent / "backups" / f"hearth-{stamp}.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    sqlite_backup(source, target)
    return target


def sqlite_backup(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy even while the bot writes (WAL)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from sandbox.demo import run_demo

    # The transcript is the show: only warnings and errors from the machinery.
    if "LOG_LEVEL" not in os.environ:
        for name in ("", "discord"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return await run_demo(output_dir=Path(args.output))


def _replace(settings: Settings, **changes: object) -> Settings:
    import dataclasses

    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


def _safe_url(url: str) -> str:
    return normalize_url(url).render_as_string(hide_password=True)


# ---------------------------------------------------------------------------------------------
# CLI

Command = Callable[[Settings, argparse.Namespace], Awaitable[int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bot.py", description="Hearth, a Discord bot for micro-communities."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = sub.add_parser("run", help="run the bot against Discord (token from .env)")
    run.add_argument("--no-migrate", action="store_true", help="do not upgrade the database")
    run.set_defaults(handler=cmd_run)
    demo = sub.add_parser("demo", help="play the sandbox story; no token or network needed")
    demo.add_argument("--output", default="demo-output", help="where to write what it shows")
    demo.set_defaults(handler=cmd_demo)
    mig = sub.add_parser("migrate", help="upgrade the database schema")
    mig.add_argument("revision", nargs="?", default="head", help="target revision (head)")
    mig.set_defaults(handler=cmd_migrate)
    sync = sub.add_parser("sync", help="register slash commands with Discord")
    sync.add_argument(
        "--global",
        dest="global_",
        action="store_true",
        help="sync globally (production) instead of to DEV_GUILD_ID",
    )
    sync.set_defaults(handler=cmd_sync)
    backup = sub.add_parser("backup", help="copy the SQLite database safely while running")
    backup.add_argument("--to", help="target file (default data/backups/hearth-<time>.db)")
    backup.set_defaults(handler=cmd_backup)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load()
    except SettingsError as exc:
        print(f"hearth: setting {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings)
    handler: Command = args.handler
    try:
        return asyncio.run(handler(settings, args))
    except SettingsError as exc:
        print(f"hearth: setting {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
