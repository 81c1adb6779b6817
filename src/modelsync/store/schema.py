"""The tables of the SQL store, as SQLAlchemy Core on one :data:`metadata`.

``migrations/versions`` creates exactly this schema (a test compares the two on SQLite and
PostgreSQL); change both together. Times are stored as UTC: ``timestamptz`` on PostgreSQL, naive
UTC text on SQLite, and always read back timezone-aware (:class:`UtcDateTime`). JSON columns are
``jsonb`` on PostgreSQL and text on SQLite, (de)serialized by orjson (see ``sql.py``).

* ``catalog_meta``: one row (``id = 1``) holding the global ``catalog_version`` and the fingerprint
  of the identity rules the stored canonical ids follow (``identity_rules``).
* ``gateways``: configuration, schedule, last outcome, validators, version and lease per gateway.
* ``models``: the current catalog, one row per (gateway, gateway model id), removed ones kept.
  ``data`` is :meth:`Model.to_json`; the queried fields are copied into columns beside it.
* ``changes``: append-only history; ``seq`` never repeats (``AUTOINCREMENT`` on SQLite).
* ``sync_runs``: one row per finished run.
* ``webhook_deliveries``: accepted webhook deliveries, unique by idempotency ``key``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` in and out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store takes timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


Json: Any = JSON().with_variant(JSONB(), "postgresql")
"""JSON text on SQLite, ``jsonb`` on PostgreSQL."""

BigId: Any = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit key that is SQLite's ``INTEGER PRIMARY KEY`` (the rowid) there."""

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

catalog_meta = Table(
    "catalog_meta",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    Column("identity_rules", String(64)),
)

gateways = Table(
    "gateways",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("tier", String(20), nullable=False),
    Column("interval_s", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    Column("last_attempt_at", UtcDateTime),
    Column("last_success_at", UtcDateTime),
    Column("last_error", Text),
    Column("last_outcome", String(20)),
    Column("consecutive_failures", Integer, nullable=False),
    Column("next_run_at", UtcDateTime),
    Column("model_count", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(128)),
    Column("last_full_sync_at", UtcDateTime),
    Column("lease_owner", Text),
    Column("lease_expires_at", UtcDateTime),
    Column("fencing_token", BigInteger, nullable=False),
    Column("last_webhook_at", UtcDateTime),
    Column("last_webhook", Json),
)

models = Table(
    "models",
    metadata,
    Column("gateway", String(100), ForeignKey("gateways.name"), primary_key=True),
    Column("gateway_model_id", Text, primary_key=True),
    Column("model_id", Text, nullable=False),
    Column("name", Text),
    Column("provider_slug", Text),
    Column("presence", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("miss_count", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("data", Json, nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", BigInteger, nullable=False),
    Index(None, "model_id"),
    Index(None, "provider_slug"),
)

changes = Table(
    "changes",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("gateway", String(100), nullable=False),
    Column("gateway_model_id", Text, nullable=False),
    Column("model_id", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("fields", Json, nullable=False),
    Column("anomalies", Json, nullable=False),
    Column("source", String(20), nullable=False),
    Column("run_id", BigInteger),
    Column("catalog_version", BigInteger, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "gateway", "seq"),
    Index(None, "model_id", "seq"),
    Index(None, "at"),
    sqlite_autoincrement=True,
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("gateway", String(100), nullable=False),
    Column("trigger", String(20), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("added", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("removed", Integer, nullable=False),
    Column("restored", Integer, nullable=False),
    Column("missing", Integer, nullable=False),
    Column("total_models", Integer, nullable=False),
    Column("http_status", Integer),
    Column("bytes", BigInteger, nullable=False),
    Column("error", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(128)),
    Column("full_sync", Boolean, nullable=False),
    Column("next_run_at", UtcDateTime),
    Column("catalog_version", BigInteger),
    Index(None, "gateway", "id"),
    Index(None, "finished_at"),
    sqlite_autoincrement=True,
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", Text, nullable=False, unique=True),
    Column("scheme", String(40), nullable=False),
    Column("gateway", String(100)),
    Column("event_types", Json, nullable=False),
    Column("model_count", Integer, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("detail", Json, nullable=False),
    Index(None, "expires_at"),
    Index(None, "received_at"),
)
