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
from sqlalchemy import Engine, create_engine, func, insert, inspect, select, text

from cityops.core.db import create_db_engine
from cityops.core.runtime import Runtime
from cityops.devices.models import Reading
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
        {"device_id": "aq-000001", "metric": "pm25", "ts": ts, "value": 1.5}
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


def test_migration_0008_down_and_up_keeps_the_readings(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = request.config.getoption("--dburl")
    with throwaway(server, tmp_path) as engine:
        upgrade(engine, "0005")
        row = {"device_id": "aq-000001", "metric": "pm25", "ts": ms(2026, 3, 1), "value": 2.5}
        with engine.begin() as connection:
            connection.execute(insert(Reading), [row])
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"devices_rollups_1m", "devices_rollups_1h", "devices_rollup_marks"} <= tables
        if engine.dialect.name == "postgresql":
            assert "devices_readings_default" in tables
        with engine.begin() as connection:
            assert connection.execute(select(Reading.value)).scalars().all() == [2.5]
        downgrade(engine, "0005")
        tables = set(inspect(engine).get_table_names())
        assert "devices_rollups_1m" not in tables
        assert "devices_readings_default" not in tables
        with engine.begin() as connection:
            assert connection.execute(select(Reading.value)).scalars().all() == [2.5]
        upgrade(engine)


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
