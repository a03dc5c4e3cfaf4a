"""Settings: read once from the environment (and .env) into one frozen, typed object.

Each problem names the variable and what is expected, so an operator can fix it from one line.
The token is wrapped so it cannot leak through a repr, a log line or a traceback.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from dotenv import dotenv_values

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/hearth.db"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(Exception):
    """A setting is missing or malformed. ``str()`` is the one line shown to the operator."""

    def __init__(self, variable: str, expected: str) -> None:
        super().__init__(f"{variable}: {expected}")
        self.variable = variable
        self.expected = expected


class Secret:
    """A string that never shows itself in repr/str (tokens, keys)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    discord_token: Secret = field(default_factory=lambda: Secret(""))
    database_url: str = DEFAULT_DATABASE_URL
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    migrate_on_start: bool = True
    scheduler_tick_seconds: float = 2.0
    activity_retention_days: int = 90
    # Where activity batches are written: "process" (a writer process of its own, which uses
    # a core the bot's main thread cannot) or "inline" (in the bot's process).
    activity_writer: str = "process"
    # Keys the hashes that stand for members in anonymous polls. Never stored in the database:
    # without it, the ballots of an open anonymous poll cannot be tied back to anyone.
    secret_key: Secret = field(default_factory=lambda: Secret(""))

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
    ) -> Settings:
        """Read settings; the process environment wins over ``env_file``."""
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str) -> str | None:
            value = env.get(name)
            if value is None or value.strip() == "":
                return None
            return value.strip()

        if (get("DISCORD_API_BASE") is None) != (get("DISCORD_GATEWAY_URL") is None):
            missing = (
                "DISCORD_GATEWAY_URL"
                if get("DISCORD_GATEWAY_URL") is None
                else ("DISCORD_API_BASE")
            )
            raise SettingsError(
                missing,
                "must be set together with "
                + (
                    "DISCORD_API_BASE"
                    if missing == "DISCORD_GATEWAY_URL"
                    else "DISCORD_GATEWAY_URL"
                )
                + " (both point Hearth at the same Discord-compatible server)",
            )
        shard_count = _parse_int("SHARD_COUNT", get("SHARD_COUNT"), minimum=1)
        shard_ids = _parse_shard_ids(get("SHARD_IDS"), shard_count)
        return cls(
            discord_token=Secret(get("DISCORD_TOKEN") or ""),
            database_url=_parse_database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL),
            dev_guild_id=_parse_int("DEV_GUILD_ID", get("DEV_GUILD_ID"), minimum=1),
            log_level=_parse_choice("LOG_LEVEL", (get("LOG_LEVEL") or "INFO").upper(), _LOG_LEVELS),
            log_format=_parse_choice(
                "LOG_FORMAT", (get("LOG_FORMAT") or "text").lower(), ("text", "json")
            ),
            discord_api_base=_parse_url(
                "DISCORD_API_BASE", get("DISCORD_API_BASE"), ("http", "https")
            ),
            discord_gateway_url=_parse_url(
                "DISCORD_GATEWAY_URL", get("DISCORD_GATEWAY_URL"), ("ws", "wss")
            ),
            shard_count=shard_count,
            shard_ids=shard_ids,
            migrate_on_start=_parse_bool("MIGRATE_ON_START", get("MIGRATE_ON_START"), True),
            scheduler_tick_seconds=_parse_float(
                "SCHEDULER_TICK_SECONDS", get("SCHEDULER_TICK_SECONDS"), 2.0, 0.05, 60.0
            ),
            activity_retention_days=_parse_int(
                "ACTIVITY_RETENTION_DAYS", get("ACTIVITY_RETENTION_DAYS"), minimum=7
            )
            or 90,
            activity_writer=_parse_choice(
                "ACTIVITY_WRITER",
                (get("ACTIVITY_WRITER") or "process").lower(),
                ("process", "inline"),
            ),
            secret_key=Secret(_parse_secret_key(get("SECRET_KEY"))),
        )

    def require_token(self) -> str:
        if not self.discord_token:
            raise SettingsError(
                "DISCORD_TOKEN",
                "not set. Create a bot in the Discord developer portal and put its token in "
                ".env (see README, 'Creating the Discord application'), or try `make demo`, "
                "which needs no token",
            )
        return self.discord_token.reveal()

    @property
    def log_level_number(self) -> int:
        return int(logging.getLevelName(self.log_level))


def _parse_int(name: str, raw: str | None, *, minimum: int) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(name, f"expected a number >= {minimum}, got {value}")
    return value


def _parse_float(name: str, raw: str | None, default: float, low: float, high: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"expected a number of seconds, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(name, f"expected between {low} and {high} seconds, got {value}")
    return value


def _parse_bool(name: str, raw: str | None, default: bool) -> bool:
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingsError(name, f"expected true or false, got {raw!r}")


def _parse_choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise SettingsError(name, f"expected one of {', '.join(choices)}, got {raw!r}")
    return raw


def _parse_url(name: str, raw: str | None, schemes: tuple[str, ...]) -> str | None:
    if raw is None:
        return None
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not parsed.netloc:
        want = " or ".join(f"{s}://" for s in schemes)
        raise SettingsError(name, f"expected a URL starting with {want}, got {raw!r}")
    return raw.rstrip("/")


def _parse_database_url(raw: str) -> str:
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    base = scheme.split("+", 1)[0]
    if base not in ("sqlite", "postgres", "postgresql"):
        raise SettingsError(
            "DATABASE_URL",
            "expected sqlite+aiosqlite:///path/to/hearth.db or "
            f"postgresql+asyncpg://user@host/db, got a URL with scheme {scheme or 'none'!r}",
        )
    return raw


MIN_SECRET_KEY_LENGTH = 32


def _parse_secret_key(raw: str | None) -> str:
    if raw is None:
        return ""
    if len(raw) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(
            "SECRET_KEY",
            f"expected at least {MIN_SECRET_KEY_LENGTH} random characters, got "
            f'{len(raw)}; make one with: python -c "import secrets; '
            'print(secrets.token_urlsafe(32))"',
        )
    return raw


def _parse_shard_ids(raw: str | None, shard_count: int | None) -> tuple[int, ...] | None:
    if raw is None:
        return None
    if shard_count is None:
        raise SettingsError("SHARD_IDS", "needs SHARD_COUNT to be set as well")
    try:
        ids = tuple(int(part) for part in raw.replace(" ", "").split(",") if part)
    except ValueError:
        raise SettingsError(
            "SHARD_IDS", f"expected comma-separated shard numbers like 0,1, got {raw!r}"
        ) from None
    if not ids or any(not 0 <= i < shard_count for i in ids) or len(set(ids)) != len(ids):
        raise SettingsError(
            "SHARD_IDS", f"expected distinct numbers from 0 to {shard_count - 1}, got {raw!r}"
        )
    return ids
