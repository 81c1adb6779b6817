"""The outbound change webhooks' outbox: deliveries survive a restart.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

``webhook_outbox`` holds one row per subscriber and committed run until it is delivered or given
up; ``outbox_cursor`` the last change ``seq`` turned into rows, so a process that starts after a
run committed still sends it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create webhook_outbox and outbox_cursor."""
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "webhook_outbox",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("subscriber", sa.Text(), nullable=False),
        sa.Column("msg_id", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_outbox")),
        sa.UniqueConstraint(
            "subscriber", "msg_id", name=op.f("uq_webhook_outbox_subscriber_msg_id")
        ),
    )
    op.create_index(
        op.f("ix_webhook_outbox_status_next_attempt_at"),
        "webhook_outbox",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "outbox_cursor",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_cursor")),
    )


def downgrade() -> None:
    """Drop the outbox."""
    op.drop_table("outbox_cursor")
    op.drop_index(op.f("ix_webhook_outbox_status_next_attempt_at"), table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
