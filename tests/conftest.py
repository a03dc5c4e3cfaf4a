"""Shared fixtures: every service test runs on SQLite AND PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from models import Database, create_engine
from models.migrate import upgrade
from tests.dbutil import postgres_admin_url, skip_reason, throwaway_postgres, truncate_all


def pytest_report_header(config: pytest.Config) -> str:
    url = postgres_admin_url()
    return f"PostgreSQL tests: {'on' if url else 'SKIPPED - ' + skip_reason()}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """One migrated throwaway PostgreSQL database for the whole run (None when not set up)."""
    admin = postgres_admin_url()
    if admin is None:
        yield None
        return
    with throwaway_postgres(admin) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, postgres_url: str | None) -> str:
    if backend == "postgresql":
        if postgres_url is None:
            pytest.skip(skip_reason())
        return postgres_url
    return f"sqlite+aiosqlite:///{tmp_path / 'hearth.db'}"


@pytest.fixture
async def db(backend: str, database_url: str) -> AsyncIterator[Database]:
    """A migrated, empty database on each backend."""
    database = Database.from_engine(create_engine(database_url))
    if backend == "postgresql":
        await truncate_all(database)
    else:
        await upgrade(database.engine)
    try:
        yield database
    finally:
        await database.dispose()
