"""Storing telemetry: a batch of messages → readings, latest values, health, in one transaction.

``ingest_batch`` is the entry point of every transport (the MQTT worker hands it what it
received; the HTTP routes go through ``service``). It never raises for bad input: unknown
devices, malformed payloads and refused values are counted (per device and reason, in the
device's health) while the good readings around them are stored. Readings go in a sample
per row with one multi-row insert that leaves stored values as they are (a stored sample only
gains metrics it lacked), so a message delivered twice (MQTT QoS 1) is stored once; the batch
has committed when the function returns.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Column, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from cityops.core.config import Settings
from cityops.core.db.engine import Transaction
from cityops.core.i18n import text
from cityops.core.ids import new_id
from cityops.core.runtime import Runtime
from cityops.devices import events, rollups
from cityops.devices.directory import device_types
from cityops.devices.health import offline_after
from cityops.devices.known import Known, known_devices, remember_seen
from cityops.devices.models import Device, HealthEvent, LatestValue, Reading, Rejection
from cityops.devices.payload import (
    BAD_SHAPE,
    DEVICE_RETIRED,
    UNKNOWN_DEVICE,
    Limits,
    Problem,
    Sample,
    decode,
    parse_document,
    take_sample,
    to_ms,
)

MAX_PROBLEMS_KEPT = 100
READINGS: Table = Reading.__table__  # type: ignore[assignment]
LATEST: Table = LatestValue.__table__  # type: ignore[assignment]
REJECTIONS: Table = Rejection.__table__  # type: ignore[assignment]
DEVICES: Table = Device.__table__  # type: ignore[assignment]
HEALTH_EVENTS: Table = HealthEvent.__table__  # type: ignore[assignment]
Message = tuple[str, bytes, datetime]
_TS = itemgetter(1)  # of a sample row (device_id, ts, values)


@dataclass
class IngestResult:
    """What became of a batch: counts, and the first problems with their device."""

    messages: int = 0
    accepted: int = 0
    rejected: int = 0
    unknown_devices: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str | None, Problem]] = field(default_factory=list)

    def refuse(self, device_id: str | None, problem: Problem) -> None:
        self.rejected += 1
        self.by_reason[problem.reason] += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append((device_id, problem))


@dataclass(slots=True)
class Decoded:
    """One message after JSON decoding: its document, or why it could not be read."""

    device_id: str | None
    document: Any
    problem: Problem | None
    received_at: datetime
    indexes: list[int] | None = None


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_future_ms=int(settings.telemetry_max_future_seconds * 1000),
        max_age_ms=int(settings.telemetry_max_age_hours * 3_600_000),
    )


def ingest_batch(rt: Runtime, messages: Sequence[Message]) -> IngestResult:
    """Store a batch of ``(device_id, payload bytes, received_at)``; returns the counts.

    For the MQTT worker: call it with what a poll returned and acknowledge the messages
    (QoS 1) once it has returned, the batch being committed by then.
    """
    limits = limits_from(rt.settings)
    decoded = []
    for device_id, payload, received_at in messages:
        document, problem = decode(payload, limits)
        decoded.append(Decoded(device_id, document, problem, received_at))
    return store(rt, decoded)


def split_batch(document: Any, received_at: datetime) -> list[Decoded]:
    """The HTTP batch of many devices (``[{"device_id", "ts", "values"}, …]``) per device."""
    if not isinstance(document, list):
        problem = Problem(BAD_SHAPE, "expected a JSON list of {device_id, ts, values} objects")
        return [Decoded(None, None, problem, received_at)]
    positions: dict[str, list[int]] = {}
    out: list[Decoded] = []
    for index, item in enumerate(document):
        device_id = item.get("device_id") if type(item) is dict else None
        if type(device_id) is not str or not device_id:
            problem = Problem(BAD_SHAPE, "each item needs a device_id string", index)
            out.append(Decoded(None, None, problem, received_at))
            continue
        found = positions.get(device_id)
        if found is None:
            positions[device_id] = [index]
        else:
            found.append(index)
    for device_id, indexes in positions.items():
        # A device named once (the usual batch) is handed on as its sample object.
        items = document[indexes[0]] if len(indexes) == 1 else [document[i] for i in indexes]
        out.append(Decoded(device_id, items, None, received_at, indexes))
    return out


@dataclass
class _Batch:
    samples: dict[str, list[Sample]] = field(default_factory=lambda: defaultdict(list))
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    last_detail: dict[tuple[str, str], str] = field(default_factory=dict)
    seen: dict[str, datetime] = field(default_factory=dict)


def store(rt: Runtime, messages: Sequence[Decoded]) -> IngestResult:
    """Validate decoded messages against their devices' types and store them (one commit)."""
    limits = limits_from(rt.settings)
    result = IngestResult(messages=len(messages))
    batch = _Batch()
    with rt.db.transaction() as tx:
        session = tx.session
        devices = known_devices(rt, session, {m.device_id for m in messages if m.device_id})
        types = device_types(session)
        received: dict[datetime, int] = {}  # epoch ms of each receive time (mostly one)
        for message in messages:
            device = devices.get(message.device_id) if message.device_id else None
            at = received.get(message.received_at)
            if at is None:
                at = received[message.received_at] = to_ms(message.received_at)
            _take(message, device, types, limits, at, batch, result)
        result.accepted = sum(len(s.values) for d in batch.samples.values() for s in d)
        _write(rt, tx, devices, batch)
    return result


