"""devices: latest values leave half of each page free (PostgreSQL)

Every ingest batch rewrites the latest value of each (device, metric) it carries. With full
pages each rewrite is a new tuple elsewhere plus a new primary-key entry; with room on the
page PostgreSQL updates in place (a heap-only tuple, the index untouched), which halves the
cost of that upsert. Pages fill to the new setting as rows are rewritten. SQLite has no
such setting.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE devices_latest SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE devices_latest RESET (fillfactor)")
