"""The Store contract on every backend: the read side, webhook deliveries and retention."""

from __future__ import annotations

from datetime import timedelta

import pytest

from modelsync.domain import ChangeKind, ChangeSource, ModelStatus, RunOutcome
from modelsync.store.base import ModelQuery, RetentionPolicy, WebhookDelivery
from modelsync.store.sql import SqlStore

from .factories import T0, at, model, registration, run_record, sync


def ids(found: list[object]) -> list[tuple[str, str]]:
    """(gateway, canonical id) of each StoredModel."""
    return [(m.model.gateway, m.model.id) for m in found]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            ModelQuery(gateway="fal"),
            [("fal", "vendor0/model-3"), ("fal", "vendor1/model-4"), ("fal", "vendor2/model-5")],
        ),
        (ModelQuery(provider="vendor1"), [("fal", "vendor1/model-4"), ("groq", "vendor1/model-1")]),
        (ModelQuery(q="MODEL-2"), [("groq", "vendor2/model-2")]),
        (
            ModelQuery(q="vendor0/Model-3"),
            [("fal", "vendor0/model-3"), ("groq", "vendor0/model-3")],
        ),
        (
            ModelQuery(q="100%"),
            [("fal", "vendor0/model-3"), ("fal", "vendor1/model-4"), ("fal", "vendor2/model-5")],
        ),
        (
            ModelQuery(q="0%"),
            [("fal", "vendor0/model-3"), ("fal", "vendor1/model-4"), ("fal", "vendor2/model-5")],
        ),
        (ModelQuery(q="1_0"), []),
        (ModelQuery(gateway="groq", q="model-4"), []),
        (
            ModelQuery(gateway="groq", q="model-4", include_removed=True),
            [("groq", "vendor1/model-4")],
        ),
        (
            ModelQuery(gateway="groq", limit=2, offset=1),
            [("groq", "vendor0/model-3"), ("groq", "vendor1/model-1")],
        ),
    ],
)
async def test_list_models_filters(
    catalog: SqlStore, query: ModelQuery, expected: list[tuple[str, str]]
) -> None:
    """Gateway, provider, case-insensitive ``q`` (literal % and _), removed, limit and offset
    (which rows: their order is the ordering and ranking tests')."""
    assert sorted(ids(await catalog.list_models(query))) == expected


async def test_list_models_orders_by_gateway_then_id_and_hides_removed(catalog: SqlStore) -> None:
    """The default query lists every present or missing model, by gateway then id."""
    found = await catalog.list_models(ModelQuery())
    assert ids(found) == [
        ("fal", "vendor0/model-3"),
        ("fal", "vendor1/model-4"),
        ("fal", "vendor2/model-5"),
        ("groq", "vendor0/model-0"),
        ("groq", "vendor0/model-3"),
        ("groq", "vendor1/model-1"),
        ("groq", "vendor2/model-2"),
    ]
    assert {m.status for m in found} == {ModelStatus.ACTIVE}


async def test_model_offers_across_gateways_include_removed(catalog: SqlStore) -> None:
    """Every gateway's offer of one canonical id, removed ones with their status."""
    offers = await catalog.model_offers("vendor1/model-4")
    assert [(o.model.gateway, o.status, o.miss_count) for o in offers] == [
        ("fal", ModelStatus.ACTIVE, 0),
        ("groq", ModelStatus.REMOVED, 2),
    ]
    assert offers[1].last_seen_at == at(0)
    assert offers[0].to_json()["status"] == "active"
    assert await catalog.model_offers("nobody/nothing") == []


