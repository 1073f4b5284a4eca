"""Composition root: settings → engine, bus, clock, files, scheduler → modules → ASGI app."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime

from fastapi import FastAPI

from cityops.alarms import api as alarms_api
from cityops.alarms import service as alarms
from cityops.alarms import tasks as alarms_tasks
from cityops.alarms.events import AlarmCleared, AlarmRaised, AlarmUpdated
from cityops.alarms.live import AlarmFeed
from cityops.brain import api as brain_api
from cityops.brain import service as brain
from cityops.cases import api as cases_api
from cityops.cases import kpi_api
from cityops.cases import tasks as cases_tasks
from cityops.cases.events import CaseChanged
from cityops.cases.live import CaseFeed
from cityops.cases.open311 import api as open311_api
from cityops.core.bus import Bus
from cityops.core.clock import Clock, SystemClock
from cityops.core.config import Settings, load_settings
from cityops.core.db import Database, create_db_engine
from cityops.core.files import LocalFileStore
from cityops.core.live import LiveHub
from cityops.core.mqtt.worker import Handler as IngestHandler
from cityops.core.runtime import Runtime
from cityops.devices import api as devices_api
from cityops.devices import service as devices
from cityops.devices import tasks as devices_tasks
from cityops.devices.events import DeviceReadings, ReadingsStored
from cityops.org import api as org_api
from cityops.web import audit_api, live_api, overview_api
from cityops.web.app import create_web_app


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    """Wire the infrastructure and register every module's background jobs."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_db_engine(settings.resolved_database_url)
    runtime = Runtime(
        settings=settings,
        db=Database(engine=engine, bus=Bus(), cache_ttl=settings.reference_cache_seconds),
        clock=clock or SystemClock(),
        files=LocalFileStore(settings.files_dir),
    )
    cases_tasks.register_jobs(runtime)
    alarms_tasks.register_jobs(runtime)
    devices_tasks.register_jobs(runtime)
    brain.register_jobs(runtime)
    connect_perception(runtime)
    brain.attach(runtime, background=settings.brain_background)
    return runtime


class DeviceDirectory:
    """The alarms module's view of the devices (``alarms.service.DeviceDirectory``)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def device_info(self, device_ids: Collection[str]) -> Mapping[str, alarms.DeviceInfo]:
        return {
            facts.device_id: alarms.DeviceInfo(
                device_id=facts.device_id,
                type=facts.type_code,
                lon=facts.lon,
                lat=facts.lat,
                department_code=facts.department_code,
                name=facts.name,
            )
            for facts in devices.device_facts(self.runtime, device_ids).values()
        }

    def type_metrics(self, type_code: str) -> Collection[str] | None:
        return devices.type_metric_codes(self.runtime, type_code)


def alarm_samples(stored: Iterable[DeviceReadings]) -> list[alarms.Sample]:
    """A stored batch as the rules read it: each device's readings grouped by their time."""
    samples: list[alarms.Sample] = []
    for readings in stored:
        at: dict[int, dict[str, float]] = defaultdict(dict)
        for sample in readings.samples:
            at[sample.ts].update(sample.values)
        samples.extend(
            alarms.Sample(
                device_id=readings.device_id,
                device_type=readings.type_code,
                ts=datetime.fromtimestamp(ms / 1000, UTC),
                values=values,
            )
            for ms, values in sorted(at.items())
        )
    return samples


def connect_perception(runtime: Runtime) -> None:
    """Telemetry → storage → rules: the MQTT worker's batches go to the devices module's
    ingest, and each committed batch of readings to the alarms module's rules (see
    docs/alarms.md, "Wiring")."""
    directory = DeviceDirectory(runtime)
    alarms.attach(runtime, directory)

    def evaluate(event: ReadingsStored) -> None:
        # Samples only of the device types some rule watches (most readings are not).
        watched = alarms.watched_types(runtime, {d.type_code for d in event.devices})
        stored = [d for d in event.devices if d.type_code in watched]
        if stored:
            alarms.evaluate(runtime, alarm_samples(stored), directory, watched=watched)

    runtime.db.bus.subscribe(ReadingsStored, evaluate)
    runtime.caches["mqtt.ingest_handler"] = lambda batch: devices.ingest_batch(
        runtime, [(message.device_id, message.payload, message.received_at) for message in batch]
    )


def ingest_handler(runtime: Runtime) -> IngestHandler | None:
    """What ``cityops ingest`` hands each batch of MQTT telemetry to, or None while no module
    stores telemetry. The handler must return only once the batch is stored (the worker then
    acknowledges it) and raise only when nothing of it could be stored (the broker resends)."""
    return runtime.caches.get("mqtt.ingest_handler")


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """The ASGI application (``uvicorn --factory cityops.app:create_app``)."""
    if runtime is None:
        settings = settings or load_settings()
        logging.basicConfig(level=settings.log_level)
        runtime = build_runtime(settings)
    routers = [
        org_api.router,
        cases_api.router,
        kpi_api.router,
        audit_api.router,
        open311_api.router,
        live_api.router,
        overview_api.router,
        alarms_api.router,
        devices_api.router,
        brain_api.router,
    ]
    # The live feed reads the timeline of every worker; a commit here also wakes it at once.
    live = LiveHub([CaseFeed(runtime), AlarmFeed(runtime)])
    for changed in (CaseChanged, AlarmRaised, AlarmUpdated, AlarmCleared):
        runtime.db.bus.subscribe(changed, live.wake)
    return create_web_app(runtime, routers, live=live)
