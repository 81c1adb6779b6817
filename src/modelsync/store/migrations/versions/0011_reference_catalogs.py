"""Reference price catalogs (issue 9 item 3).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

``reference_catalogs``: one row per reference price catalog (models.dev, LiteLLM): when it was
last fetched with a change, the hash of that body, and its price table as JSON text, so every
process enriches offers from the same fetch and a restart (or a failing fetch) keeps the prices.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create reference_catalogs."""
    op.create_table(
        "reference_catalogs",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body_hash", sa.Text(), nullable=False),
        sa.Column("prices", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reference_catalogs")),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("reference_catalogs")
