"""The telemetry storage settings: defaults, and bad values refused with the variable named."""

from __future__ import annotations

import pytest

from cityops.core.config import ConfigError, load_settings


def test_defaults() -> None:
    settings = load_settings()
    assert settings.telemetry_hot_days == 7
    assert settings.telemetry_rollup_1m_days == 90


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("telemetry_hot_days", 0),
        ("telemetry_hot_days", "a week"),
        ("telemetry_rollup_1m_days", 0),
        ("telemetry_rollup_seconds", 0),
        ("telemetry_archive_seconds", -1),
    ],
)
def test_bad_values_name_the_variable(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"CITYOPS_{name.upper()}"):
        load_settings(**{name: value})


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_TELEMETRY_HOT_DAYS", "3")
    monkeypatch.setenv("CITYOPS_TELEMETRY_ROLLUP_1M_DAYS", "30")
    settings = load_settings()
    assert (settings.telemetry_hot_days, settings.telemetry_rollup_1m_days) == (3, 30)
