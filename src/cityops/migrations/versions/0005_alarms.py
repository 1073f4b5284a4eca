"""alarms: rules per device type, device overrides, evaluation state, alarms and their history

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cityops.core.db.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarms_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=150), nullable=False),
        sa.Column("device_type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=True),
        sa.Column(
            "levels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("deadband", sa.Float(), nullable=False),
        sa.Column("for_seconds", sa.Float(), nullable=False),
        sa.Column("window_seconds", sa.Float(), nullable=False),
        sa.Column("silence_seconds", sa.Float(), nullable=False),
        sa.Column("case_severity", sa.String(length=16), nullable=True),
        sa.Column("case_category", sa.String(length=32), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms_rules")),
        sa.UniqueConstraint("code", name=op.f("uq_alarms_rules_code")),
    )
    op.create_index(
        op.f("ix_alarms_rules_created_at"), "alarms_rules", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_alarms_rules_device_type"), "alarms_rules", ["device_type"], unique=False
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("open_key", sa.String(length=120), nullable=True),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("rule_code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("device_type", sa.String(length=64), nullable=False),
        sa.Column("device_name", sa.String(length=200), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("area_path", sa.String(length=255), nullable=True),
        sa.Column("department_code", sa.String(length=64), nullable=True),
        sa.Column("department_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("severity_rank", sa.SmallInteger(), nullable=False),
        sa.Column("raised_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_value", sa.Float(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("peak_value", sa.Float(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column(
            "readings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "acknowledged_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("acknowledged_by", sa.String(length=150), nullable=True),
        sa.Column("cleared_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=150), nullable=True),
        sa.Column("clear_note", sa.Text(), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("case_pending", sa.Boolean(), nullable=False),
        sa.Column("case_error", sa.String(length=300), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alarms_rules.id"], name=op.f("fk_alarms_rule_id_alarms_rules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
        sa.UniqueConstraint("open_key", name=op.f("uq_alarms_open_key")),
    )
    op.create_index(op.f("ix_alarms_case_id"), "alarms", ["case_id"], unique=False)
    op.create_index(op.f("ix_alarms_case_pending"), "alarms", ["case_pending"], unique=False)
    op.create_index(op.f("ix_alarms_created_at"), "alarms", ["created_at"], unique=False)
    op.create_index(op.f("ix_alarms_department_code"), "alarms", ["department_code"], unique=False)
    op.create_index("ix_alarms_device_rule", "alarms", ["device_id", "rule_id"], unique=False)
    op.create_index(op.f("ix_alarms_device_type"), "alarms", ["device_type"], unique=False)
    op.create_index(op.f("ix_alarms_raised_at"), "alarms", ["raised_at"], unique=False)
    op.create_index("ix_alarms_state_area", "alarms", ["state", "area_path"], unique=False)
    op.create_table(
        "alarms_rule_overrides",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column(
            "levels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("deadband", sa.Float(), nullable=True),
        sa.Column("for_seconds", sa.Float(), nullable=True),
        sa.Column("window_seconds", sa.Float(), nullable=True),
        sa.Column("silence_seconds", sa.Float(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alarms_rules.id"],
            name=op.f("fk_alarms_rule_overrides_rule_id_alarms_rules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms_rule_overrides")),
        sa.UniqueConstraint("rule_id", "device_id", name=op.f("uq_alarms_rule_overrides_rule_id")),
    )
    op.create_index(
        op.f("ix_alarms_rule_overrides_created_at"),
        "alarms_rule_overrides",
        ["created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_alarms_rule_overrides_device_id"),
        "alarms_rule_overrides",
        ["device_id"],
        unique=False,
    )
    op.create_table(
        "alarms_rule_states",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("silent_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "device",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("updated_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alarms_rules.id"],
            name=op.f("fk_alarms_rule_states_rule_id_alarms_rules"),
        ),
        sa.PrimaryKeyConstraint("device_id", "rule_id", name=op.f("pk_alarms_rule_states")),
    )
    op.create_index(
        op.f("ix_alarms_rule_states_silent_at"), "alarms_rule_states", ["silent_at"], unique=False
    )
    op.create_table(
        "alarms_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("alarm_id", sa.Uuid(), nullable=False),
        sa.Column("at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=150), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_alarms_events_alarm_id_alarms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms_events")),
    )
    op.create_index(op.f("ix_alarms_events_alarm_id"), "alarms_events", ["alarm_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_alarms_events_alarm_id"), table_name="alarms_events")
    op.drop_table("alarms_events")
    op.drop_index(op.f("ix_alarms_rule_states_silent_at"), table_name="alarms_rule_states")
    op.drop_table("alarms_rule_states")
    op.drop_index(op.f("ix_alarms_rule_overrides_device_id"), table_name="alarms_rule_overrides")
    op.drop_index(op.f("ix_alarms_rule_overrides_created_at"), table_name="alarms_rule_overrides")
    op.drop_table("alarms_rule_overrides")
    op.drop_index("ix_alarms_state_area", table_name="alarms")
    op.drop_index(op.f("ix_alarms_raised_at"), table_name="alarms")
    op.drop_index(op.f("ix_alarms_device_type"), table_name="alarms")
    op.drop_index("ix_alarms_device_rule", table_name="alarms")
    op.drop_index(op.f("ix_alarms_department_code"), table_name="alarms")
    op.drop_index(op.f("ix_alarms_created_at"), table_name="alarms")
    op.drop_index(op.f("ix_alarms_case_pending"), table_name="alarms")
    op.drop_index(op.f("ix_alarms_case_id"), table_name="alarms")
    op.drop_table("alarms")
    op.drop_index(op.f("ix_alarms_rules_device_type"), table_name="alarms_rules")
    op.drop_index(op.f("ix_alarms_rules_created_at"), table_name="alarms_rules")
    op.drop_table("alarms_rules")
