"""Staged applies: a big plan's rows are written in short transactions before it is published.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

``staged_models`` and ``staged_changes`` hold the rows of a run's plan, keyed by the gateway and
the run's fencing token, until the run's one publishing transaction copies them into ``models``
and ``changes`` and deletes them. Readers never look at them. JSON is kept as text here (it is
only copied).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create staged_models and staged_changes."""
    op.create_table(
        "staged_models",
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("gateway_model_id", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("provider_slug", sa.Text()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "gateway", "token", "gateway_model_id", name=op.f("pk_staged_models")
        ),
    )
    op.create_table(
        "staged_changes",
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("ord", sa.Integer(), nullable=False),
        sa.Column("gateway_model_id", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("anomalies", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("gateway", "token", "ord", name=op.f("pk_staged_changes")),
    )


def downgrade() -> None:
    """Drop the staging tables."""
    op.drop_table("staged_changes")
    op.drop_table("staged_models")
