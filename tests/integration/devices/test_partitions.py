"""Monthly partitions of the readings on PostgreSQL: made ahead by the job, rows that reached
the default partition first moved into their month; SQLite keeps one plain table."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, create_engine, func, insert, inspect, select, text

from cityops.core.db import create_db_engine
from cityops.core.runtime import Runtime
from cityops.devices.models import LatestValue, Reading
from cityops.devices.partitions import DEFAULT, ensure_partitions, partitions
from cityops.devices.payload import to_ms
from cityops.migrations import alembic_config, upgrade


def ms(*parts: int) -> int:
    return to_ms(datetime(*parts, tzinfo=UTC))


def in_table(rt: Runtime, name: str) -> int:
    with rt.db.read() as session:
        return int(session.scalar(text(f"SELECT count(*) FROM {name}")) or 0)  # noqa: S608


def test_partitions_ahead_take_over_rows_from_the_default(rt: Runtime) -> None:
    rows = [
        {"device_id": "aq-000001", "ts": ts, "data": {"pm25": 1.5}}
        for ts in (ms(2026, 3, 1, 0, 0), ms(2026, 3, 31, 23, 59), ms(2026, 4, 15), ms(2026, 6, 1))
    ]
    with rt.db.transaction() as tx:
        tx.session.execute(insert(Reading), rows)
    created = ensure_partitions(rt)
    if rt.db.dialect != "postgresql":
        assert created == []
        return
    # The migration made months around the real date; the clock says March 2026.
    assert {"devices_readings_p202603", "devices_readings_p202604"} <= set(created)
    assert "devices_readings_p202605" in partitions_of(rt)
    assert in_table(rt, "devices_readings_p202603") == 2
    assert in_table(rt, "devices_readings_p202604") == 1
    assert in_table(rt, DEFAULT) == 1  # June: not made yet
    with rt.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Reading)) == 4
    assert ensure_partitions(rt) == []
    # Writes land in their month.
    with rt.db.transaction() as tx:
        tx.session.execute(insert(Reading), [{**rows[2], "ts": ms(2026, 4, 2)}])
    assert in_table(rt, "devices_readings_p202604") == 2


def partitions_of(rt: Runtime) -> list[str]:
    with rt.db.read() as session:
        return partitions(session)


OLD_READING = "INSERT INTO devices_readings (device_id, metric, ts, value) VALUES (:d, :m, :t, :v)"
OLD_VALUES = "SELECT device_id, metric, ts, value FROM devices_readings ORDER BY ts, metric"


def test_migration_0008_down_and_up_keeps_the_readings(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = request.config.getoption("--dburl")
    with throwaway(server, tmp_path) as engine:
        upgrade(engine, "0005")
        row = {"d": "aq-000001", "m": "pm25", "t": ms(2026, 3, 1), "v": 2.5}
        with engine.begin() as connection:
            connection.execute(text(OLD_READING), [row])
        upgrade(engine, "0012")
        tables = set(inspect(engine).get_table_names())
        assert {"devices_rollups_1m", "devices_rollups_1h", "devices_rollup_marks"} <= tables
        if engine.dialect.name == "postgresql":
            assert "devices_readings_default" in tables
        with engine.begin() as connection:
            assert connection.execute(text("SELECT value FROM devices_readings")).all() == [(2.5,)]
        downgrade(engine, "0005")
        tables = set(inspect(engine).get_table_names())
        assert "devices_rollups_1m" not in tables
        assert "devices_readings_default" not in tables
        with engine.begin() as connection:
            assert connection.execute(text("SELECT value FROM devices_readings")).all() == [(2.5,)]
        upgrade(engine)


def test_migration_0013_regroups_readings_by_sample_and_latest_values_by_device(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = request.config.getoption("--dburl")
    with throwaway(server, tmp_path) as engine:
        upgrade(engine, "0012")
        first, second = ms(2026, 3, 1), ms(2026, 3, 1, 0, 1)
        values = [
            ("aq-000001", "no2", first, 31.0),
            ("aq-000001", "pm25", first, 2.5),
            ("aq-000001", "pm25", second, 3.5),
            ("wl-000001", "water_level", second, 1.25),
        ]
        latest = [("aq-000001", "no2", first, 31.0), ("aq-000001", "pm25", second, 3.5)]
        with without_foreign_keys(engine) as connection:
            connection.execute(
                text(
                    "INSERT INTO devices (id, type_code, name, lon, lat, area_path,"
                    " department_id, status, online, created_at, updated_at) VALUES"
                    " ('aq-000001', 'air_quality', 'AQ 1', 112.9, 28.2, 'city', :d,"
                    " 'active', false, :t, :t)"
                ),
                {"d": str(uuid.uuid4()), "t": datetime.now(UTC).isoformat()},
            )
            connection.execute(
                text(OLD_READING), [dict(zip("dmtv", v, strict=True)) for v in values]
            )
            connection.execute(
                text(
                    "INSERT INTO devices_latest (device_id, metric, ts, value)"
                    " VALUES (:d, :m, :t, :v)"
                ),
                [dict(zip("dmtv", v, strict=True)) for v in latest],
            )
        upgrade(engine)
        with engine.begin() as connection:
            samples = connection.execute(
                select(Reading.device_id, Reading.ts, Reading.data).order_by(
                    Reading.ts, Reading.device_id
                )
            ).all()
            assert [tuple(s) for s in samples] == [
                ("aq-000001", first, {"no2": 31.0, "pm25": 2.5}),
                ("aq-000001", second, {"pm25": 3.5}),
                ("wl-000001", second, {"water_level": 1.25}),
            ]
            newest = connection.execute(
                select(LatestValue.device_id, LatestValue.ts, LatestValue.data)
            ).all()
            assert [tuple(n) for n in newest] == [
                ("aq-000001", second, {"no2": [first, 31.0], "pm25": [second, 3.5]})
            ]
        if engine.dialect.name == "postgresql":
            assert "devices_readings_default" in set(inspect(engine).get_table_names())
        downgrade(engine, "0012")
        with engine.begin() as connection:
            assert [tuple(r) for r in connection.execute(text(OLD_VALUES))] == sorted(
                values, key=lambda v: (v[2], v[1])
            )
            back = connection.execute(
                text("SELECT device_id, metric, ts, value FROM devices_latest ORDER BY metric")
            )
            assert [tuple(r) for r in back] == latest
        upgrade(engine)


@contextmanager
def without_foreign_keys(engine: Engine) -> Iterator[Connection]:
    """A transaction that may write a device without its department and type (the foreign
    keys are not what the migration test is about)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            yield connection
        return
    plain = create_engine(engine.url)  # SQLite checks foreign keys only when told to
    try:
        with plain.begin() as connection:
            yield connection
    finally:
        plain.dispose()


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@contextmanager
def throwaway(server: str, tmp_path: Path) -> Iterator[Engine]:
    if not server:
        engine = create_db_engine(f"sqlite:///{tmp_path}/migrate.sqlite3")
        yield engine
        engine.dispose()
        return
    name = f"cityops_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_db_engine(admin.url.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
