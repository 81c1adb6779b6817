"""The read path: a stable row key on models, an index per served order, and the text index of q.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

* ``models.row_id``: a stable integer primary key (SQLite's ``INTEGER PRIMARY KEY``, the rowid,
  which ``VACUUM`` keeps), so the text index can point at rows; (gateway, gateway_model_id)
  stays unique (the upserts' conflict target). SQLite cannot change a primary key in place: the
  table is rebuilt and its rows copied, in rowid order.
* Indexes ``ix_models_listing`` (gateway, model_id, gateway_model_id),
  ``ix_models_provider_listing`` (provider_slug, then the same) and ``ix_models_offers``
  (model_id, gateway, gateway_model_id) replace the single-column ones.
* ``models_search``: on SQLite an FTS5 trigram table over model_id, name and gateway_model_id
  (external content, kept by triggers); on PostgreSQL the ``pg_trgm`` extension and a GIN index
  (no pending list) on ``schema.PG_SEARCH_TEXT`` (copied here as text: a migration must not
  change with the code).
* PostgreSQL: ``models.data``, ``changes.fields`` and ``changes.anomalies`` become ``json`` (kept
  as written) instead of ``jsonb`` (re-serialized on every read): the API serves them as stored.

Hand-written to match ``modelsync/store/schema.py``; tests/store/test_migrations.py compares them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERVED_JSON = {"models": ["data"], "changes": ["fields", "anomalies"]}
COLUMNS = (
    "gateway, gateway_model_id, model_id, name, provider_slug, presence, status, miss_count, "
    "content_hash, data, first_seen_at, last_seen_at, updated_at, version"
)
PG_SEARCH_TEXT = (
    "models.model_id || E'\\x1f' || coalesce(models.name, '') || E'\\x1f' || "
    "models.gateway_model_id"
)
SEARCHED = "model_id, name, gateway_model_id"
FTS_DELETE = (
    "INSERT INTO models_search (models_search, rowid, model_id, name, gateway_model_id) "
    "VALUES ('delete', old.row_id, old.model_id, old.name, old.gateway_model_id);"
)
FTS_INSERT = (
    "INSERT INTO models_search (rowid, model_id, name, gateway_model_id) "
    "VALUES (new.row_id, new.model_id, new.name, new.gateway_model_id);"
)
SQLITE_SEARCH = (
    f"CREATE VIRTUAL TABLE models_search USING fts5({SEARCHED}, content='models', "
    "content_rowid='row_id', tokenize='trigram')",
    f"CREATE TRIGGER models_search_insert AFTER INSERT ON models BEGIN {FTS_INSERT} END",
    f"CREATE TRIGGER models_search_delete AFTER DELETE ON models BEGIN {FTS_DELETE} END",
    f"CREATE TRIGGER models_search_update AFTER UPDATE OF {SEARCHED} ON models "
    "WHEN old.model_id IS NOT new.model_id OR old.name IS NOT new.name "
    "OR old.gateway_model_id IS NOT new.gateway_model_id "
    f"BEGIN {FTS_DELETE} {FTS_INSERT} END",
    "INSERT INTO models_search (models_search) VALUES ('rebuild')",
)
ORDER_INDEXES = {
    "ix_models_listing": ["gateway", "model_id", "gateway_model_id"],
    "ix_models_provider_listing": ["provider_slug", "gateway", "model_id", "gateway_model_id"],
    "ix_models_offers": ["model_id", "gateway", "gateway_model_id"],
}
OLD_INDEXES = {"ix_models_model_id": ["model_id"], "ix_models_provider_slug": ["provider_slug"]}


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _models_table(name: str, *, row_id: bool) -> None:
    """``models`` as 0001 made it (0002 left it), or keyed by ``row_id`` (SQLite's rebuilds)."""
    key: list[sa.schema.SchemaItem] = [
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("row_id", name="pk_models"),
        sa.UniqueConstraint(
            "gateway", "gateway_model_id", name="uq_models_gateway_gateway_model_id"
        ),
    ]
    op.create_table(
        name,
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("gateway_model_id", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("provider_slug", sa.Text()),
        sa.Column("presence", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("miss_count", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _time("first_seen_at"),
        _time("last_seen_at"),
        _time("updated_at"),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["gateway"], ["gateways.name"], name="fk_models_gateway_gateways"),
        *(
            key
            if row_id
            else [sa.PrimaryKeyConstraint("gateway", "gateway_model_id", name="pk_models")]
        ),
    )


def _rebuild_sqlite_models(*, row_id: bool) -> None:
    """Copy ``models`` into a new table with the other key, in rowid order, and swap them."""
    _models_table("models_rebuilt", row_id=row_id)
    op.execute(
        f"INSERT INTO models_rebuilt ({COLUMNS}) "  # noqa: S608 - constant column names
        f"SELECT {COLUMNS} FROM models ORDER BY rowid"
    )
    op.drop_table("models")
    op.rename_table("models_rebuilt", "models")


def _served_json_type(kind: str) -> None:
    """PostgreSQL: the served JSON columns as ``json`` or ``jsonb``."""
    for table, columns in SERVED_JSON.items():
        for column in columns:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind} USING {column}::{kind}"
            )


def upgrade() -> None:
    """Re-key models, index every served order, build the text index, and keep served JSON
    as written."""
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_models(row_id=True)
    else:
        for index in OLD_INDEXES:
            op.drop_index(index, table_name="models")
        op.execute("ALTER TABLE models ADD COLUMN row_id BIGSERIAL NOT NULL")
        op.drop_constraint("pk_models", "models", type_="primary")
        op.create_primary_key("pk_models", "models", ["row_id"])
        op.create_unique_constraint(
            "uq_models_gateway_gateway_model_id", "models", ["gateway", "gateway_model_id"]
        )
    for index, columns in ORDER_INDEXES.items():
        op.create_index(index, "models", columns)
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_SEARCH:
            op.execute(statement)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            f"CREATE INDEX models_search ON models USING gin (({PG_SEARCH_TEXT}) gin_trgm_ops) "
            "WITH (fastupdate = off)"
        )
        _served_json_type("json")


def downgrade() -> None:
    """Back to 0002's models (the pg_trgm extension stays: other databases' objects may use it)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE models_search")  # its triggers go with the rebuilt table
        _rebuild_sqlite_models(row_id=False)
    else:
        _served_json_type("jsonb")
        op.drop_index("models_search", table_name="models")
        for index in ORDER_INDEXES:
            op.drop_index(index, table_name="models")
        op.drop_constraint("uq_models_gateway_gateway_model_id", "models", type_="unique")
        op.drop_constraint("pk_models", "models", type_="primary")
        op.create_primary_key("pk_models", "models", ["gateway", "gateway_model_id"])
        op.drop_column("models", "row_id")
    for index, columns in OLD_INDEXES.items():
        op.create_index(index, "models", columns)
