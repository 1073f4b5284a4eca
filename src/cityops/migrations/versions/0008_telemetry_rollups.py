"""telemetry rollups: 1-minute and 1-hour aggregates, their watermarks, late hours to redo;
readings indexed by time

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-21

Raw readings older than the hot window leave the database for Parquet files (no schema);
see docs/devices.md, "Storage, rollups and archive".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
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


def upgrade() -> None:
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
