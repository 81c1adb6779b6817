"""Each change's JSON, written once: the change feed reads one text a change, not ten columns.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

``changes.doc`` holds a change's JSON as ``GET /api/changes`` serves it, from ``"gateway"`` on
(the ``seq`` is the row's key, prefixed when served); ``staged_changes.head`` its part known
when a run's plan is staged (the rest, source, catalog version and time, is appended when the
run publishes). A change written before this revision, or whose model's canonical id moved
since (its history is re-keyed), has no ``doc``: a page holding one is read from the columns,
as before. Reading 100 changes from the columns took 103 us on SQLite (eleven values a row,
each a Python object), from ``doc`` 35 us.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add changes.doc and staged_changes.head."""
    op.add_column("changes", sa.Column("doc", sa.Text(), nullable=True))
    op.add_column("staged_changes", sa.Column("head", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop them (SQLite drops a column in place since 3.35)."""
    op.drop_column("staged_changes", "head")
    op.drop_column("changes", "doc")
