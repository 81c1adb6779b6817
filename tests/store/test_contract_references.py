"""The reference catalogs' rows (issue 9 item 3) on SQLite and PostgreSQL: saved, replaced,
stamped and loaded back; another store on the same database sees them."""

from __future__ import annotations

from datetime import UTC, datetime

from modelsync.store.base import StoredReference
from modelsync.store.sql import SqlStore

from .conftest import StoreFactory

AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
TABLE = {"name": "models.dev", "fetched_at": AT.isoformat(), "by_id": [], "by_canonical": []}


async def test_save_replace_and_load(store: SqlStore, make_store: StoreFactory) -> None:
    """A save replaces the catalog's row; stamps name each catalog's body hash."""
    assert await store.reference_stamps() == {}
    assert await store.load_references() == []
    await store.save_reference(StoredReference("modelsdev", AT, "xxh3/1", TABLE))
    await store.save_reference(StoredReference("litellm", AT, "xxh3/2", {"by_id": []}))
    newer = {**TABLE, "by_id": [["groq", "a", {"prompt": "0.5", "per_unit": None}]]}
    await store.save_reference(StoredReference("modelsdev", LATER, "xxh3/3", newer))
    other = await make_store()
    assert await other.reference_stamps() == {"modelsdev": "xxh3/3", "litellm": "xxh3/2"}
    loaded = {item.name: item for item in await other.load_references()}
    assert loaded["modelsdev"] == StoredReference("modelsdev", LATER, "xxh3/3", newer)
    assert loaded["litellm"].fetched_at == AT