def _take(
    message: Decoded,
    device: Known | None,
    types: dict[str, Any],
    limits: Limits,
    received_ms: int,
    batch: _Batch,
    result: IngestResult,
) -> None:
    if message.device_id is None:
        assert message.problem is not None
        result.refuse(None, message.problem)
        return
    device_id = message.device_id
    if device is None:
        result.unknown_devices += 1
        result.refuse(
            device_id, Problem(UNKNOWN_DEVICE, text("no device {id!r}", id=device_id[:64]))
        )
        return
    if device.status == "retired":
        _refuse(batch, result, device_id, Problem(DEVICE_RETIRED, "the device is retired"))
        return
    previous = batch.seen.get(device_id)
    if previous is None or message.received_at > previous:
        batch.seen[device_id] = message.received_at
    if message.problem is not None:
        _refuse(batch, result, device_id, message.problem)
        return
    metrics = types[device.type_code].metrics
    samples = batch.samples[device_id]
    if take_sample(message.document, metrics, received_ms, limits, samples):
        return
    parsed = parse_document(message.document, metrics, received_ms, limits, message.indexes)
    samples += parsed.samples
    for problem in parsed.problems:
        _refuse(batch, result, device_id, problem)


def _refuse(batch: _Batch, result: IngestResult, device_id: str, problem: Problem) -> None:
    result.refuse(device_id, problem)
    key = (device_id, problem.reason)
    batch.refused[key] += 1
    batch.last_detail[key] = problem.detail[:300]


def _write(rt: Runtime, tx: Transaction, devices: dict[str, Known], batch: _Batch) -> None:
    session = tx.session
    now = rt.clock.now()
    if any(batch.samples.values()):
        sql = _statements(session)
        late_before = to_ms(now) - rollups.LATE_MS
        readings, latest, mixed = _rows(batch)
        if sql.store:
            samples, newest = _documents(readings, latest)
            session.connection().exec_driver_sql(sql.store, (samples, late_before, newest))
            if mixed:
                session.connection().exec_driver_sql(sql.merge, (_document(mixed, _newest_json),))
        else:
            _execute_many(
                session, sql.readings, [(d, t, _sample_json(t, v)) for d, t, v in readings]
            )
            _execute_many(session, sql.latest, [(d, t, _latest_json(t, v)) for d, t, v in latest])
            _execute_many(session, sql.merge, [(d, t, _newest_json(t, v)) for d, t, v in mixed])
            if min(map(_TS, readings)) < late_before:
                moments = ((d, t) for d, t, _ in readings)
                _execute_many(session, sql.dirty, rollups.dirty_rows(moments, late_before))
    if batch.refused:
        rows = [
            {
                "device_id": d,
                "reason": r,
                "count": n,
                "last_at": now,
                "last_detail": batch.last_detail[(d, r)],
            }
            for (d, r), n in batch.refused.items()
        ]
        _count_rejections(session, rows)
    _mark_seen(rt, tx, devices, batch)
    stored = tuple(
        events.DeviceReadings(d, devices[d].type_code, devices[d].department_id, tuple(samples))
        for d, samples in batch.samples.items()
        if samples
    )
    if stored:
        tx.emit(events.ReadingsStored(received_at=max(batch.seen.values()), devices=stored))


SampleRow = tuple[str, int, dict[str, float]]  # device_id, ts, {metric: value}
# device_id, the newest time, {metric: (ts, value)}
LatestRow = tuple[str, int, dict[str, tuple[int, float]]]


