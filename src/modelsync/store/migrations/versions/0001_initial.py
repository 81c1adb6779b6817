"""The initial schema: catalog_meta, gateways, models, changes, sync_runs, webhook_deliveries.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Hand-written to match ``modelsync/store/schema.py``; tests/store/test_migrations.py compares them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create every table, and the catalog_meta row at version 0."""
    catalog_meta = op.create_table(
        "catalog_meta",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_meta"),
    )
    op.create_table(
        "gateways",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text()),
        _time("last_attempt_at"),
        _time("last_success_at"),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_outcome", sa.String(20)),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        _time("next_run_at"),
        sa.Column("model_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("body_hash", sa.String(128)),
        _time("last_full_sync_at"),
        sa.Column("lease_owner", sa.Text()),
        _time("lease_expires_at"),
        sa.Column("fencing_token", sa.BigInteger(), nullable=False),
        _time("last_webhook_at"),
        sa.Column("last_webhook", JSON),
        sa.PrimaryKeyConstraint("name", name="pk_gateways"),
    )
    op.create_table(
        "models",
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("gateway_model_id", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("provider_slug", sa.Text()),
        sa.Column("presence", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("miss_count", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        _time("first_seen_at", nullable=False),
        _time("last_seen_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["gateway"], ["gateways.name"], name="fk_models_gateway_gateways"),
        sa.PrimaryKeyConstraint("gateway", "gateway_model_id", name="pk_models"),
    )
    op.create_index("ix_models_model_id", "models", ["model_id"])
    op.create_index("ix_models_provider_slug", "models", ["provider_slug"])
    op.create_table(
        "changes",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("gateway_model_id", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("anomalies", JSON, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("run_id", sa.BigInteger()),
        sa.Column("catalog_version", sa.BigInteger(), nullable=False),
        _time("at", nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_changes"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_changes_gateway_seq", "changes", ["gateway", "seq"])
    op.create_index("ix_changes_model_id_seq", "changes", ["model_id", "seq"])
    op.create_index("ix_changes_at", "changes", ["at"])
    op.create_table(
        "sync_runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        _time("started_at", nullable=False),
        _time("finished_at", nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("restored", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("total_models", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer()),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("body_hash", sa.String(128)),
        sa.Column("full_sync", sa.Boolean(), nullable=False),
        _time("next_run_at"),
        sa.Column("catalog_version", sa.BigInteger()),
        sa.PrimaryKeyConstraint("id", name="pk_sync_runs"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_sync_runs_gateway_id", "sync_runs", ["gateway", "id"])
    op.create_index("ix_sync_runs_finished_at", "sync_runs", ["finished_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("scheme", sa.String(40), nullable=False),
        sa.Column("gateway", sa.String(100)),
        sa.Column("event_types", JSON, nullable=False),
        sa.Column("model_count", sa.Integer(), nullable=False),
        _time("received_at", nullable=False),
        _time("expires_at", nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("key", name="uq_webhook_deliveries_key"),
    )
    op.create_index("ix_webhook_deliveries_expires_at", "webhook_deliveries", ["expires_at"])
    op.create_index("ix_webhook_deliveries_received_at", "webhook_deliveries", ["received_at"])
    op.bulk_insert(catalog_meta, [{"id": 1, "version": 0}])


def downgrade() -> None:
    """Drop every table."""
    for table in ("webhook_deliveries", "sync_runs", "changes", "models", "gateways"):
        op.drop_table(table)
    op.drop_table("catalog_meta")
