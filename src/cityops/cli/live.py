"""The demo's live data: an ingest worker and the sensor simulator beside the web server.

With a broker configured (``CITYOPS_MQTT_URL`` and the admin password, as ``make demo`` sets them)
the simulator publishes over MQTT and an ingest worker stores the readings; without one it posts
its batches to the demo server's own HTTP ingest with the demo's integration API key.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from cityops.core.config import Settings

# Some sensors misbehave a few minutes in, so the screen shows alarms and their cases.
DEMO_INCIDENTS = ("flooding@120:0.3", "gas_leak@240:0.2", "stuck@60:0.05", "silent@300:0.02")


def live_commands(settings: Settings, api_key: str) -> list[tuple[list[str], dict[str, str]]]:
    """The helper processes to start (command line and extra environment), in order."""
    cli = [sys.executable, "-m", "cityops"]
    incidents = [
        "--online-only",
        *(arg for text in DEMO_INCIDENTS for arg in ("--incident", text)),
    ]
    if settings.mqtt_url and settings.mqtt_admin_password:
        ingest_env = {
            "CITYOPS_MQTT_INGEST_PASSWORD": settings.mqtt_ingest_password
            or secrets.token_urlsafe(24)
        }
        return [
            ([*cli, "ingest", "--client-id", "cityops-demo-ingest"], ingest_env),
            ([*cli, "simulate", *incidents], {}),
        ]
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    url = f"http://{host}:{settings.port}"
    return [([*cli, "simulate", "--http", url, *incidents], {"CITYOPS_API_KEY": api_key})]


@contextmanager
def live_feed(settings: Settings, api_key: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Run the helper processes for as long as the block runs; stop them after it."""
    children: list[subprocess.Popen[bytes]] = []
    try:
        for command, extra in live_commands(settings, api_key):
            children.append(subprocess.Popen(command, env={**os.environ, **extra}))  # noqa: S603
        how = "MQTT" if len(children) > 1 else "HTTP"
        typer.echo(f"  Live:      simulated sensors over {how} (--no-live: none)", err=True)
        yield children
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