def _rows(batch: _Batch) -> tuple[list[SampleRow], list[SampleRow], list[LatestRow]]:
    """The batch's readings a sample per (device, time), and each device's newest value per
    metric: of the devices whose newest values share one time (almost all: a device's samples
    usually carry the same metrics), as a sample of that time, and of the others, each in
    key order (so concurrent batches lock shared rows in one order).

    A (device, metric, time) given twice keeps its first value as the reading, as the stored
    reading is kept over a redelivered one, and its last as the latest value."""
    readings: list[SampleRow] = []
    latest: list[SampleRow] = []
    mixed: list[LatestRow] = []
    for device_id in sorted(batch.samples):
        samples = batch.samples[device_id]
        if len(samples) == 1:  # a device's one sample in the batch: the usual case
            ts, values = samples[0]
            row = (device_id, ts, values)  # one object in both lists (``_documents``)
            readings.append(row)
            latest.append(row)
            continue
        if not samples:
            continue
        moments: dict[int, dict[str, float]] = {}
        newest: dict[str, tuple[int, float]] = {}
        for ts, values in samples:
            stored = moments.get(ts)
            # A new dict when merging: the sample's own goes on to the alarm rules.
            moments[ts] = values if stored is None else {**values, **stored}
            for metric, value in values.items():
                known = newest.get(metric)
                if known is None or ts >= known[0]:
                    newest[metric] = (ts, value)
        readings += [(device_id, ts, moments[ts]) for ts in sorted(moments)]
        times = {ts for ts, _ in newest.values()}
        if len(times) == 1:
            latest.append((device_id, times.pop(), {m: v for m, (_, v) in newest.items()}))
        else:
            mixed.append((device_id, max(times), newest))
    return readings, latest, mixed


def _documents(readings: list[SampleRow], latest: list[SampleRow]) -> tuple[str, str]:
    """The samples and the newest values (``{metric: [ts, value]}``) as the JSON lists that
    PostgreSQL's ``store`` reads, in one pass: a device's one sample is also its newest values
    (the same row in both lists, ``_rows``), and its numbers are written once for both."""
    samples = []
    newest = []
    j, count = 0, len(latest)
    for row in readings:
        d, t, v = row
        while j < count and latest[j][0] < d:  # both lists are in device order
            newest.append(_row(latest[j], _latest_json))
            j += 1
        head = f'{{"d":{_string(d)},"t":{t},"v":{{'
        numbers = [(m, repr(x)) for m, x in v.items()]
        samples.append(head + ",".join([f'"{m}":{x}' for m, x in numbers]) + "}}")
        if j < count and latest[j] is row:
            newest.append(head + ",".join([f'"{m}":[{t},{x}]' for m, x in numbers]) + "}}")
            j += 1
    newest += [_row(row, _latest_json) for row in latest[j:]]
    return "[" + ",".join(samples) + "]", "[" + ",".join(newest) + "]"


def _document(rows: Iterable[tuple[str, int, Any]], values: Callable[[int, Any], str]) -> str:
    """Rows as the JSON list ``[{"d": device, "t": ts, "v": values}, ...]`` that PostgreSQL's
    statements read, ``values`` writing each row's ``v``."""
    return "[" + ",".join([_row(row, values) for row in rows]) + "]"


def _row(row: tuple[str, int, Any], values: Callable[[int, Any], str]) -> str:
    d, t, v = row
    return f'{{"d":{_string(d)},"t":{t},"v":{values(t, v)}}}'


# JSON written directly (for PostgreSQL's two documents in one pass, less than half the
# encoder's time for these small objects): a metric's code is [a-z][a-z0-9_]* (catalogue.CODE)
# and a device id [A-Za-z0-9_-]+, nothing to escape, and an accepted value a finite float,
# whose ``repr`` is a JSON number that reads back as the same float.

_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+").fullmatch  # schemas.DEVICE_ID_PATTERN's characters
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _string(device_id: str) -> str:
    """A device id as a JSON string: quoted as it is, or escaped by the encoder should an id
    carry characters beyond the pattern's."""
    return f'"{device_id}"' if _PLAIN_ID(device_id) else _dumps(device_id)


def _sample_json(_ts: int, values: dict[str, float]) -> str:
    """A sample's ``{metric: value}``."""
    return "{" + ",".join([f'"{m}":{v!r}' for m, v in values.items()]) + "}"


