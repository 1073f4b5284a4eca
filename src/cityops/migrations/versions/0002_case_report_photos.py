"""cases.report_photos: the report's photo ids on the case row

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # A plain ADD COLUMN with a default: SQLite's batch mode would copy the table, which
    # foreign keys pointing at cases forbid once there are rows.
    op.add_column(
        "cases",
        sa.Column("report_photos", JSON, nullable=False, server_default=sa.text("'[]'")),
    )
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    uploads = sa.table(
        "cases_uploads",
        sa.column("case_id"),
        sa.column("id"),
        sa.column("stage"),
        sa.column("created_at"),
    )
    cases = sa.table("cases", sa.column("id"), sa.column("report_photos", JSON))
    photos: dict[object, list[str]] = defaultdict(list)
    rows = bind.execute(
        sa.select(uploads.c.case_id, uploads.c.id)
        .where(uploads.c.stage == "report", uploads.c.case_id.is_not(None))
        .order_by(uploads.c.created_at)
    )
    for case_id, upload_id in rows:
        photos[case_id].append(str(upload_id))
    for case_id, ids in photos.items():
        bind.execute(sa.update(cases).where(cases.c.id == case_id).values(report_photos=ids))


def downgrade() -> None:
    op.drop_column("cases", "report_photos")
