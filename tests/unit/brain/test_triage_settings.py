"""The auto-dispatch settings: off by default, the threshold a probability, both from the
environment, a bad value naming its variable."""

from __future__ import annotations

import pytest

from cityops.core.config import ConfigError, load_settings


def test_auto_dispatch_is_off_by_default() -> None:
    settings = load_settings()
    assert settings.auto_dispatch is False
    assert 0 < settings.auto_dispatch_threshold <= 1


def test_triage_runs_in_the_background_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().brain_background is True
    monkeypatch.setenv("CITYOPS_BRAIN_BACKGROUND", "false")
    assert load_settings().brain_background is False


def test_the_environment_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_AUTO_DISPATCH", "true")
    monkeypatch.setenv("CITYOPS_AUTO_DISPATCH_THRESHOLD", "0.9")
    settings = load_settings()
    assert (settings.auto_dispatch, settings.auto_dispatch_threshold) == (True, 0.9)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CITYOPS_AUTO_DISPATCH_THRESHOLD", "1.5"),
        ("CITYOPS_AUTO_DISPATCH_THRESHOLD", "-0.1"),
        ("CITYOPS_AUTO_DISPATCH_THRESHOLD", "sure"),
        ("CITYOPS_AUTO_DISPATCH", "maybe"),
        ("CITYOPS_TRIAGE_SWEEP_SECONDS", "0"),
        ("CITYOPS_BRAIN_BACKGROUND", "sometimes"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()
