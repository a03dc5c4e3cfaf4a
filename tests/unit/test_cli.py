"""bot.py as an operator meets it: clear one-line errors, exit status 2, no token leaks."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))}
    clean.update(env)
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_without_token_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DISCORD_TOKEN" in lines[0] and "README" in lines[0]
    assert "Traceback" not in result.stderr


def test_malformed_setting_exits_2_naming_it(tmp_path: Path) -> None:
    result = run_cli("migrate", cwd=tmp_path, LOG_FORMAT="yaml", DISCORD_TOKEN="sekrit.token.x")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hearth: setting LOG_FORMAT: expected one of text, json, got 'yaml'"
    ]
    assert "sekrit" not in result.stdout + result.stderr


def test_migrate_creates_the_sqlite_database_then_backup_copies_it(tmp_path: Path) -> None:
    result = run_cli("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    db = tmp_path / "data" / "hearth.db"
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert {"guild", "member", "scheduled_action", "alembic_version"} <= tables

    backup = run_cli("backup", "--to", str(tmp_path / "copy.db"), cwd=tmp_path)
    assert backup.returncode == 0, backup.stderr
    with sqlite3.connect(tmp_path / "copy.db") as conn:
        assert conn.execute("select count(*) from alembic_version").fetchone() == (1,)


def test_help_lists_every_subcommand(tmp_path: Path) -> None:
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "demo", "migrate", "sync", "backup"):
        assert command in result.stdout


def test_backup_of_postgresql_explains_pg_dump(tmp_path: Path) -> None:
    result = run_cli(
        "backup", cwd=tmp_path, DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1/x"
    )
    assert result.returncode == 0 and "pg_dump" in result.stdout


def test_token_is_redacted_from_log_lines(capsys) -> None:  # type: ignore[no-untyped-def]
    import logging

    from bot import configure_logging
    from services.settings import Settings

    settings = Settings.from_mapping({"DISCORD_TOKEN": "MTk4.secret-token.value"})
    configure_logging(settings)
    logging.getLogger("somewhere").warning("oops, token is %s", "MTk4.secret-token.value")
    err = capsys.readouterr().err
    assert "[redacted]" in err and "secret-token" not in err
    logging.getLogger().handlers.clear()
