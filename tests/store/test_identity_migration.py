"""The identity migration on every backend: renamed once, history attached, one per fingerprint."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from modelsync.domain import ChangeKind, ChangeSource, Model
from modelsync.store.base import ModelQuery
from modelsync.store.sql import SqlStore

from .conftest import StoreFactory
from .factories import at, model, registration, sync

OLD, NEW = "vendor1/model-1", "acme/model-1"


def rename_one(stored: Model) -> Model:
    """The "new rules": model 1 belongs to acme now; model 2 gets a variant; others unchanged."""
    if stored.id == OLD:
        return replace(stored, id=NEW, provider_slug="acme")
    if stored.id == "vendor2/model-2":
        return replace(stored, variants=("fast",))
    return stored


async def seeded(store: SqlStore) -> None:
    """groq and fal with history: model 1 added then repriced on groq, model 3 removed."""
    await store.register_gateways([registration("groq"), registration("fal")])
    first = [model("groq", 1), model("groq", 2), model("groq", 3)]
    await sync(store, "groq", first, now=at(10))
    await sync(store, "groq", [model("groq", 1, context_length=1), model("groq", 2)], now=at(20))
    await sync(store, "groq", [model("groq", 1, context_length=1), model("groq", 2)], now=at(30))
    await sync(store, "fal", [model("fal", 4)], now=at(40))


async def test_a_rename_moves_the_row_and_its_history_and_is_recorded_once(
    store: SqlStore,
) -> None:
    """The row and every past change follow the new id; one ``updated`` change records it."""
    await seeded(store)
    before_version = await store.catalog_version()
    [groq_before] = await store.gateway_states(["groq"])
    history = await store.list_changes(model=OLD)
    migration = await store.migrate_identities("rules-2", rename_one, now=at(50))
    assert migration is not None
    assert (migration.renamed, migration.rewritten) == (1, 1)
    assert migration.catalog_version == before_version + 1
    [record] = migration.changes
    assert record.change.kind is ChangeKind.UPDATED
    assert record.source is ChangeSource.IDENTITY
    assert dict(record.change.fields) == {
        "id": (OLD, NEW),
        "provider_slug": ("vendor1", "acme"),
    }
    assert await store.model_offers(OLD) == []
    [offer] = await store.model_offers(NEW)
    assert (offer.model.id, offer.model.provider_slug, offer.updated_at) == (NEW, "acme", at(50))
    assert offer.content_hash == offer.model.content_hash
    moved = await store.list_changes(model=NEW)
    assert [c.seq for c in moved] == [c.seq for c in history] + [record.seq]
    assert await store.list_changes(model=OLD) == []
    [groq_after] = await store.gateway_states(["groq"])
    assert groq_after.version == groq_before.version + 1
    [variant] = await store.model_offers("vendor2/model-2")
    assert variant.model.variants == ("fast",)
    assert variant.updated_at == at(10)
    catalog = await store.load_catalog("groq")
    assert catalog.entries["Vendor1/Model-1"].id == NEW


async def test_the_same_fingerprint_migrates_nothing(store: SqlStore) -> None:
    """A second process with the same rules finds them stored: nothing runs, nothing is written."""
    await seeded(store)
    assert await store.migrate_identities("rules-2", rename_one, now=at(50)) is not None
    version = await store.catalog_version()
    calls: list[Model] = []

    def spy(stored: Model) -> Model:
        calls.append(stored)
        return stored

    assert await store.migrate_identities("rules-2", spy, now=at(60)) is None
    assert calls == []
    assert await store.catalog_version() == version
    nothing = await store.migrate_identities("rules-3", spy, now=at(70))
    assert nothing is not None
    assert (nothing.renamed, nothing.rewritten, nothing.catalog_version) == (0, 0, None)
    assert len(calls) == 4
    assert await store.catalog_version() == version


async def test_removed_models_keep_their_history_under_the_new_id(store: SqlStore) -> None:
    """A removed model is renamed too, so its page keeps its whole story."""
    await seeded(store)

    def rename_removed(stored: Model) -> Model:
        return replace(stored, id="acme/model-3") if stored.id == "vendor0/model-3" else stored

    migration = await store.migrate_identities("rules-2", rename_removed, now=at(50))
    assert migration is not None
    assert migration.renamed == 1
    kinds = [c.change.kind for c in await store.list_changes(model="acme/model-3")]
    assert kinds == [ChangeKind.ADDED, ChangeKind.REMOVED, ChangeKind.UPDATED]
    removed = await store.list_models(ModelQuery(gateway="groq", include_removed=True))
    assert "acme/model-3" in {m.model.id for m in removed}


async def test_concurrent_migrations_rename_once(make_store: StoreFactory) -> None:
    """Two processes starting together: one migrates, the other finds the fingerprint stored."""
    first, second = await make_store(), await make_store()
    await seeded(first)
    results = await asyncio.gather(
        first.migrate_identities("rules-2", rename_one, now=at(50)),
        second.migrate_identities("rules-2", rename_one, now=at(50)),
    )
    assert sorted(result is None for result in results) == [False, True]
    assert (
        len([c for c in await first.list_changes(model=NEW) if c.source.value == "identity"]) == 1
    )


async def test_a_run_that_sees_an_id_change_takes_the_history_along(store: SqlStore) -> None:
    """New evidence from a gateway moves a model's id in a run: history follows, one update."""
    await seeded(store)
    renamed = model("groq", 1, context_length=1, id=NEW, provider_slug="acme")
    result = await sync(store, "groq", [renamed, model("groq", 2)], now=at(50))
    [change] = result.changes
    assert change.change.fields["id"] == (OLD, NEW)
    assert change.source is ChangeSource.POLL
    assert [c.change.kind for c in await store.list_changes(model=NEW)] == [
        ChangeKind.ADDED,
        ChangeKind.UPDATED,
        ChangeKind.UPDATED,
    ]
