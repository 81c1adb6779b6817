"""The process registry, and who a lease was taken from.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

``processes``: one row per serving process (id, host, pid, version, start), refreshed by its
heartbeat with the database's clock and the catalog version it has applied; a row silent past
the expiry is dead and deleted by the next heartbeat of any process. ``gateways.lease_taken_from``
is the owner whose lapsed lease the current holder took over (null when the lease was free), so
takeovers can be counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create processes; add gateways.lease_taken_from."""
    op.create_table(
        "processes",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_version", sa.BigInteger(), nullable=False),
        sa.Column("behind_since", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processes")),
    )
    op.add_column("gateways", sa.Column("lease_taken_from", sa.Text()))


def downgrade() -> None:
    """Drop them."""
    op.drop_column("gateways", "lease_taken_from")
    op.drop_table("processes")
