"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQLite needs care to be correct under concurrency:
- Python's sqlite3 does not emit BEGIN before a SELECT, so a read-then-write "transaction" is
  not one (measured: a 50-seat event overbooked to 63). We take over BEGIN ourselves with
  SQLAlchemy's documented recipe (isolation_level=None on the DBAPI connection plus a "begin"
  event hook).
- A deferred BEGIN that later upgrades to a write lock fails with "database is locked" when two
  writers race; writing transactions therefore start with BEGIN IMMEDIATE, which waits on the
  busy timeout instead. Reads stay deferred so they never block writers (WAL).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "hearth_sqlite_begin"


def normalize_url(raw: str) -> URL:
    """Accept the URLs people paste and pick the async driver for them.

    ``postgres://`` and ``postgresql://`` become ``postgresql+asyncpg://``; ``sqlite://`` becomes
    ``sqlite+aiosqlite://``. Anything else is returned as given.
    """
    raw = re.sub(r"^postgres(ql)?://", "postgresql+asyncpg://", raw)
    raw = re.sub(r"^sqlite://", "sqlite+aiosqlite://", raw)
    return make_url(raw)


def backend_name(url: URL) -> str:
    return "PostgreSQL" if url.get_backend_name() == "postgresql" else "SQLite"


def dialect_insert(session: AsyncSession) -> Any:
    """The dialect's ``insert`` (PostgreSQL or SQLite): both have ON CONFLICT and RETURNING."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand BEGIN over to us (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_engine(url: str | URL, *, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for ``url`` with Hearth's settings for that backend."""
    url = normalize_url(url) if isinstance(url, str) else url
    if url.get_backend_name() == "sqlite":
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        _install_sqlite_hooks(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_async_engine(url, echo=echo, pool_pre_ping=True, **kwargs)


@dataclass(frozen=True)
class Database:
    """The engine plus two session factories: one for reading, one for writing.

    Use one session per task (per interaction, per scheduled action) and never keep a
    transaction open across a Discord API call.
    """

    engine: AsyncEngine
    _read: async_sessionmaker[AsyncSession]
    _write: async_sessionmaker[AsyncSession]
    # SQLite has one writer at a time anyway. Queuing this process's writers here, rather than
    # in SQLite's busy handler (which sleeps in steps of up to 100 ms), keeps writes fast under
    # concurrency; other processes still wait on the busy timeout. Never nest writing().
    _write_lock: asyncio.Lock | None = field(default=None)

    @classmethod
    def from_engine(cls, engine: AsyncEngine) -> Database:
        writer = engine
        if engine.url.get_backend_name() == "sqlite":
            writer = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        return cls(
            engine=engine,
            _read=async_sessionmaker(engine, expire_on_commit=False),
            _write=async_sessionmaker(writer, expire_on_commit=False),
            _write_lock=asyncio.Lock() if engine.url.get_backend_name() == "sqlite" else None,
        )

    @property
    def backend(self) -> str:
        return backend_name(self.engine.url)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; its transaction is rolled back at the end."""
        async with self._read() as session:
            yield session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session in one writing transaction, committed on success, rolled back on error.

        On SQLite this starts with BEGIN IMMEDIATE so a read-then-write use case is atomic.
        """
        if self._write_lock is None:
            async with self._write() as session, session.begin():
                yield session
            return
        async with self._write_lock, self._write() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
