"""``cityops simulate``: simulated devices publishing telemetry over MQTT (or HTTP)."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import signal
import threading
from typing import Annotated

import typer

from cityops.cli.common import domain_errors, runtime_or_exit, settings_or_exit
from cityops.core.mqtt.address import BrokerAddress
from cityops.core.mqtt.provision import BrokerAdmin, BrokerError
from cityops.demo import simulate as sim
from cityops.demo.patterns import INCIDENT_KINDS, Incident, parse_incident


def simulate(
    devices: Annotated[
        int | None,
        typer.Option(
            "--devices",
            help="register this many simulated devices (all types, over the city's grids) "
            "and run them; default: the registered active devices",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="run at most this many registered devices")
    ] = None,
    online_only: Annotated[
        bool,
        typer.Option("--online-only", help="leave out registered devices that are offline now"),
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(help="seconds between a device's reports (default: its type's interval)"),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="stop after this many seconds (default: until Ctrl-C)")
    ] = None,
    incident: Annotated[
        list[str] | None,
        typer.Option(
            help=f"KIND[@START_S][:SHARE], KIND one of {', '.join(INCIDENT_KINDS)}; "
            "e.g. flooding@60:0.2 (repeatable)"
        ),
    ] = None,
    http: Annotated[
        str | None,
        typer.Option(help="post batches to this server's /api/v1/telemetry instead of MQTT"),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="CITYOPS_API_KEY", help="integration API key (--http)")
    ] = None,
    window: Annotated[int, typer.Option(help="QoS 1 messages awaiting PUBACK at most")] = 100,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Run simulated devices with daily patterns, noise and injected incidents.

    Over MQTT the simulator publishes on each device's own telemetry topic as the broker's
    "cityops-simulator" account (publish on device telemetry topics only), which it
    provisions with the admin credentials: one connection for the whole fleet."""
    settings = settings_or_exit()
    logging.basicConfig(level=settings.log_level)
    try:
        incidents: list[Incident] = [parse_incident(text) for text in incident or []]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--incident") from None
    if http and not api_key:
        raise typer.BadParameter(
            "--http needs --api-key (or CITYOPS_API_KEY)", param_hint="--api-key"
        )
    if not http and not (settings.mqtt_url and settings.mqtt_admin_password):
        typer.secho(
            "error: CITYOPS_MQTT_URL and CITYOPS_MQTT_ADMIN_PASSWORD are needed (or use --http)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    runtime = runtime_or_exit()
    with domain_errors():
        if devices:
            try:
                ids = set(sim.register_fleet(runtime, devices, seed=seed))
            except ValueError as exc:
                typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
                raise typer.Exit(1) from None
            fleet = [d for d in sim.registered_fleet(runtime) if d.device_id in ids]
        else:
            fleet = sim.registered_fleet(runtime, limit=limit, online_only=online_only)
    if not fleet:
        typer.secho("error: no active devices to simulate", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    if interval is not None:
        fleet = [dataclasses.replace(d, interval=interval) for d in fleet]
    sink: sim.Sink
    if http:
        assert api_key is not None
        sink = sim.HttpSink(http, api_key)
        where = http
    else:
        address = BrokerAddress.parse(settings.mqtt_url)
        password = secrets.token_urlsafe(24)
        try:
            with BrokerAdmin(
                address,
                username=settings.mqtt_admin_username,
                password=settings.mqtt_admin_password,
                topic_prefix=settings.mqtt_topic_prefix,
            ) as admin:
                username = sim.ensure_simulator_client(admin, password)
            sink = sim.MqttSink(
                address,
                username=username,
                password=password,
                prefix=settings.mqtt_topic_prefix,
                window=window,
            )
        except (BrokerError, ConnectionError, OSError) as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
        where = settings.mqtt_url
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    typer.echo(f"simulating {len(fleet)} devices to {where}", err=True)
    try:
        sent = sim.run(
            sim.Simulation(fleet, incidents, seed=seed),
            sink,
            duration=duration,
            stop=stop,
            report=lambda elapsed, n: typer.echo(f"{elapsed:.0f} s: {n} messages", err=True),
        )
    finally:
        sink.close()
    counts = getattr(sink, "counts", None)
    typer.echo(
        f"sent {sent} messages"
        + (f", {counts.acked} acknowledged, {counts.refused} refused" if counts else ""),
        err=True,
    )