async def test_stored_model_times(catalog: SqlStore) -> None:
    """first_seen is kept, updated_at moves only with content, present last_seen follows polls."""
    await sync(catalog, "groq", [model("groq", i) for i in range(4)], now=at(40))
    renamed = [model("groq", 0, name="Renamed"), *(model("groq", i) for i in (1, 2, 3))]
    await sync(catalog, "groq", renamed, now=at(50))
    await sync(catalog, "groq", renamed, now=at(60))
    by_id = {m.model.id: m for m in await catalog.list_models(ModelQuery(gateway="groq"))}
    first, other = by_id["vendor0/model-0"], by_id["vendor1/model-1"]
    assert (first.first_seen_at, first.updated_at, first.last_seen_at) == (at(0), at(50), at(60))
    assert (other.first_seen_at, other.updated_at, other.last_seen_at) == (at(0), at(0), at(60))
    assert first.model.name == "Renamed"
    assert first.content_hash == renamed[0].content_hash


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, list(range(1, 10))),
        ({"since": 5}, [6, 7, 8, 9]),
        ({"limit": 2}, [1, 2]),
        ({"since": 2, "limit": 2}, [3, 4]),
        ({"gateway": "fal"}, [7, 8, 9]),
        ({"model": "vendor1/model-4"}, [5, 6, 8]),
        ({"gateway": "groq", "model": "vendor1/model-4", "since": 5}, [6]),
        ({"since": 9}, []),
    ],
)
async def test_list_changes_filters(
    catalog: SqlStore, kwargs: dict[str, object], expected: list[int]
) -> None:
    """Changes after a seq, by gateway, by canonical model, limited, oldest first."""
    assert [c.seq for c in await catalog.list_changes(**kwargs)] == expected  # type: ignore[arg-type]


async def test_change_records_carry_their_context(catalog: SqlStore) -> None:
    """A stored change keeps its kind, source, run, version and time."""
    removal = (await catalog.list_changes(since=5, limit=1))[0]
    assert (removal.change.kind, removal.change.id, removal.source) == (
        ChangeKind.REMOVED,
        "vendor1/model-4",
        ChangeSource.POLL,
    )
    assert (removal.catalog_version, removal.at) == (3, at(20))
    assert removal.to_json()["kind"] == "removed"
    runs = await catalog.list_runs(gateway="groq")
    assert removal.run_id == runs[0].id


async def test_list_runs_newest_first_with_their_records(catalog: SqlStore) -> None:
    """Runs come back newest first, filtered by gateway, with the record as written."""
    runs = await catalog.list_runs()
    assert [(r.record.gateway, r.catalog_version) for r in runs] == [
        ("fal", 4),
        ("groq", 3),
        ("groq", 2),
        ("groq", 1),
    ]
    assert [r.id for r in await catalog.list_runs(gateway="groq", limit=2)] == [
        runs[1].id,
        runs[2].id,
    ]
    grant = await catalog.acquire_lease("fal", "w", ttl_s=60)
    assert grant is not None
    record = run_record(
        "fal",
        RunOutcome.FAILED,
        started=at(100),
        trigger=ChangeSource.WEBHOOK,
        http_status=503,
        bytes=1234,
        error="upstream 503",
        next_run_at=at(200),
    )
    result = await catalog.finish_run(record, None, lease=grant.lease, now=at(101))
    (stored,) = await catalog.list_runs(limit=1)
    assert (stored.id, stored.record, stored.catalog_version) == (result.run_id, record, None)
    assert stored.record.duration_ms == 1000


def delivery(key: str, received: int, *, ttl: int = 300) -> WebhookDelivery:
    """A delivery received ``received`` seconds after T0, remembered for ``ttl`` seconds."""
    return WebhookDelivery(
        key=key,
        scheme="standard",
        gateway="groq",
        event_types=("models.added", "models.updated"),
        model_count=3,
        received_at=at(received),
        expires_at=at(received + ttl),
        detail={"ids": ["a", "b"], "note": received},
    )


async def test_record_delivery_detects_duplicates_until_expiry(store: SqlStore) -> None:
    """A key seen and unexpired is a duplicate; an expired one is stored again."""
    assert await store.record_delivery(delivery("msg_1", 0)) is True
    assert await store.record_delivery(delivery("msg_1", 100)) is False
    assert await store.record_delivery(delivery("msg_2", 150)) is True
    assert await store.record_delivery(delivery("msg_1", 300)) is True
    assert await store.record_delivery(delivery("msg_1", 301)) is False
    found = await store.list_deliveries()
    assert found == [delivery("msg_1", 300), delivery("msg_2", 150)]
    assert await store.list_deliveries(limit=1) == [delivery("msg_1", 300)]


async def test_record_deliveries_in_one_call(store: SqlStore) -> None:
    """A batch answers each delivery: new, duplicate, expired (stored again), repeated in it."""
    await store.record_delivery(delivery("kept", 0))
    await store.record_delivery(delivery("stale", 0, ttl=10))
    batch = [delivery("new", 20), delivery("kept", 20), delivery("stale", 20), delivery("new", 21)]
    assert await store.record_deliveries(batch) == [True, False, True, False]
    assert await store.record_deliveries([]) == []
    keys = [(d.key, d.received_at) for d in await store.list_deliveries()]
    assert sorted(keys) == [("kept", at(0)), ("new", at(20)), ("stale", at(20))]


