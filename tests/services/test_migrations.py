"""The migrations are the schema: they go up and down on both backends and match the models."""

from __future__ import annotations

from datetime import date, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
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


async def _backfill(url: str) -> None:
    """0003 fills the weekly rollups and last_active_day from daily rollups already there."""
    engine = create_engine(url)
    try:
        await upgrade(engine, "0002")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO guild (id, name, timezone, features, created_at, updated_at) "
                    "VALUES (1, 'g', 'UTC', '{}', :t, :t)"
                ),
                {"t": datetime(2026, 11, 1)},  # stored naive UTC
            )
            await conn.execute(
                text(
                    "INSERT INTO member (guild_id, user_id, is_bot, tracking_opt_out, dm_closed, "
                    "created_at, updated_at) VALUES (1, 7, false, false, false, :t, :t), "
                    "(1, 8, false, false, false, :t, :t)"
                ),
                {"t": datetime(2026, 11, 1)},  # stored naive UTC
            )
            # Sunday 29 Nov, Monday 30 Nov and Wednesday 2 Dec: two ISO weeks.
            for day, messages, reactions_received, active in [
                (date(2026, 11, 29), 3, 0, 1),
                (date(2026, 11, 30), 2, 0, 1),
                (date(2026, 12, 2), 0, 4, 0),
            ]:
                await conn.execute(
                    text(
                        "INSERT INTO activity_daily (guild_id, user_id, day, messages, "
                        "reactions_received, active) VALUES (1, 7, :d, :m, :r, :a)"
                    ),
                    {"d": day, "m": messages, "r": reactions_received, "a": active},
                )
        await upgrade(engine)
        async with engine.connect() as conn:
            weekly = (
                await conn.execute(
                    text(
                        "SELECT week, messages, reactions_received, active_days, talk_days "
                        "FROM activity_weekly ORDER BY week"
                    )
                )
            ).all()
            last = dict(
                (await conn.execute(text("SELECT user_id, last_active_day FROM member"))).all()
            )
        # Plain text() hands SQLite's stored date text back as is.
        assert [(date.fromisoformat(str(r[0])), *r[1:]) for r in weekly] == [
            (date(2026, 11, 23), 3, 0, 1, 1),
            (date(2026, 11, 30), 2, 4, 1, 1),
        ]
        assert {u: None if d is None else date.fromisoformat(str(d)) for u, d in last.items()} == {
            7: date(2026, 11, 30),
            8: None,
        }
    finally:
        await engine.dispose()


async def test_sqlite_0003_backfills_weekly_rollups(tmp_path) -> None:  # type: ignore[no-untyped-def]
    await _backfill(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")


def test_postgresql_0003_backfills_weekly_rollups() -> None:
    import asyncio

    admin = require_postgres()
    with throwaway_postgres(admin, migrate=False) as url:
        asyncio.run(_backfill(url))
