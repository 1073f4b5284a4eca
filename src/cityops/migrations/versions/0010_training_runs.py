"""brain: training runs (one at a time across processes) and one active model version

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cityops.core.db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AT = cityops.core.db.base.UTCDateTime(timezone=True)


def _one_where(name: str, table: str, value: str) -> None:
    where = sa.text(f"status = '{value}'")
    op.create_index(
        name, table, ["status"], unique=True, sqlite_where=where, postgresql_where=where
    )


def upgrade() -> None:
    op.create_table(
        "brain_training_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("started_at", AT, nullable=False),
        sa.Column("started_by", sa.String(length=150), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("activate", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("finished_at", AT, nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brain_training_runs")),
    )
    op.create_index(
        "ix_brain_training_runs_started_at", "brain_training_runs", ["started_at"], unique=False
    )
    _one_where("uq_brain_training_runs_one_running", "brain_training_runs", "running")
    _one_where("uq_brain_model_versions_one_active", "brain_model_versions", "active")


def downgrade() -> None:
    op.drop_index("uq_brain_model_versions_one_active", table_name="brain_model_versions")
    op.drop_index("uq_brain_training_runs_one_running", table_name="brain_training_runs")
    op.drop_index("ix_brain_training_runs_started_at", table_name="brain_training_runs")
    op.drop_table("brain_training_runs")
