"""devices: a readings row per sample, a latest-values row per device

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22

``devices_readings`` held a row per value (device, metric, ts, value); it now holds a row per
sample (device, ts, data: a JSON object of metric: value), a third of the rows and index
entries for the usual three-metric sample. ``devices_latest`` held a row per (device, metric);
it now holds a row per device (ts: the newest of its times, data: a JSON object of metric:
[ts, value]). The rows are
regrouped through temporary tables; on PostgreSQL the readings table is recreated partitioned
by month as in 0008 (from its oldest reading to two months ahead, plus a default partition).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _next_month(moment: datetime) -> datetime:
    if moment.month == 12:
        return moment.replace(year=moment.year + 1, month=1)
    return moment.replace(month=moment.month + 1)


def _months(oldest: int | None) -> list[tuple[datetime, datetime]]:
    now = datetime.now(UTC)
    first = datetime.fromtimestamp(oldest / 1000, UTC) if oldest is not None else now
    month = datetime(min(first, now).year, min(first, now).month, 1, tzinfo=UTC)
    last = _next_month(_next_month(datetime(now.year, now.month, 1, tzinfo=UTC)))
    spans = []
    while month <= last:
        spans.append((month, _next_month(month)))
        month = _next_month(month)
    return spans


def _readings_table(per_sample: bool, oldest: int | None) -> None:
    """The readings table, empty, with its time index; on PostgreSQL partitioned by month
    from the month of ``oldest`` (epoch ms; none: this month) to two months ahead."""
    if per_sample:
        columns = "ts BIGINT NOT NULL, data JSON NOT NULL"
        key = "device_id, ts"
    else:
        columns = "metric VARCHAR(32) NOT NULL, ts BIGINT NOT NULL, value FLOAT NOT NULL"
        key = "device_id, metric, ts"
    postgresql = _postgresql()
    tail = " PARTITION BY RANGE (ts)" if postgresql else ""
    op.execute(
        f"CREATE TABLE devices_readings (device_id VARCHAR(64) NOT NULL, {columns},"
        f" CONSTRAINT pk_devices_readings PRIMARY KEY ({key})){tail}"
    )
    if postgresql:
        op.execute("CREATE TABLE devices_readings_default PARTITION OF devices_readings DEFAULT")
        for start, end in _months(oldest):
            op.execute(
                f"CREATE TABLE devices_readings_p{start:%Y%m} PARTITION OF devices_readings"
                f" FOR VALUES FROM ({_ms(start)}) TO ({_ms(end)})"
            )
    op.create_index("ix_devices_readings_ts", "devices_readings", ["ts"])


def _latest_table(per_device: bool) -> None:
    if per_device:
        data = JSONB() if _postgresql() else sa.JSON()
        columns: list[sa.Column[Any]] = [
            sa.Column("ts", sa.BigInteger(), nullable=False),
            sa.Column("data", data, nullable=False),
        ]
        key = ["device_id"]
    else:
        columns = [
            sa.Column("metric", sa.String(length=32), nullable=False),
            sa.Column("ts", sa.BigInteger(), nullable=False),
            sa.Column("value", sa.Float(), nullable=False),
        ]
        key = ["device_id", "metric"]
    op.create_table(
        "devices_latest",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_devices_latest_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_devices_latest")),
        postgresql_with={"fillfactor": FILLFACTOR},
    )


def _regroup(readings: str, latest: str, *, new_layout: bool) -> None:
    """Copy both tables' rows regrouped by the two queries (selecting the other layout's
    columns in table order) into temporary tables, recreate the tables and copy them back."""
    op.execute(f"CREATE TEMPORARY TABLE readings_moving AS {readings}")
    op.execute(f"CREATE TEMPORARY TABLE latest_moving AS {latest}")
    op.execute("DROP TABLE devices_readings")
    op.execute("DROP TABLE devices_latest")
    oldest = None  # the first month to partition (PostgreSQL only)
    if _postgresql():
        oldest = op.get_bind().execute(sa.text("SELECT min(ts) FROM readings_moving")).scalar()
    _readings_table(per_sample=new_layout, oldest=oldest)
    _latest_table(per_device=new_layout)
    op.execute("INSERT INTO devices_readings SELECT * FROM readings_moving")
    op.execute("INSERT INTO devices_latest SELECT * FROM latest_moving")
    op.execute("DROP TABLE readings_moving")
    op.execute("DROP TABLE latest_moving")


def upgrade() -> None:
    if _postgresql():
        samples = "json_object_agg(metric, value)"
        newest = "jsonb_object_agg(metric, jsonb_build_array(ts, value))"
    else:
        samples = "json_group_object(metric, value)"
        newest = "json_group_object(metric, json_array(ts, value))"
    _regroup(
        f"SELECT device_id, ts, {samples} AS data FROM devices_readings GROUP BY device_id, ts",  # noqa: S608
        f"SELECT device_id, max(ts) AS ts, {newest} AS data FROM devices_latest"  # noqa: S608
        " GROUP BY device_id",
        new_layout=True,
    )


def downgrade() -> None:
    if _postgresql():
        values = "json_each_text(r.data) AS v"
        value = "v.value::float8"
        newest = "jsonb_each(l.data) AS v"
        latest = "(v.value ->> 0)::bigint AS ts, (v.value ->> 1)::float8 AS value"
    else:
        values = "json_each(r.data) AS v"
        value = "v.value"
        newest = "json_each(l.data) AS v"
        latest = "json_extract(v.value, '$[0]') AS ts, json_extract(v.value, '$[1]') AS value"
    _regroup(
        f"SELECT r.device_id, v.key AS metric, r.ts, {value} AS value"  # noqa: S608
        f" FROM devices_readings AS r, {values}",
        f"SELECT l.device_id, v.key AS metric, {latest} FROM devices_latest AS l, {newest}",  # noqa: S608
        new_layout=False,
    )
