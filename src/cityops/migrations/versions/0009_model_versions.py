"""brain: model versions (train, evaluate, activate, roll back) and the version a triage used

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cityops.core.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
AT = cityops.core.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "brain_model_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("training", JSON, nullable=False),
        sa.Column("evaluation", JSON, nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("macro_f1", sa.Float(), nullable=True),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("activated_at", AT, nullable=True),
        sa.Column("activated_by", sa.String(length=150), nullable=True),
        sa.Column("previous_version", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brain_model_versions")),
        sa.UniqueConstraint("version", name=op.f("uq_brain_model_versions_version")),
    )
    op.create_index(
        op.f("ix_brain_model_versions_status"), "brain_model_versions", ["status"], unique=False
    )
    op.add_column("brain_triage", sa.Column("model_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("brain_triage", "model_version")
    op.drop_index(op.f("ix_brain_model_versions_status"), table_name="brain_model_versions")
    op.drop_table("brain_model_versions")
