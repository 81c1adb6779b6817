"""The tables of the SQL store, as SQLAlchemy Core on one :data:`metadata`.

``migrations/versions`` creates exactly this schema (a test compares the two on SQLite and
PostgreSQL); change both together. Times are stored as UTC: ``timestamptz`` on PostgreSQL, naive
UTC text on SQLite, and always read back timezone-aware (:class:`UtcDateTime`). JSON columns are
text on SQLite and ``jsonb`` on PostgreSQL (``json``, kept as written, for what the API serves
as stored: :data:`ServedJson`), (de)serialized by orjson (see ``engine.py``).

* ``catalog_meta``: one row (``id = 1``) holding the global ``catalog_version`` and the fingerprint
  of the identity rules the stored canonical ids follow (``identity_rules``).
* ``gateways``: configuration, schedule, last outcome, validators, version and lease per gateway.
* ``models``: the current catalog, one row per (gateway, gateway model id), removed ones kept.
  ``data`` is :meth:`Model.to_json`; the queried fields are copied into columns beside it.
  ``row_id`` is a stable integer key (SQLite's rowid, which ``VACUUM`` would otherwise renumber)
  for the text index. One index per order the API serves: the listing (gateway, id), by
  provider, and a canonical id's offers; each ends with the columns its ``ORDER BY`` names.
* ``changes``: append-only history; ``seq`` never repeats (``AUTOINCREMENT`` on SQLite).
  ``doc`` is the change's JSON as the feed serves it after its ``seq`` (written once, with the
  row; ``NULL`` for rows from before migration 0013 and for re-keyed history, read from the
  columns instead).
* ``sync_runs``: one row per finished run.
* ``webhook_deliveries``: accepted webhook deliveries, unique by idempotency ``key``.
* ``staged_models``, ``staged_changes``: a run's plan, written ahead in short transactions and
  published (copied into ``models`` and ``changes``) by the run's one transaction; keyed by
  gateway and fencing token, JSON as text, never read by the read side.
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
    UniqueConstraint,
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

ServedJson: Any = JSON()
"""JSON kept as written: text on SQLite, ``json`` on PostgreSQL. For the values the API serves as
stored (a model's ``data``, a change's ``fields`` and ``anomalies``): nothing queries inside
them, and ``jsonb`` would be written back out as text on every read (about 10 us a model)."""

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
    Column("quarantined", Json),
    Column("lease_taken_from", Text),
    Column("row_version", BigInteger, nullable=False, server_default="0"),
)
"""``row_version`` grows with every update of the row (a trigger keeps it: migration 0012)."""
GATEWAY_STATE = [column for column in gateways.c if column.name != "row_version"]
"""The columns of a :class:`~modelsync.store.base.GatewayState`."""

processes = Table(
    "processes",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("version", String(50), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("applied_version", BigInteger, nullable=False),
    Column("behind_since", UtcDateTime),
)

reference_catalogs = Table(
    "reference_catalogs",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("fetched_at", UtcDateTime, nullable=False),
    Column("body_hash", Text, nullable=False),
    Column("prices", Text, nullable=False),
)
"""The last good fetch of each reference price catalog (issue 9 item 3): its price table as
JSON text (:meth:`modelsync.reference.table.ReferenceTable.to_json`), shared by every process."""

models = Table(
    "models",
    metadata,
    Column("gateway", String(100), ForeignKey("gateways.name"), nullable=False),
    Column("gateway_model_id", Text, nullable=False),
    Column("model_id", Text, nullable=False),
    Column("name", Text),
    Column("provider_slug", Text),
    Column("presence", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("miss_count", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("data", ServedJson, nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("row_id", BigId, primary_key=True, autoincrement=True),
    UniqueConstraint("gateway", "gateway_model_id"),
    Index("ix_models_listing", "gateway", "model_id", "gateway_model_id"),
    Index("ix_models_provider_listing", "provider_slug", "gateway", "model_id", "gateway_model_id"),
    Index("ix_models_offers", "model_id", "gateway", "gateway_model_id"),
)

SEARCH_TABLE = "models_search"
"""The text index of ``q`` (created by migration 0003, outside :data:`metadata`).

