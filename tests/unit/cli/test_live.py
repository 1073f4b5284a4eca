"""The demo's live data: which helper processes ``cityops demo`` starts beside the server."""

from __future__ import annotations

import sys

from cityops.cli.live import DEMO_INCIDENTS, live_commands
from cityops.core.config import Settings


def _incidents(command: list[str]) -> list[str]:
    return [command[i + 1] for i, arg in enumerate(command) if arg == "--incident"]


def test_with_a_broker_an_ingest_worker_and_an_mqtt_simulator_run() -> None:
    settings = Settings(mqtt_url="mqtt://127.0.0.1:1883", mqtt_admin_password="admin-secret")
    (ingest, ingest_env), (simulate, simulate_env) = live_commands(settings, "cok_key")
    assert ingest[:4] == [sys.executable, "-m", "cityops", "ingest"]
    assert len(ingest_env["CITYOPS_MQTT_INGEST_PASSWORD"]) >= 24
    assert simulate[3] == "simulate"
    assert "--http" not in simulate
    assert "--online-only" in simulate
    assert _incidents(simulate) == list(DEMO_INCIDENTS)
    assert simulate_env == {}


def test_a_configured_ingest_password_is_kept() -> None:
    settings = Settings(
        mqtt_url="mqtt://127.0.0.1:1883",
        mqtt_admin_password="admin-secret",
        mqtt_ingest_password="ingest-secret",
    )
    (_, ingest_env), _ = live_commands(settings, "cok_key")
    assert ingest_env == {"CITYOPS_MQTT_INGEST_PASSWORD": "ingest-secret"}


def test_without_a_broker_the_simulator_posts_to_the_demo_server() -> None:
    settings = Settings(mqtt_url="", host="0.0.0.0", port=8123)  # noqa: S104
    [(simulate, env)] = live_commands(settings, "cok_key")
    at = simulate.index("--http")
    assert simulate[at + 1] == "http://127.0.0.1:8123"
    assert env == {"CITYOPS_API_KEY": "cok_key"}
    assert _incidents(simulate) == list(DEMO_INCIDENTS)