async def test_last_webhook_is_kept_on_the_gateway(store: SqlStore) -> None:
    """The newest new delivery per gateway lands on its row; older or duplicate ones do not."""
    await store.register_gateways([registration("groq"), registration("fal")])
    both = WebhookDelivery(
        key="both",
        scheme="standard",
        gateway=None,
        event_types=("models.updated",),
        model_count=2,
        received_at=at(30),
        expires_at=at(330),
        detail={"events": 2, "gateways": ["groq", "fal"]},
    )
    assert await store.record_deliveries([delivery("late", 40), both]) == [True, True]
    assert await store.record_deliveries([delivery("early", 10), delivery("late", 50)]) == [
        True,
        False,
    ]
    states = {state.name: state for state in await store.gateway_states()}
    assert states["groq"].last_webhook_at == at(40)
    assert states["groq"].last_webhook == {
        "received_at": at(40).isoformat(),
        "event_types": ["models.added", "models.updated"],
        "models": 3,
        "scheme": "standard",
    }
    assert states["fal"].last_webhook_at == at(30)
    assert states["fal"].last_webhook is not None
    assert states["fal"].last_webhook["models"] == 2


async def test_prune_by_age(catalog: SqlStore) -> None:
    """Runs, changes and deliveries older than the policy go; newer ones stay."""
    await catalog.record_delivery(delivery("old", 0, ttl=60))
    await catalog.record_delivery(delivery("new", 0, ttl=86400 * 30))
    policy = RetentionPolicy(
        runs_days=1, runs_keep_per_gateway=100, changes_days=1, changes_keep=100
    )
    now = at(15) + timedelta(days=1)
    result = await catalog.prune(policy, now=now)
    assert (result.runs, result.changes, result.deliveries) == (2, 5, 1)
    assert [r.catalog_version for r in await catalog.list_runs()] == [4, 3]
    assert [c.seq for c in await catalog.list_changes()] == [6, 7, 8, 9]
    assert [d.key for d in await catalog.list_deliveries()] == ["new"]
    again = await catalog.prune(policy, now=now)
    assert (again.runs, again.changes, again.deliveries) == (0, 0, 0)


async def test_prune_by_count_keeps_the_newest_and_seq_never_repeats(catalog: SqlStore) -> None:
    """Counts keep the newest runs per gateway and the newest changes; seq goes on after them."""
    policy = RetentionPolicy(
        runs_days=365, runs_keep_per_gateway=1, changes_days=365, changes_keep=2
    )
    result = await catalog.prune(policy, now=at(100))
    assert (result.runs, result.changes) == (2, 7)
    assert [r.record.gateway for r in await catalog.list_runs()] == ["fal", "groq"]
    assert [c.seq for c in await catalog.list_changes()] == [8, 9]
    everything = RetentionPolicy(
        runs_days=1, runs_keep_per_gateway=1, changes_days=1, changes_keep=1
    )
    await catalog.prune(everything, now=T0 + timedelta(days=30))
    assert await catalog.list_changes() == []
    added = await sync(catalog, "fal", [model("fal", i) for i in (3, 4, 5, 6)], now=at(200))
    assert [c.seq for c in added.changes] == [10, 11, 12, 13]


async def test_prune_deletes_models_removed_longer_ago_than_the_retention(
    catalog: SqlStore,
) -> None:
    """A model removed over ``removed_models_days`` ago is deleted; its changes stay."""
    policy = RetentionPolicy(
        runs_days=365,
        runs_keep_per_gateway=100,
        changes_days=365,
        changes_keep=100,
        removed_models_days=1,
    )
    changes = len(await catalog.list_changes(limit=1000))
    assert (await catalog.prune(policy, now=at(20) + timedelta(hours=23))).models == 0
    assert (await catalog.prune(policy, now=at(21) + timedelta(days=1))).models == 1
    groq = await catalog.list_models(ModelQuery(gateway="groq", include_removed=True))
    assert sorted(m.model.id for m in groq) == sorted(model("groq", i).id for i in range(4))
    assert len(await catalog.list_models(ModelQuery(gateway="fal"))) == 3
    assert len(await catalog.list_changes(limit=1000)) == changes
