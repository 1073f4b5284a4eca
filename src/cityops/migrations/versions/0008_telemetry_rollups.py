"""telemetry rollups: 1-minute and 1-hour aggregates, their watermarks, late hours to redo;
readings indexed by time

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21

Raw readings older than the hot window leave the database for Parquet files (no schema);
see docs/devices.md, "Storage, rollups and archive". On PostgreSQL ``devices_readings``
becomes a table range-partitioned by ``ts``: one partition per UTC month from its oldest
reading to two months ahead (the job ``devices.partitions`` keeps creating them) and a
default partition; its rows are copied over. SQLite keeps one plain table.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rollup(name: str) -> None:
    op.create_table(
        name,
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "metric", "bucket", name=op.f(f"pk_{name}")),
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _next_month(moment: datetime) -> datetime:
    if moment.month == 12:
        return moment.replace(year=moment.year + 1, month=1)
    return moment.replace(month=moment.month + 1)


def _readings_table(partitioned: bool) -> None:
    tail = " PARTITION BY RANGE (ts)" if partitioned else ""
    op.execute(
        "CREATE TABLE devices_readings (device_id VARCHAR(64) NOT NULL,"
        " metric VARCHAR(32) NOT NULL, ts BIGINT NOT NULL, value FLOAT NOT NULL,"
        f" CONSTRAINT pk_devices_readings PRIMARY KEY (device_id, metric, ts)){tail}"
    )


def _partition_readings() -> None:
    bind = op.get_bind()
    oldest = bind.execute(sa.text("SELECT min(ts) FROM devices_readings")).scalar()
    op.execute("ALTER TABLE devices_readings RENAME TO devices_readings_old")
    op.execute(
        "ALTER TABLE devices_readings_old"
        " RENAME CONSTRAINT pk_devices_readings TO pk_devices_readings_old"
    )
    _readings_table(partitioned=True)
    op.execute("CREATE TABLE devices_readings_default PARTITION OF devices_readings DEFAULT")
    now = datetime.now(UTC)
    first = datetime.fromtimestamp(oldest / 1000, UTC) if oldest is not None else now
    month = datetime(min(first, now).year, min(first, now).month, 1, tzinfo=UTC)
    last = _next_month(_next_month(datetime(now.year, now.month, 1, tzinfo=UTC)))
    while month <= last:
        end = _next_month(month)
        op.execute(
            f"CREATE TABLE devices_readings_p{month:%Y%m} PARTITION OF devices_readings"
            f" FOR VALUES FROM ({_ms(month)}) TO ({_ms(end)})"
        )
        month = end
    op.execute(
        "INSERT INTO devices_readings SELECT device_id, metric, ts, value FROM devices_readings_old"
    )
    op.execute("DROP TABLE devices_readings_old")


def _unpartition_readings() -> None:
    op.execute("ALTER TABLE devices_readings RENAME TO devices_readings_parts")
    op.execute(
        "ALTER TABLE devices_readings_parts"
        " RENAME CONSTRAINT pk_devices_readings TO pk_devices_readings_parts"
    )
    _readings_table(partitioned=False)
    op.execute(
        "INSERT INTO devices_readings"
        " SELECT device_id, metric, ts, value FROM devices_readings_parts"
    )
    op.execute("DROP TABLE devices_readings_parts")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _partition_readings()
    op.create_index("ix_devices_readings_ts", "devices_readings", ["ts"])
    _rollup("devices_rollups_1m")
    _rollup("devices_rollups_1h")
    op.create_index("ix_devices_rollups_1m_bucket", "devices_rollups_1m", ["bucket"])
    op.create_table(
        "devices_rollup_marks",
        sa.Column("resolution", sa.String(length=8), nullable=False),
        sa.Column("upto", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("resolution", name=op.f("pk_devices_rollup_marks")),
    )
    op.create_table(
        "devices_rollup_dirty",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "hour", name=op.f("pk_devices_rollup_dirty")),
    )


def downgrade() -> None:
    op.drop_table("devices_rollup_dirty")
    op.drop_table("devices_rollup_marks")
    op.drop_table("devices_rollups_1h")
    op.drop_index("ix_devices_rollups_1m_bucket", table_name="devices_rollups_1m")
    op.drop_table("devices_rollups_1m")
    op.drop_index("ix_devices_readings_ts", table_name="devices_readings")
    if op.get_bind().dialect.name == "postgresql":
        _unpartition_readings()
