"""duplicates: per-category search radius and window, the case grid cell, proposals

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

import math
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cityops.core.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As cityops.cases.duplicates.cell_of (copied: a migration must not change with the code).
_CELL_DEGREES = 0.002
_COLUMNS = 1_000_000
_BATCH = 2000


def _cell(lon: float, lat: float) -> int:
    return math.floor((lat + 90.0) / _CELL_DEGREES) * _COLUMNS + math.floor(
        (lon + 180.0) / _CELL_DEGREES
    )


def upgrade() -> None:
    with op.batch_alter_table("cases_categories") as batch:
        batch.add_column(
            sa.Column("duplicate_radius_m", sa.Float(), nullable=False, server_default="150")
        )
        batch.add_column(
            sa.Column("duplicate_window_hours", sa.Float(), nullable=False, server_default="72")
        )
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("cell", sa.BigInteger(), nullable=True))
    _backfill_cells()
    op.create_index(
        "ix_cases_duplicate_search", "cases", ["category_id", "cell", "created_at"], unique=False
    )
    op.create_table(
        "cases_duplicates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column(
            "components",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", cityops.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["candidate_id"], ["cases.id"], name=op.f("fk_cases_duplicates_candidate_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_cases_duplicates_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases_duplicates")),
        sa.UniqueConstraint("case_id", "candidate_id", name=op.f("uq_cases_duplicates_case_id")),
    )
    op.create_index(
        op.f("ix_cases_duplicates_candidate_id"), "cases_duplicates", ["candidate_id"], unique=False
    )


def _backfill_cells() -> None:
    bind = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", sa.Uuid()),
        sa.column("lon", sa.Float()),
        sa.column("lat", sa.Float()),
        sa.column("cell", sa.BigInteger()),
    )
    update = (
        sa.update(cases)
        .where(cases.c.id == sa.bindparam("b_id"))
        .values(cell=sa.bindparam("b_cell"))
    )
    rows = bind.execute(sa.select(cases.c.id, cases.c.lon, cases.c.lat)).all()
    for start in range(0, len(rows), _BATCH):
        batch = [
            {"b_id": row.id, "b_cell": _cell(row.lon, row.lat)}
            for row in rows[start : start + _BATCH]
        ]
        bind.execute(update, batch)


def downgrade() -> None:
    op.drop_index(op.f("ix_cases_duplicates_candidate_id"), table_name="cases_duplicates")
    op.drop_table("cases_duplicates")
    op.drop_index("ix_cases_duplicate_search", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("cell")
    with op.batch_alter_table("cases_categories") as batch:
        batch.drop_column("duplicate_window_hours")
        batch.drop_column("duplicate_radius_m")
