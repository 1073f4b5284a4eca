"""``cityops ingest`` refuses to start without a broker or without a module that stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityops.cli.main import app


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYOPS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite3")
    return tmp_path


def test_ingest_needs_a_broker_url(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["ingest"])
    assert result.exit_code == 2
    assert "CITYOPS_MQTT_URL is not set" in result.output


def test_ingest_needs_a_handler_from_the_composition_root(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYOPS_MQTT_URL", "mqtt://127.0.0.1:1")
    result = CliRunner().invoke(app, ["ingest", "--client-id", "ingest-2"])
    assert result.exit_code == 1
    assert "no module stores telemetry yet" in result.output
