"""Canonical identity: the fingerprint of the identity rules the stored ids follow.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

``catalog_meta.identity_rules`` holds the fingerprint (rules version and operator overrides) the
stored canonical ids were computed with; a process whose fingerprint differs migrates the stored
ids (``Store.migrate_identities``). ``NULL``: never migrated, so the first start migrates.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add catalog_meta.identity_rules."""
    with op.batch_alter_table("catalog_meta") as batch:
        batch.add_column(sa.Column("identity_rules", sa.String(64)))


def downgrade() -> None:
    """Drop catalog_meta.identity_rules."""
    with op.batch_alter_table("catalog_meta") as batch:
        batch.drop_column("identity_rules")
