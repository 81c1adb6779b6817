"""The pages' orders: an index per order of ``/models`` (issue 10).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

``/models`` sorts by prompt price, completion price, context length and newest. Each order has
an index ending with the catalog's order (gateway, model_id, gateway_model_id), so a sorted page
reads its rows in order and stops at the limit. Prices and the context length live in the stored
``data``: their indexes are on expressions (unknown last), written here as text exactly as
``modelsync.store.page_queries.ORDER_SQL`` renders them (a migration must not change with the
code; the query plan tests check that the two agree). The indexes are outside ``schema.metadata``
(``schema.PAGE_ORDER_INDEXES``), like the text index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TAIL = "gateway, model_id, gateway_model_id"
ORDERS = {
    "sqlite": {
        "ix_models_order_prompt": (
            "coalesce(CAST(json_extract(data, '$.pricing.prompt') AS REAL), 1e300)"
        ),
        "ix_models_order_completion": (
            "coalesce(CAST(json_extract(data, '$.pricing.completion') AS REAL), 1e300)"
        ),
        "ix_models_order_context": (
            "coalesce(CAST(json_extract(data, '$.context_length') AS INTEGER), -1)"
        ),
        "ix_models_order_newest": "first_seen_at",
    },
    "postgresql": {
        "ix_models_order_prompt": (
            "coalesce(CAST(((data -> 'pricing') ->> 'prompt') AS double precision), 1e300)"
        ),
        "ix_models_order_completion": (
            "coalesce(CAST(((data -> 'pricing') ->> 'completion') AS double precision), 1e300)"
        ),
        "ix_models_order_context": "coalesce(CAST((data ->> 'context_length') AS bigint), -1)",
        "ix_models_order_newest": "first_seen_at",
    },
}


def upgrade() -> None:
    """Create the four order indexes."""
    dialect = op.get_bind().dialect.name
    for name, key in ORDERS[dialect].items():
        head = key if key.isidentifier() else f"({key})"
        op.execute(f"CREATE INDEX {name} ON models ({head}, {TAIL})")


def downgrade() -> None:
    """Drop them."""
    for name in ORDERS["sqlite"]:
        op.execute(f"DROP INDEX IF EXISTS {name}")
