"""The served reads on every backend: the API's JSON is the stored values' JSON, and q searches."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from modelsync.domain import ModelStatus
from modelsync.store.base import ModelQuery
from modelsync.store.sql import SqlStore

from .factories import at, model, registration, sync

ODD_NAMES = (
    'A "quoted" \\ backslashed name',
    "Ünïcødé 模型 🚀",
    "tab\tand\nnewline",
)


@pytest.fixture
async def served_catalog(catalog: SqlStore) -> SqlStore:
    """The contract catalog, plus odd names, a deprecated model, a missing one and times with
    microseconds, on a third gateway."""
    await catalog.register_gateways([registration("odd")])
    odd = [
        model("odd", 10 + n, name=name, description=None, context_length=None)
        for n, name in enumerate(ODD_NAMES)
    ]
    odd.append(model("odd", 20, status=ModelStatus.DEPRECATED, deprecation_date="2026-09-01"))
    odd.append(model("odd", 21, extra={"status": "beta", "nested": {"k": [1, None, "x"]}}))
    await sync(catalog, "odd", odd, now=at(40.123456))
    await sync(catalog, "odd", odd[:-1], now=at(50.5))
    return catalog


def as_json(rows: Any) -> Any:
    """What the API writes of the fragments (or dicts holding fragments), read back."""
    return orjson.loads(orjson.dumps(rows))


QUERIES = [
    ModelQuery(),
    ModelQuery(include_removed=True, limit=5000),
    ModelQuery(gateway="odd"),
    ModelQuery(gateway="groq", include_removed=True),
    ModelQuery(provider="vendor1", include_removed=True),
    ModelQuery(q="model", limit=3, offset=2),
    ModelQuery(q="quoted"),
    ModelQuery(q="模型"),
    ModelQuery(q="l-1"),
    ModelQuery(q="ü"),
    ModelQuery(gateway="groq", provider="vendor0", q="MODEL", include_removed=True),
    ModelQuery(q="nothing matches this"),
]


@pytest.mark.parametrize("query", QUERIES)
async def test_served_models_are_the_stored_models_json(
    served_catalog: SqlStore, query: ModelQuery
) -> None:
    """Each served row is StoredModel.to_json of the same row, in the same order, stamped with
    the catalog version (missing, removed, deprecated, odd text and microseconds included)."""
    served = await served_catalog.served_models(query)
    stored = await served_catalog.list_models(query)
    assert as_json(served.rows) == [m.to_json() for m in stored]
    assert served.catalog_version == await served_catalog.catalog_version()


async def test_served_rows_cover_every_presence(served_catalog: SqlStore) -> None:
    """The fixture's rows reach every served status, so the equality above covers each."""
    served = as_json((await served_catalog.served_models(ModelQuery(include_removed=True))).rows)
    assert {row["status"] for row in served} == {"active", "deprecated", "missing", "removed"}
    assert any(row["first_seen_at"].endswith(".123456+00:00") for row in served)


@pytest.mark.parametrize("model_id", ["vendor1/model-4", "vendor0/model-3", "nobody/nothing"])
async def test_served_offers_are_the_stored_offers_json(
    served_catalog: SqlStore, model_id: str
) -> None:
    """A canonical id's offers, removed ones included; an unknown id has none."""
    served = await served_catalog.served_offers(model_id)
    stored = await served_catalog.model_offers(model_id)
    assert as_json(served.rows) == [m.to_json() for m in stored]
    assert served.catalog_version == await served_catalog.catalog_version()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"since": None, "gateway": None, "model": None, "limit": 100},
        {"since": 5, "gateway": None, "model": None, "limit": 3},
        {"since": None, "gateway": "odd", "model": None, "limit": 100},
        {"since": 2, "gateway": "groq", "model": "vendor1/model-4", "limit": 100},
        {"since": 10**6, "gateway": None, "model": None, "limit": 100},
    ],
)
async def test_served_changes_are_the_change_records_json(
    served_catalog: SqlStore, kwargs: dict[str, Any]
) -> None:
    """Each served change is ChangeRecord.to_json of the same change, oldest first."""
    served = await served_catalog.served_changes(**kwargs)
    stored = await served_catalog.list_changes(**kwargs)
    assert as_json(served) == [record.to_json() for record in stored]
    page = await served_catalog.served_change_page(**kwargs)
    assert as_json(page.changes) == as_json(served)  # each change's stored JSON: the same
    assert page.newest_seq == max((c.seq for c in stored), default=None)
    assert page.newest_version == max((c.catalog_version for c in stored), default=None)


async def test_a_change_page_without_stored_json_is_read_from_the_columns(
    served_catalog: SqlStore,
) -> None:
    """Changes written before migration 0013, or whose history was re-keyed to a new canonical
    id, have no stored JSON: a page holding one is served from the columns, the same JSON."""
    everything = {"since": None, "gateway": None, "model": None, "limit": 100}
    before = await served_catalog.served_change_page(**everything)
    async with served_catalog.database.write("forget the stored JSON") as conn:
        await conn.exec_driver_sql("UPDATE changes SET doc = NULL WHERE seq % 2 = 0")
    after = await served_catalog.served_change_page(**everything)
    assert as_json(after.changes) == as_json(before.changes)
    assert (after.newest_seq, after.newest_version) == (before.newest_seq, before.newest_version)
    assert after.oldest_seq == before.oldest_seq


