"""Changes by run: ``modelsync changes --run ID`` and ``GET /api/changes?run=`` read an index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

``ix_changes_run_id_seq`` finds one run's changes, in seq order, without scanning the history.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ix_changes_run_id_seq."""
    op.create_index(op.f("ix_changes_run_id_seq"), "changes", ["run_id", "seq"])


def downgrade() -> None:
    """Drop ix_changes_run_id_seq."""
    op.drop_index(op.f("ix_changes_run_id_seq"), table_name="changes")
