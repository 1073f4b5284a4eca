"""``cityops simulate`` refuses what it cannot run, naming the option or the missing piece."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityops.cli.main import app


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYOPS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite3")
    for name in ("CITYOPS_MQTT_URL", "CITYOPS_MQTT_ADMIN_PASSWORD", "CITYOPS_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize("incident", ["meteor", "flooding:2", "stuck@-1"])
def test_a_bad_incident_is_refused(cli_env: Path, incident: str) -> None:
    result = CliRunner().invoke(app, ["simulate", "--incident", incident, "--http", "http://x"])
    assert result.exit_code == 2
    assert "--incident" in result.output


def test_http_needs_an_api_key(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--http", "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "--api-key" in result.output


def test_mqtt_needs_the_broker_settings(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["simulate"])
    assert result.exit_code == 2
    assert "CITYOPS_MQTT_URL" in result.output


def test_an_empty_city_has_nothing_to_simulate(cli_env: Path) -> None:
    args = ["simulate", "--http", "http://127.0.0.1:1", "--api-key", "k"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "no active devices" in result.output
    result = CliRunner().invoke(app, [*args, "--devices", "10"])
    assert result.exit_code == 1
    assert "no grids" in result.output
