"""The reference catalogs' statements (``reference_catalogs``, migration 0011)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Delete, Insert, Select, delete, insert, select

from modelsync.store.base import StoredReference
from modelsync.store.schema import reference_catalogs

r = reference_catalogs.c

STAMPS: Select[Any] = select(r.name, r.body_hash)
ALL: Select[Any] = select(r.name, r.fetched_at, r.body_hash, r.prices).order_by(r.name)


def replace_rows(reference: StoredReference) -> tuple[Delete, Insert]:
    """Delete then insert the catalog's row (one transaction: portable upsert)."""
    return (
        delete(reference_catalogs).where(r.name == reference.name),
        insert(reference_catalogs).values(
            name=reference.name,
            fetched_at=reference.fetched_at,
            body_hash=reference.body_hash,
            prices=orjson.dumps(reference.prices).decode(),
        ),
    )


def from_row(row: Any) -> StoredReference:
    return StoredReference(
        name=row["name"],
        fetched_at=row["fetched_at"],
        body_hash=row["body_hash"],
        prices=orjson.loads(row["prices"]),
    )
