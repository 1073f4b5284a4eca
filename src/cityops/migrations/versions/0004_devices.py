"""devices: types, devices, readings, latest values, refused messages, health history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Readings are kept narrow (device, metric, epoch-millisecond ts, value) with the primary key as
their one index. On PostgreSQL the next step for volume is range partitioning by ts (monthly
partitions created ahead by a job), with 1-minute/1-hour rollups and Parquet archives of old
partitions; see docs/devices.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from cityops.core.db.base import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "devices_types",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=150), nullable=False),
        sa.Column("department_kind", sa.String(length=32), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_devices_types")),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type_code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("area_path", sa.String(length=255), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=True),
        sa.Column("street_id", sa.Uuid(), nullable=True),
        sa.Column("community_id", sa.Uuid(), nullable=True),
        sa.Column("grid_id", sa.Uuid(), nullable=True),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("installed_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=True),
        sa.Column("token_prefix", sa.String(length=16), nullable=True),
        _when("token_issued_at", nullable=True),
        _when("last_seen_at", nullable=True),
        _when("offline_after", nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["org_departments.id"],
            name=op.f("fk_devices_department_id_org_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["type_code"], ["devices_types.code"], name=op.f("fk_devices_type_code_devices_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_devices_token_digest")),
    )
    op.create_index("ix_devices_area_path", "devices", ["area_path"])
    op.create_index("ix_devices_created_at", "devices", ["created_at"])
    op.create_index("ix_devices_department_id", "devices", ["department_id"])
    op.create_index("ix_devices_online_offline_after", "devices", ["online", "offline_after"])
    op.create_index("ix_devices_type_status", "devices", ["type_code", "status"])
    op.create_table(
        "devices_readings",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "metric", "ts", name=op.f("pk_devices_readings")),
    )
    op.create_table(
        "devices_latest",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_devices_latest_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "metric", name=op.f("pk_devices_latest")),
    )
    op.create_table(
        "devices_rejections",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        _when("last_at"),
        sa.Column("last_detail", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_devices_rejections_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "reason", name=op.f("pk_devices_rejections")),
    )
    op.create_table(
        "devices_health_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        _when("at"),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_devices_health_events_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices_health_events")),
    )
    op.create_index(
        "ix_devices_health_events_device_at", "devices_health_events", ["device_id", "at"]
    )


def downgrade() -> None:
    op.drop_table("devices_health_events")
    op.drop_table("devices_rejections")
    op.drop_table("devices_latest")
    op.drop_table("devices_readings")
    op.drop_table("devices")
    op.drop_table("devices_types")
