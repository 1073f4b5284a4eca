"""brain: the triage of new reports, labelled examples, and the machine-dispatch mark on cases

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cityops.core.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("cases", sa.Column("machine_dispatch", JSON, nullable=True))
    op.create_table(
        "brain_triage",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("suggestions", JSON, nullable=False),
        sa.Column("top_confidence", sa.Float(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brain_triage")),
        sa.UniqueConstraint("case_id", name=op.f("uq_brain_triage_case_id")),
    )
    op.create_table(
        "brain_training_examples",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=150), nullable=False),
        sa.Column("at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("machine_label", sa.String(length=32), nullable=True),
        sa.Column("doubtful", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brain_training_examples")),
        sa.UniqueConstraint("case_id", "event_id", name=op.f("uq_brain_training_examples_case_id")),
    )
    op.create_index(
        op.f("ix_brain_training_examples_case_id"),
        "brain_training_examples",
        ["case_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_brain_training_examples_label"), "brain_training_examples", ["label"], unique=False
    )
    op.create_index(
        "ix_brain_examples_source_at", "brain_training_examples", ["source", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_brain_examples_source_at", table_name="brain_training_examples")
    op.drop_index(op.f("ix_brain_training_examples_label"), table_name="brain_training_examples")
    op.drop_index(op.f("ix_brain_training_examples_case_id"), table_name="brain_training_examples")
    op.drop_table("brain_training_examples")
    op.drop_table("brain_triage")
    op.drop_column("cases", "machine_dispatch")
