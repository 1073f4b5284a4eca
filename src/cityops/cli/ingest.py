"""``cityops ingest``: one MQTT ingest worker (run several, each with its own client id)."""

from __future__ import annotations

import gc
import logging
import signal
from typing import Annotated

import typer

from cityops.app import ingest_handler
from cityops.cli.common import runtime_or_exit, settings_or_exit
from cityops.core import heap
from cityops.core.mqtt.address import BrokerAddress
from cityops.core.mqtt.provision import BrokerAdmin, BrokerError
from cityops.core.mqtt.worker import IngestWorker, WorkerOptions


def ingest(
    client_id: Annotated[
        str | None,
        typer.Option(
            help="this worker's MQTT client id, stable across restarts (CITYOPS_MQTT_CLIENT_ID)"
        ),
    ] = None,
) -> None:
    """Store device telemetry from the MQTT broker (shared subscription, QoS 1, at-least-once)."""
    settings = settings_or_exit()
    logging.basicConfig(level=settings.log_level)
    if not settings.mqtt_url:
        typer.secho("error: CITYOPS_MQTT_URL is not set", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    runtime = runtime_or_exit()
    handler = ingest_handler(runtime)
    if handler is None:
        typer.secho(
            "error: no module stores telemetry yet (cityops.app.ingest_handler)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    if settings.mqtt_ingest_password and settings.mqtt_admin_password:
        try:
            with BrokerAdmin(
                BrokerAddress.parse(settings.mqtt_url),
                username=settings.mqtt_admin_username,
                password=settings.mqtt_admin_password,
                topic_prefix=settings.mqtt_topic_prefix,
            ) as admin:
                admin.ensure_ingest_client(
                    settings.mqtt_ingest_username,
                    settings.mqtt_ingest_password,
                    share_group=settings.mqtt_share_group,
                )
        except BrokerError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
    worker = IngestWorker(WorkerOptions.from_settings(settings, client_id=client_id), handler)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stop())
    typer.echo(f"ingesting from {settings.mqtt_url} as {worker.options.client_id}", err=True)
    gc.collect()  # start-up's garbage, before what is left is frozen
    heap.settle()  # start-up's objects out of the collector's sight, fewer collections
    worker.run()
    typer.echo(f"stopped: {worker.metrics.snapshot()}", err=True)
