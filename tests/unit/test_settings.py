from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.settings import DEFAULT_DATABASE_URL, Settings, SettingsError


def test_defaults() -> None:
    s = Settings.from_mapping({})
    assert s.database_url == DEFAULT_DATABASE_URL
    assert (s.log_level, s.log_format, s.migrate_on_start) == ("INFO", "text", True)
    assert s.dev_guild_id is None and s.shard_count is None and not s.discord_token


def test_values_are_parsed_and_typed() -> None:
    s = Settings.from_mapping(
        {
            "DISCORD_TOKEN": "abc.def",
            "DEV_GUILD_ID": " 123 ",
            "LOG_LEVEL": "debug",
            "LOG_FORMAT": "JSON",
            "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10/",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/gateway",
            "SHARD_COUNT": "4",
            "SHARD_IDS": "0, 3",
            "MIGRATE_ON_START": "no",
        }
    )
    assert s.require_token() == "abc.def"
    assert s.dev_guild_id == 123 and s.log_level == "DEBUG" and s.log_format == "json"
    assert s.discord_api_base == "http://127.0.0.1:9/api/v10"
    assert s.shard_count == 4 and s.shard_ids == (0, 3) and s.migrate_on_start is False


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL"),
        ({"DEV_GUILD_ID": "my server"}, "DEV_GUILD_ID"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        (
            {"DISCORD_API_BASE": "127.0.0.1:8080", "DISCORD_GATEWAY_URL": "ws://h/g"},
            "DISCORD_API_BASE",
        ),
        (
            {"DISCORD_GATEWAY_URL": "http://127.0.0.1/gw", "DISCORD_API_BASE": "http://h/api"},
            "DISCORD_GATEWAY_URL",
        ),
        ({"DISCORD_API_BASE": "http://127.0.0.1:8080/api/v10"}, "DISCORD_GATEWAY_URL"),
        ({"DISCORD_GATEWAY_URL": "ws://127.0.0.1:8080/gateway"}, "DISCORD_API_BASE"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT"),
        ({"SHARD_IDS": "0"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "2"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,0"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "a"}, "SHARD_IDS"),
        ({"MIGRATE_ON_START": "maybe"}, "MIGRATE_ON_START"),
        ({"SCHEDULER_TICK_SECONDS": "0"}, "SCHEDULER_TICK_SECONDS"),
    ],
)
def test_malformed_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping(env)
    assert info.value.variable == variable
    assert str(info.value).startswith(variable + ":")
    assert "\n" not in str(info.value)


def test_missing_token_explains_how_to_get_one() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping({}).require_token()
    assert info.value.variable == "DISCORD_TOKEN" and "README" in str(info.value)


TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"


@given(st.text(alphabet=TOKEN_ALPHABET, min_size=24, max_size=80))
def test_the_token_never_shows_in_repr(token: str) -> None:
    s = Settings.from_mapping({"DISCORD_TOKEN": token})
    assert s.require_token() == token
    assert token not in repr(s) and token not in str(s.discord_token)


def test_env_file_is_read_and_environment_wins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=WARNING\nDEV_GUILD_ID=5\n")
    s = Settings.load({"DEV_GUILD_ID": "7"}, env_file=env_file)
    assert (s.log_level, s.dev_guild_id) == ("WARNING", 7)


def test_secret_key_is_optional_long_and_never_shown() -> None:
    assert not Settings.from_mapping({}).secret_key
    key = "k3y-" + "x" * 40
    s = Settings.from_mapping({"SECRET_KEY": key})
    assert s.secret_key.reveal() == key and key not in repr(s)
    with pytest.raises(SettingsError) as short:
        Settings.from_mapping({"SECRET_KEY": "too-short"})
    assert short.value.variable == "SECRET_KEY" and "secrets.token_urlsafe" in str(short.value)
    assert "too-short" not in str(short.value)


def test_activity_writer_is_a_process_unless_told_inline() -> None:
    assert Settings.from_mapping({}).activity_writer == "process"
    assert Settings.from_mapping({"ACTIVITY_WRITER": "Inline"}).activity_writer == "inline"
    with pytest.raises(SettingsError) as bad:
        Settings.from_mapping({"ACTIVITY_WRITER": "thread"})
    assert bad.value.variable == "ACTIVITY_WRITER"
