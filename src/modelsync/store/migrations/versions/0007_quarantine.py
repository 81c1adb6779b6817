"""Per-entry quarantine and filtered entries: what a run set aside, and why.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

Issue 9 items 4 and 6:

* ``gateways.quarantined``: the entries the gateway's last read snapshot set aside
  (``{id or place: reason}``), shown by the status and compared by the next run, which records
  a ``quarantined`` change only for an entry newly set aside (or for another reason);
* ``sync_runs.quarantined``: the same for each run (null for a run that read no snapshot);
* ``sync_runs.filtered``: the entries the adapter left out by design, counted by reason.

JSON (``jsonb`` on PostgreSQL), nullable: older rows have none. Hand-written to match
``modelsync/store/schema.py``; tests/store/test_migrations.py compares them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Add gateways.quarantined, sync_runs.quarantined and sync_runs.filtered."""
    op.add_column("gateways", sa.Column("quarantined", JSON))
    op.add_column("sync_runs", sa.Column("quarantined", JSON))
    op.add_column("sync_runs", sa.Column("filtered", JSON))


def downgrade() -> None:
    """Drop them (``ALTER TABLE ... DROP COLUMN`` in place: SQLite 3.35+ has it, and rebuilding
    ``gateways`` would trip the models' foreign key)."""
    op.drop_column("sync_runs", "filtered")
    op.drop_column("sync_runs", "quarantined")
    op.drop_column("gateways", "quarantined")
