"""drop case indexes no query uses (state alone, source, district_id, grid_id)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = {
    "ix_cases_state": ["state"],
    "ix_cases_source": ["source"],
    "ix_cases_district_id": ["district_id"],
    "ix_cases_grid_id": ["grid_id"],
}


def upgrade() -> None:
    for name in DROPPED:
        op.drop_index(name, table_name="cases")


def downgrade() -> None:
    for name, columns in DROPPED.items():
        op.create_index(name, "cases", columns)
