"""The migrations are the schema: they go up and down on both backends and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from models import Base, create_engine
from models.migrate import current_revision, downgrade, head_revision, upgrade
from tests.dbutil import require_postgres, throwaway_postgres


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "render_as_batch": True}
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def _round_trip(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
            diff = await conn.run_sync(_diff)
        assert diff == [], f"models and migrations disagree; write a migration: {diff}"
        await downgrade(engine, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_sqlite_upgrade_downgrade_upgrade_and_models_match(tmp_path) -> None:  # type: ignore[no-untyped-def]
    await _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


def test_postgresql_upgrade_downgrade_upgrade_and_models_match() -> None:
    import asyncio

    admin = require_postgres()
    with throwaway_postgres(admin, migrate=False) as url:
        asyncio.run(_round_trip(url))
