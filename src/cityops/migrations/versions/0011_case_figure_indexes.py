"""cases: covering indexes for the on-time rate and satisfaction of a period

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Partial: a case enters them when it is handled or rated, not when it is reported.
INDEXES = {
    "ix_cases_handled": ["handled_at", "department_id", "handle_due_at"],
    "ix_cases_evaluated": ["evaluated_at", "department_id", "rating"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        where = sa.text(f"{columns[0]} IS NOT NULL")
        op.create_index(name, "cases", columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="cases")
