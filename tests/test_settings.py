"""Settings: environment parsing, safe defaults and refusal of unsafe combinations."""

from __future__ import annotations

import dataclasses

import pytest

from inkeep_runtime.errors import ConfigError
from inkeep_runtime.settings import DEFAULT_DATABASE_URL, Settings, is_loopback_host


def test_defaults_are_loopback_and_sqlite() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.database_url) == ("127.0.0.1", 3002, DEFAULT_DATABASE_URL)
    assert settings.admin_token is None
    assert settings.dev is False
    assert settings.max_body_bytes == 1024 * 1024


def test_from_env_reads_every_inkeep_variable() -> None:
    settings = Settings.from_env(
        {
            "INKEEP_HOST": "0.0.0.0",
            "INKEEP_PORT": "8080",
            "INKEEP_DATABASE_URL": "postgresql+asyncpg://u@db/inkeep",
            "INKEEP_ADMIN_TOKEN": "tok",
            "INKEEP_MAX_BODY_BYTES": "4096",
            "INKEEP_SQLITE_BUSY_TIMEOUT_MS": "100",
        }
    )
    assert settings == Settings(
        host="0.0.0.0",
        port=8080,
        database_url="postgresql+asyncpg://u@db/inkeep",
        admin_token="tok",
        max_body_bytes=4096,
        sqlite_busy_timeout_ms=100,
    )


def test_other_variables_are_ignored() -> None:
    assert Settings.from_env({"HOST": "0.0.0.0", "PORT": "x", "INKEEP_UNKNOWN": "1"}) == Settings()


def test_empty_values_mean_the_default() -> None:
    assert Settings.from_env({"INKEEP_PORT": "", "INKEEP_HOST": "", "INKEEP_DEV": ""}) == Settings()


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("YES", True), ("0", False), ("no", False)])
def test_dev_flag_parses_booleans(raw: str, expected: bool) -> None:
    assert Settings.from_env({"INKEEP_DEV": raw}).dev is expected


def test_all_bad_variables_are_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {
                "INKEEP_PORT": "eighty",
                "INKEEP_MAX_BODY_BYTES": "10",
                "INKEEP_SQLITE_BUSY_TIMEOUT_MS": "-1",
                "INKEEP_DEV": "maybe",
                "INKEEP_DATABASE_URL": "mysql://db",
            }
        )
    message = caught.value.detail
    for expected in (
        "INKEEP_PORT='eighty'",
        "INKEEP_MAX_BODY_BYTES='10'",
        "INKEEP_SQLITE_BUSY_TIMEOUT_MS='-1'",
        "INKEEP_DEV='maybe'",
        "'mysql'",
    ):
        assert expected in message


@pytest.mark.parametrize("port", ["-1", "65536"])
def test_port_out_of_range_is_refused(port: str) -> None:
    with pytest.raises(ConfigError, match="INKEEP_PORT"):
        Settings.from_env({"INKEEP_PORT": port})


def test_non_loopback_host_without_token_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"Refusing to bind 0\.0\.0\.0"):
        Settings.from_env({"INKEEP_HOST": "0.0.0.0"})


def test_non_loopback_host_with_token_is_allowed() -> None:
    settings = Settings.from_env({"INKEEP_HOST": "0.0.0.0", "INKEEP_ADMIN_TOKEN": "tok"})
    assert settings.host == "0.0.0.0"


def test_dev_on_non_loopback_is_refused_even_with_token() -> None:
    with pytest.raises(ConfigError, match=r"Refusing --dev on 10\.0\.0\.5"):
        Settings.from_env({"INKEEP_HOST": "10.0.0.5", "INKEEP_ADMIN_TOKEN": "tok", "INKEEP_DEV": "1"})


def test_dev_on_loopback_is_allowed() -> None:
    assert Settings.from_env({"INKEEP_DEV": "1"}).dev is True


def test_overrides_beat_the_environment() -> None:
    settings = Settings.from_env({"INKEEP_PORT": "8080"}, port=9000, host=None)
    assert (settings.port, settings.host) == (9000, "127.0.0.1")


def test_overrides_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="Refusing"):
        Settings.from_env({}, host="192.168.1.2")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "example.com", ""])
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback_host(host)


def test_token_is_not_in_repr() -> None:
    assert "tok-secret" not in repr(Settings(admin_token="tok-secret"))


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]