def _latest_json(ts: int, values: dict[str, float]) -> str:
    """Latest values ``{metric: [ts, value]}`` of one time."""
    return "{" + ",".join([f'"{m}":[{ts},{v!r}]' for m, v in values.items()]) + "}"


def _newest_json(_ts: int, newest: dict[str, tuple[int, float]]) -> str:
    """Latest values ``{metric: [ts, value]}`` of several times."""
    return "{" + ",".join([f'"{m}":[{t},{v!r}]' for m, (t, v) in newest.items()]) + "}"


class _Statements(NamedTuple):
    """The hot path's statements as the driver reads them, compiled once per dialect.

    SQLite: ``readings``, ``latest`` and ``dirty`` (late hours), each run by ``executemany``
    over plain tuples (no per-row parameter processing). PostgreSQL: ``store`` does all three
    in one statement over the batch's samples and newest values sent as two JSON documents
    (read by ``json_to_recordset``): one round trip, and nothing adapted per element. A
    dialect's statements the other uses are empty.

    Both merge what they find stored: a sample already there gains the metrics it lacked (a
    redelivered one changes nothing), a latest value is replaced only by a newer or equally
    new one, metric by metric. The latest values of a device whose values in the batch share
    one time at least as new as the stored row's ``ts`` are merged whole (JSON patch); the
    others metric by metric, and ``merge`` takes the devices whose newest values in the batch
    differ in time (on both databases).
    """

    readings: str
    latest: str
    dirty: str
    store: str
    merge: str
    seen: str


@functools.cache
def _compiled(dialect: str) -> _Statements:
    # Only the module's own table names, constants and placeholders go into the text.
    readings, latest, dirty = READINGS.name, LATEST.name, rollups.DIRTY.name
    if dialect != "postgresql":
        key = "'$.\"' || n.key || '\"'"  # the JSON path of a metric (codes are [a-z0-9_])
        insert_latest = (
            f"INSERT INTO {latest} (device_id, ts, data) VALUES (?, ?, ?) "  # noqa: S608
            "ON CONFLICT (device_id)"
        )
        # The incoming values that are at least as new as the stored ones of their metric.
        merge_sqlite = (
            f"json_patch({latest}.data, (SELECT json_group_object(n.key, json(n.value)) "  # noqa: S608
            f"FROM json_each(excluded.data) n WHERE coalesce(json_extract({latest}.data, "
            f"{key} || '[0]') <= json_extract(n.value, '$[0]'), 1)))"
        )
        return _Statements(
            readings=(
                f"INSERT INTO {readings} (device_id, ts, data) VALUES (?, ?, ?) "  # noqa: S608
                "ON CONFLICT (device_id, ts) DO UPDATE "
                f"SET data = json_patch(excluded.data, {readings}.data) "
                "WHERE EXISTS (SELECT 1 FROM json_each(excluded.data) n "
                f"WHERE json_type({readings}.data, {key}) IS NULL)"
            ),
            latest=(
                f"{insert_latest} DO UPDATE SET data = CASE WHEN excluded.ts >= {latest}.ts "
                f"THEN json_patch({latest}.data, excluded.data) ELSE {merge_sqlite} END, "
                f"ts = max({latest}.ts, excluded.ts)"
            ),
            merge=(
                f"{insert_latest} DO UPDATE SET data = {merge_sqlite}, "
                f"ts = max({latest}.ts, excluded.ts)"
            ),
            dirty=(
                f"INSERT INTO {dirty} (device_id, hour) VALUES (?, ?) "  # noqa: S608
                "ON CONFLICT (device_id, hour) DO NOTHING"
            ),
            store="",
            seen=_seen_statement("?"),
        )
    hour = rollups.HOUR_MS  # the floor of a time to its hour, as rollups.floor
    insert_latest = (
        f"INSERT INTO {latest} (device_id, ts, data) SELECT d, t, v FROM "  # noqa: S608
        "jsonb_to_recordset(%s::jsonb) AS x(d text, t bigint, v jsonb) ON CONFLICT (device_id)"
    )
    # The incoming values that are at least as new as the stored ones of their metric.
    merge_pg = (
        f"{latest}.data || (SELECT coalesce(jsonb_object_agg(n.key, n.value), '{{}}') "  # noqa: S608
        f"FROM jsonb_each(excluded.data) n WHERE coalesce(({latest}.data -> n.key ->> 0)::bigint "
        "<= (n.value ->> 0)::bigint, true))"
    )
    store = (
        "WITH v AS (SELECT * FROM json_to_recordset(%s::json) AS x(d text, t bigint, v json)), "  # noqa: S608
        f"r AS (INSERT INTO {readings} (device_id, ts, data) SELECT d, t, v FROM v "
        "ON CONFLICT (device_id, ts) DO UPDATE "
        f"SET data = (excluded.data::jsonb || {readings}.data::jsonb)::json "
        f"WHERE NOT {readings}.data::jsonb ?& ARRAY(SELECT json_object_keys(excluded.data))), "
        f"h AS (INSERT INTO {dirty} (device_id, hour) "
        f"SELECT DISTINCT d, t - ((t %% {hour}) + {hour}) %% {hour} FROM v "
        "WHERE t < %s ON CONFLICT (device_id, hour) DO NOTHING) "
        f"{insert_latest} DO UPDATE SET data = CASE WHEN excluded.ts >= {latest}.ts "
        f"THEN {latest}.data || excluded.data ELSE {merge_pg} END, "
        f"ts = greatest({latest}.ts, excluded.ts)"
    )
    merge = (
        f"{insert_latest} DO UPDATE SET data = {merge_pg}, ts = greatest({latest}.ts, excluded.ts)"
    )
    return _Statements(
        readings="", latest="", dirty="", store=store, merge=merge, seen=_seen_statement("%s")
    )


