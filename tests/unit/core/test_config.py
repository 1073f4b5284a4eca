"""Settings are validated at start-up with a message naming each bad variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityops.core.config import DEFAULT_SECRET, ConfigError, Profile, load_settings


def test_defaults_use_a_sqlite_file_under_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'cityops.sqlite3').resolve()}"
    assert settings.port == 8000


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_PORT", "9001")
    monkeypatch.setenv("CITYOPS_TIMEZONE", "Europe/Paris")
    settings = load_settings()
    assert (settings.port, settings.timezone) == (9001, "Europe/Paris")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CITYOPS_PORT", "70000", "CITYOPS_PORT"),
        ("CITYOPS_PORT", "eighty", "CITYOPS_PORT"),
        ("CITYOPS_TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("CITYOPS_DEFAULT_LOCALE", "fr", "CITYOPS_DEFAULT_LOCALE"),
        ("CITYOPS_DATABASE_URL", "mysql://x", "CITYOPS_DATABASE_URL"),
        ("CITYOPS_SLA_WARNING_RATIO", "1.5", "CITYOPS_SLA_WARNING_RATIO"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_postgres_urls_get_the_psycopg_driver() -> None:
    settings = load_settings(database_url="postgresql://u@h/db")
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ConfigError, match="CITYOPS_SECRET_KEY"):
        load_settings(profile=Profile.production, secret_key=DEFAULT_SECRET)
    with pytest.raises(ConfigError, match="32"):
        load_settings(profile=Profile.production, secret_key="short")


def test_production_refuses_demo_credentials() -> None:
    with pytest.raises(ConfigError, match="demo"):
        load_settings(profile=Profile.production, secret_key="x" * 40, demo_password="pw")


def test_production_accepts_a_real_secret() -> None:
    settings = load_settings(profile=Profile.production, secret_key="k" * 40)
    assert settings.profile is Profile.production


def test_toml_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cityops.toml"
    path.write_text('[cityops]\nport = 8123\nhost = "0.0.0.0"\n', encoding="utf-8")
    monkeypatch.setenv("CITYOPS_CONFIG", str(path))
    monkeypatch.setenv("CITYOPS_HOST", "127.0.0.2")
    settings = load_settings()
    assert (settings.port, settings.host) == (8123, "127.0.0.2")


def test_unreadable_toml_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[cityops\nport = ", encoding="utf-8")
    monkeypatch.setenv("CITYOPS_CONFIG", str(path))
    with pytest.raises(ConfigError, match="CITYOPS_CONFIG"):
        load_settings()