async def test_re_keyed_history_is_served_under_its_new_id(store: SqlStore) -> None:
    """A model whose canonical id moves takes its history along: its old changes, stored JSON
    and all, are served under the new id."""
    await store.register_gateways([registration("g")])
    await sync(store, "g", [model("g", 1, id="acme/old-name")], now=at(0))
    await sync(store, "g", [model("g", 1, id="acme/new-name")], now=at(10))
    page = await store.served_change_page(
        since=None, gateway=None, model="acme/new-name", limit=100
    )
    served = as_json(page.changes)
    assert [change["kind"] for change in served] == ["added", "updated"]
    assert {change["id"] for change in served} == {"acme/new-name"}
    stored = await store.list_changes(since=None, gateway=None, model="acme/new-name", limit=100)
    assert served == [record.to_json() for record in stored]


async def test_search_ranks_the_closer_match_first(store: SqlStore) -> None:
    """``q`` results come ranked: the short id that is the word beats a longer one holding it."""
    await store.register_gateways([registration("g")])
    models = [
        model("g", 1, id="acme/codellama-34b-instruct-extended", name="CodeLlama 34B Instruct"),
        model("g", 2, id="meta/llama-3-8b", name="Llama 3 8B"),
        model("g", 3, id="acme/other", name="Other"),
    ]
    await sync(store, "g", models, now=at(0))
    found = [m.model.id for m in await store.list_models(ModelQuery(q="llama"))]
    assert found == ["meta/llama-3-8b", "acme/codellama-34b-instruct-extended"]


async def test_search_index_follows_renames_and_removals(store: SqlStore) -> None:
    """A renamed model is found by its new name only; a removed one only with include_removed."""
    await store.register_gateways([registration("g")])
    first = [model("g", 1, name="Falcon Mamba"), model("g", 2, name="Gemma Tiny")]
    await sync(store, "g", first, now=at(0))
    renamed = [model("g", 1, name="Falcon Hybrid"), model("g", 2, name="Gemma Tiny")]
    await sync(store, "g", renamed, now=at(10))
    assert await store.list_models(ModelQuery(q="mamba")) == []
    assert [m.model.name for m in await store.list_models(ModelQuery(q="hybrid"))] == [
        "Falcon Hybrid"
    ]
    for seconds in (20, 30):  # two misses remove model 2
        await sync(store, "g", renamed[:1], now=at(seconds))
    assert await store.list_models(ModelQuery(q="gemma")) == []
    removed = await store.list_models(ModelQuery(q="gemma", include_removed=True))
    assert [(m.model.name, m.status) for m in removed] == [("Gemma Tiny", ModelStatus.REMOVED)]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Model-1", ["vendor1/model-1"]),  # the canonical id, any case
        ('"q"', ['x/"q"-model']),  # quotes are literal (FTS5 syntax is not interpreted)
        ("NEAR", ["x/near-you"]),  # an FTS5 operator is text
        ("ar*", ["x/star*"]),
        ("*", ["x/star*"]),  # shorter than a trigram: a scan, still a substring
        ("1", ["vendor1/model-1"]),
    ],
)
async def test_search_takes_every_character_literally(
    store: SqlStore, q: str, expected: list[str]
) -> None:
    """``q`` is a substring, whatever it holds, indexed or (under three characters) scanned."""
    await store.register_gateways([registration("g")])
    models = [
        model("g", 1, name="One"),
        model("g", 2, id='x/"q"-model', gateway_model_id="m2", name='"q"-model'),
        model("g", 3, id="x/near-you", gateway_model_id="m3", name="Near You"),
        model("g", 4, id="x/star*", gateway_model_id="m4", name="Star"),
    ]
    await sync(store, "g", models, now=at(0))
    assert [m.model.id for m in await store.list_models(ModelQuery(q=q))] == expected


async def test_status_shows_every_update_of_a_gateway(catalog: SqlStore, make_store: Any) -> None:
    """The status read keeps each gateway's row by (name, row version, last run): an update of
    any kind, by any process, is read at the next status; an unchanged row is the same object."""
    writer = await make_store()  # another process, as far as the reader knows
    before = await catalog.gateway_statuses()
    again = await catalog.gateway_statuses()
    assert again.keys == before.keys
    assert [id(g) for g in again.gateways] == [id(g) for g in before.gateways]

    await writer.set_next_run("fal", at(500))
    moved = {g.name: g for g in (await catalog.gateway_statuses()).gateways}
    assert moved["fal"].next_run_at == at(500)
    assert moved["groq"] is {g.name: g for g in before.gateways}["groq"]

    await sync(writer, "fal", [model("fal", i) for i in (3, 4, 5, 6)], now=at(600))
    [fal] = (await catalog.gateway_statuses("fal")).gateways
    assert fal.model_count == 4
    assert fal.run_total_models == 4
    assert fal.last_success_at == at(600)