def _seen_statement(mark: str) -> str:
    return (
        f"UPDATE {DEVICES.name} SET last_seen_at = {mark}, offline_after = {mark}, "  # noqa: S608
        f"online = {mark} WHERE id = {mark} "
        f"AND (last_seen_at IS NULL OR last_seen_at <= {mark})"
    )


def _statements(session: Session) -> _Statements:
    return _compiled(session.get_bind().dialect.name)


def _execute_many(session: Session, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``executemany`` on the connection of the session's transaction."""
    if rows:
        session.connection().exec_driver_sql(sql, list(rows))


def _count_rejections(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add the batch's refusals to the per-device, per-reason counters (SQLite and
    PostgreSQL spell the upsert alike)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(REJECTIONS)
    excluded = statement.excluded
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[c.name for c in REJECTIONS.primary_key.columns],
            set_={
                "count": REJECTIONS.c.count + excluded.count,
                "last_at": excluded.last_at,
                "last_detail": excluded.last_detail,
            },
        ),
        rows,
    )


def _worth_writing(stored: datetime | None, seen: datetime, interval_seconds: int) -> bool:
    """Whether ``last_seen_at`` should move: a device that reports many times per interval
    rewrites its row at most every tenth of an interval (a minute at most), which keeps the
    offline limit exact enough and spares the row a write per message."""
    if stored is None:
        return True
    return (seen - stored).total_seconds() >= min(interval_seconds / 10, 60)


def _mark_seen(rt: Runtime, tx: Transaction, devices: dict[str, Known], batch: _Batch) -> None:
    """Last seen, the offline limit and ``online`` of every device heard from in the batch."""
    if not batch.seen:
        return
    intervals = rt.settings.device_offline_intervals
    session = tx.session
    types = device_types(session)
    dialect = session.get_bind().dialect
    moment = _bind(DEVICES.c.last_seen_at, dialect)
    flag = _bind(DEVICES.c.online, dialect)
    rows = []
    came_online = []
    written = []
    for device_id, seen in batch.seen.items():
        device = devices[device_id]
        interval = types[device.type_code].interval_seconds
        if device.online and not _worth_writing(device.last_seen_at, seen, interval):
            continue
        limit = offline_after(seen, interval, intervals)
        at = moment(seen)
        rows.append((at, moment(limit), flag(True), device_id, at))
        if device.last_seen_at is None or seen >= device.last_seen_at:
            written.append(device._replace(online=True, last_seen_at=seen, offline_after=limit))
        if not device.online:
            came_online.append(
                {"id": new_id(), "device_id": device_id, "at": seen, "kind": "online", "data": {}}
            )
            tx.emit(
                events.DeviceCameOnline(device_id, device.type_code, device.department_id, seen)
            )
    if came_online:
        session.execute(insert(HEALTH_EVENTS), came_online)
    _execute_many(session, _statements(session).seen, rows)
    if written:
        tx.after_commit(lambda: remember_seen(rt, written))


def _bind(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """The column type's conversion of a Python value for the driver (identity if none)."""
    process = column.type.bind_processor(dialect)
    return process if process is not None else _same


def _same(value: Any) -> Any:
    return value
