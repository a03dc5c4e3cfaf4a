"""Test databases: a fresh SQLite file per test; a throwaway PostgreSQL database per run.

PostgreSQL comes from TEST_DATABASE_URL. In CI (CI=true) it defaults to the machine's server
and must be reachable: the PostgreSQL half never silently skips there.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from models import Base, Database, create_engine, normalize_url
from models.migrate import upgrade

CI_DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return str(normalize_url(url).render_as_string(hide_password=False))
    if os.environ.get("CI", "").lower() == "true":
        return CI_DEFAULT_PG
    return None


def skip_reason() -> str:
    return "PostgreSQL half skipped: set TEST_DATABASE_URL (e.g. " + CI_DEFAULT_PG + ")"


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextmanager
def throwaway_postgres(admin_url: str, *, migrate: bool = True) -> Iterator[str]:
    """Create a uniquely named database next to ``admin_url``'s, yield its URL, drop it."""
    name = f"hearth_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_database(admin_url, name))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            asyncio.run(_migrate(url))
        yield url
    finally:
        asyncio.run(_drop_database(admin_url, name))


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def truncate_all(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        # A session a previous test left behind (a bot stopped mid-transaction) would hold
        # its locks until the socket closes, and TRUNCATE would wait for it forever.
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def require_postgres() -> str:
    url = postgres_admin_url()
    if url is None:
        pytest.skip(skip_reason())
    return url
