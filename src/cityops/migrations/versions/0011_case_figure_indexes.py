"""cases: covering indexes for the on-time rate and satisfaction of a period

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cases_handled", "cases", ["handled_at", "department_id", "handle_due_at"])
    op.create_index("ix_cases_evaluated", "cases", ["evaluated_at", "department_id", "rating"])


def downgrade() -> None:
    op.drop_index("ix_cases_evaluated", table_name="cases")
    op.drop_index("ix_cases_handled", table_name="cases")
