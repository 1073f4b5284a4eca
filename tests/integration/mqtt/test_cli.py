"""``cityops ingest`` refuses to start without a broker; the composition root hands its batches
to the devices module, which stores what it can and counts the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cityops.app import ingest_handler
from cityops.cli.common import runtime_or_exit
from cityops.cli.main import app
from cityops.core.mqtt.worker import Message
from cityops.devices.models import Reading


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYOPS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite3")
    return tmp_path


def test_ingest_needs_a_broker_url(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["ingest"])
    assert result.exit_code == 2
    assert "CITYOPS_MQTT_URL is not set" in result.output


def test_ingest_hands_its_batches_to_the_devices_module(cli_env: Path) -> None:
    runtime = runtime_or_exit()
    handler = ingest_handler(runtime)
    assert handler is not None
    now = datetime.now(UTC)
    batch = [
        Message("no-such-device", b'{"values": {"level": 1.0}}', now, 1, "t/devices/x/telemetry"),
        Message("no-such-device", b"not json", now, 1, "t/devices/x/telemetry"),
    ]
    handler(batch)  # stored in one transaction: nothing to store here, and no error
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Reading)) == 0