SQLite: an FTS5 table with the trigram tokenizer over ``model_id``, ``name`` and
``gateway_model_id`` (external content: ``models``, keyed by ``row_id``), kept current by the
triggers ``models_search_insert``, ``_delete`` and ``_update``. PostgreSQL: a ``pg_trgm`` GIN
index of the same name on :data:`PG_SEARCH_TEXT`, without a pending list (``fastupdate=off``:
rows written by a sync are searchable through the index at once, not after a vacuum). Both find
a substring of three characters or more through the index, in any case."""

PG_SEARCH_TEXT = (
    "models.model_id || E'\\x1f' || coalesce(models.name, '') || E'\\x1f' || "
    "models.gateway_model_id"
)
"""The indexed expression on PostgreSQL: the three searched columns joined by U+001F, a character
no id or name holds, so a match spans two columns only for a query holding it. The query repeats
this expression verbatim (the planner matches the index by expression)."""


PAGE_ORDER_INDEXES = frozenset(
    {
        "ix_models_order_prompt",
        "ix_models_order_completion",
        "ix_models_order_context",
        "ix_models_order_newest",
    }
)
"""The pages' order indexes (migration 0005), on expressions over ``data`` that :data:`metadata`
cannot compare on both databases; ``store/page_queries.py`` renders the same expressions."""


def is_search_object(name: str | None) -> bool:
    """Whether a reflected table or index is outside :data:`metadata`: the text index, or one
    of the pages' order indexes."""
    if name is None:
        return False
    return name == SEARCH_TABLE or name.startswith(SEARCH_TABLE + "_") or name in PAGE_ORDER_INDEXES


changes = Table(
    "changes",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("gateway", String(100), nullable=False),
    Column("gateway_model_id", Text, nullable=False),
    Column("model_id", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("fields", ServedJson, nullable=False),
    Column("anomalies", ServedJson, nullable=False),
    Column("source", String(20), nullable=False),
    Column("run_id", BigInteger),
    Column("catalog_version", BigInteger, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("doc", Text),
    Index(None, "gateway", "seq"),
    Index(None, "model_id", "seq"),
    Index(None, "run_id", "seq"),
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
    Column("quarantined", Json),
    Column("filtered", Json),
    Index(None, "gateway", "id"),
    Index(None, "finished_at"),
    sqlite_autoincrement=True,
)

staged_models = Table(
    "staged_models",
    metadata,
    Column("gateway", String(100), primary_key=True),
    Column("token", BigInteger, primary_key=True),
    Column("gateway_model_id", Text, primary_key=True),
    Column("model_id", Text, nullable=False),
    Column("name", Text),
    Column("provider_slug", Text),
    Column("status", String(20), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("data", Text, nullable=False),
)

staged_changes = Table(
    "staged_changes",
    metadata,
    Column("gateway", String(100), primary_key=True),
    Column("token", BigInteger, primary_key=True),
    Column("ord", Integer, primary_key=True),
    Column("gateway_model_id", Text, nullable=False),
    Column("model_id", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("fields", Text, nullable=False),
    Column("anomalies", Text, nullable=False),
    Column("head", Text),
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

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subscriber", Text, nullable=False),
    Column("msg_id", String(100), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("last_error", Text),
    UniqueConstraint("subscriber", "msg_id"),
    Index(None, "status", "next_attempt_at"),
)
"""Outbound change webhooks (:mod:`modelsync.purge.outbox`): one row per subscriber and committed
run, ``pending`` until delivered (``delivered``) or given up (``failed``)."""

outbox_cursor = Table(
    "outbox_cursor",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
)
"""The last change ``seq`` turned into outbox rows (one row, id 1)."""
