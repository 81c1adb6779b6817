"""The Store contract on every backend: gateways, leases with fencing, runs and their plans."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from modelsync.domain import (
    CatalogEntry,
    ChangeKind,
    ModelChange,
    ModelStatus,
    Presence,
    Pricing,
    RunOutcome,
    SyncPlan,
)
from modelsync.errors import LeaseLost, StoreError
from modelsync.store.base import ModelQuery, StoredCatalog
from modelsync.store.sql import SqlStore

from .conftest import StoreFactory, asyncpg_dsn
from .factories import T0, at, model, plan_for, registration, run_record, sync

GATEWAYS = [registration("groq"), registration("fal", tier="low", interval_s=14400)]


async def test_register_gateways_and_read_states(store: SqlStore) -> None:
    """Registered gateways come back by name with a fresh state."""
    await store.register_gateways(GATEWAYS)
    await store.register_gateways([])
    states = await store.gateway_states()
    assert [s.name for s in states] == ["fal", "groq"]
    fal = states[0]
    assert (fal.tier, fal.interval_s, fal.enabled) == ("low", 14400, True)
    assert (fal.version, fal.fencing_token, fal.consecutive_failures, fal.model_count) == (
        0,
        0,
        0,
        0,
    )
    assert fal.last_attempt_at is fal.lease_owner is fal.last_outcome is None
    assert [s.name for s in await store.gateway_states(["groq", "nope"])] == ["groq"]
    assert await store.gateway_states([]) == []


async def test_register_again_updates_configuration_and_keeps_state(store: SqlStore) -> None:
    """A second registration changes the configuration columns only."""
    await store.register_gateways(GATEWAYS)
    await sync(store, "groq", [model("groq", 1)], now=at(10))
    await store.register_gateways([registration("groq", enabled=False, disabled_reason="no key")])
    (groq,) = await store.gateway_states(["groq"])
    assert (groq.enabled, groq.disabled_reason, groq.version, groq.model_count) == (
        False,
        "no key",
        1,
        1,
    )


async def test_register_disables_gateways_removed_from_the_configuration(store: SqlStore) -> None:
    """A gateway the configuration no longer names stays listed, disabled, with the reason."""
    await store.register_gateways(GATEWAYS)
    await sync(store, "fal", [model("fal", 1)], now=T0)
    await store.register_gateways([registration("groq")])
    fal, groq = await store.gateway_states()
    assert (fal.enabled, fal.disabled_reason, fal.model_count) == (
        False,
        "removed from the configuration",
        1,
    )
    assert groq.enabled
    assert await store.claim_due("me", now=at(10**6), ttl_s=30, limit=5, candidates=["fal"]) == []
    await store.register_gateways(GATEWAYS)
    assert all(state.enabled for state in await store.gateway_states())


async def test_lease_contention_expiry_and_takeover(store: SqlStore) -> None:
    """One holder at a time (its own may retake); an expired lease is taken over, token bumped."""
    await store.register_gateways(GATEWAYS)
    first = await store.acquire_lease("groq", "a", ttl_s=30)
    assert first is not None
    assert (first.lease.owner, first.lease.token) == ("a", 1)
    assert 20 < (first.lease.expires_at - datetime.now(UTC)).total_seconds() <= 30
    assert (first.state.lease_owner, first.state.fencing_token) == ("a", 1)
    assert await store.acquire_lease("groq", "b", ttl_s=30) is None
    again = await store.acquire_lease("groq", "a", ttl_s=30)
    assert again is not None
    assert again.lease.token == 2
    assert await store.acquire_lease("unknown", "a", ttl_s=30) is None
    assert await store.acquire_lease("groq", "a", ttl_s=-1) is not None  # expired at once
    taken = await store.acquire_lease("groq", "b", ttl_s=30)
    assert taken is not None
    assert (taken.lease.owner, taken.lease.token) == ("b", 4)


async def test_renew_lease_extends_a_held_lease_and_reports_a_lost_one(store: SqlStore) -> None:
    """Renewing moves the expiry by the database's clock; a lease taken over renews to None."""
    await store.register_gateways(GATEWAYS)
    short = await store.acquire_lease("groq", "a", ttl_s=5)
    assert short is not None
    renewed = await store.renew_lease(short.lease, ttl_s=60)
    assert renewed is not None
    assert renewed.token == short.lease.token
    assert renewed.expires_at > short.lease.expires_at
    assert await store.acquire_lease("groq", "b", ttl_s=30) is None
    lapsed = await store.renew_lease(short.lease, ttl_s=-1)
    assert lapsed is not None
    taken = await store.acquire_lease("groq", "b", ttl_s=30)
    assert taken is not None
    assert await store.renew_lease(short.lease, ttl_s=60) is None
    assert (await store.gateway_states(["groq"]))[0].lease_owner == "b"


async def test_concurrent_acquire_from_two_stores_grants_one(
    store: SqlStore, make_store: StoreFactory
) -> None:
    """Two processes racing for the same gateway: exactly one wins each round."""
    await store.register_gateways(GATEWAYS)
    other = await make_store()
    for round_ in range(5):
        grants = await asyncio.gather(
            store.acquire_lease("groq", "a", ttl_s=30),
            other.acquire_lease("groq", "b", ttl_s=30),
        )
        won = [grant for grant in grants if grant is not None]
        assert len(won) == 1
        assert won[0].lease.token == round_ + 1
        await store.release_lease(won[0].lease)


async def test_release_lease_frees_the_gateway_and_ignores_stale_leases(store: SqlStore) -> None:
    """Releasing lets another owner in at once; releasing a lost lease changes nothing."""
    await store.register_gateways(GATEWAYS)
    old = await store.acquire_lease("groq", "a", ttl_s=-1)
    assert old is not None
    new = await store.acquire_lease("groq", "b", ttl_s=60)
    assert new is not None
    await store.release_lease(old.lease)
    assert (await store.gateway_states(["groq"]))[0].lease_owner == "b"
    await store.release_lease(new.lease)
    assert await store.acquire_lease("groq", "c", ttl_s=60) is not None


async def test_stale_lease_cannot_finish_its_run(store: SqlStore) -> None:
    """A run whose lease was taken over raises LeaseLost and writes nothing."""
    await store.register_gateways(GATEWAYS)
    await sync(store, "groq", [model("groq", 1)], now=T0)
    stale = await store.acquire_lease("groq", "a", ttl_s=-1)
    assert stale is not None
    plan = await plan_for(store, "groq", [model("groq", 1, name="Renamed"), model("groq", 2)])
    fresh = await store.acquire_lease("groq", "b", ttl_s=60)
    assert fresh is not None
    before = await store.gateway_states(["groq"])
    with pytest.raises(LeaseLost):
        await store.finish_run(run_record("groq"), plan, lease=stale.lease, now=at(21))
    assert await store.gateway_states(["groq"]) == before
    assert len(await store.list_runs()) == 1
    assert len(await store.list_changes()) == 1
    assert await store.catalog_version() == 1
    catalog = await store.load_catalog("groq")
    assert [e.fields()["name"] for e in catalog.entries.values()] == ["Model 1"]
    result = await store.finish_run(run_record("groq"), plan, lease=fresh.lease, now=at(22))
    assert (result.catalog_version, result.gateway_version, len(result.changes)) == (2, 2, 2)


async def test_finish_run_without_a_lease_records_a_disabled_gateway(store: SqlStore) -> None:
    """``lease=None`` records the run (a disabled gateway is never leased)."""
    await store.register_gateways([registration("xai", enabled=False, disabled_reason="no key")])
    run = run_record("xai", RunOutcome.DISABLED, error="no key", next_run_at=at(3600))
    result = await store.finish_run(run, None, lease=None, now=at(1))
    (state,) = await store.gateway_states(["xai"])
    assert (state.last_outcome, state.last_attempt_at, state.next_run_at) == (
        RunOutcome.DISABLED,
        T0,
        at(3600),
    )
    assert (state.consecutive_failures, state.last_success_at) == (0, None)
    assert (result.catalog_version, result.gateway_version, result.changes) == (0, 0, ())


async def test_unleased_failure_counts_unless_another_owner_holds_the_lease(
    store: SqlStore,
) -> None:
    """A lost run's failure backs the gateway off and frees its lease; a live holder is left be."""
    await store.register_gateways(GATEWAYS)
    await sync(store, "groq", [model("groq", 1)], now=T0)
    mine = await store.acquire_lease("groq", "a", ttl_s=60)
    assert mine is not None
    failed = run_record("groq", RunOutcome.FAILED, error="lease lost", next_run_at=at(1800))
    await store.record_unleased_failure(failed, owner="a")
    (state,) = await store.gateway_states(["groq"])
    assert (state.consecutive_failures, state.last_error, state.next_run_at) == (
        1,
        "lease lost",
        at(1800),
    )
    assert state.lease_owner is None
    theirs = await store.acquire_lease("groq", "b", ttl_s=60)
    assert theirs is not None
    await store.record_unleased_failure(replace(failed, error="late"), owner="a")
    (after,) = await store.gateway_states(["groq"])
    assert (after.consecutive_failures, after.last_error, after.lease_owner) == (
        1,
        "lease lost",
        "b",
    )
    assert [run.record.error for run in await store.list_runs(gateway="groq")] == [
        "late",
        "lease lost",
        None,
    ]
    with pytest.raises(ValueError, match="finish_run"):
        await store.record_unleased_failure(run_record("groq"), owner="a")


async def test_finish_run_of_an_unknown_gateway_is_a_store_error(store: SqlStore) -> None:
    """A run of a gateway that was never registered is refused."""
    with pytest.raises(StoreError, match="unknown gateway"):
        await store.finish_run(run_record("ghost"), None, lease=None, now=T0)


async def test_claim_due_leases_enabled_due_free_gateways_in_due_order(store: SqlStore) -> None:
    """Only enabled, due and unleased candidates are claimed, soonest first, up to the limit."""
    names = ["a", "b", "c", "d", "e", "f"]
    await store.register_gateways([registration(n) for n in names])
    await store.register_gateways([registration(n, enabled=n != "f") for n in names])
    await store.set_next_run("a", at(-10))
    await store.set_next_run("b", at(-20))
    await store.set_next_run("c", at(100))
    assert await store.acquire_lease("e", "other", ttl_s=60) is not None
    claimed = await store.claim_due("me", now=T0, ttl_s=30, limit=2, candidates=names)
    assert [g.lease.gateway for g in claimed] == ["d", "b"]
    assert all(g.lease.owner == "me" for g in claimed)
    running = {"d", "b"}
    idle = [n for n in names if n not in running]
    rest = await store.claim_due("me", now=T0, ttl_s=30, limit=10, candidates=idle)
    assert [g.lease.gateway for g in rest] == ["a"]
    running.add("a")
    idle = [n for n in names if n not in running]
    assert await store.claim_due("me", now=T0, ttl_s=30, limit=10, candidates=idle) == []
    assert await store.claim_due("me", now=T0, ttl_s=30, limit=0, candidates=names) == []
    assert await store.claim_due("me", now=T0, ttl_s=30, limit=10, candidates=[]) == []
    later = await store.claim_due("me", now=at(101), ttl_s=30, limit=10, candidates=names)
    assert [g.lease.gateway for g in later] == ["d", "b", "a", "c"]  # its own again, not e's


async def test_claim_due_from_two_stores_never_claims_a_gateway_twice(
    store: SqlStore, make_store: StoreFactory
) -> None:
    """Two processes claiming at once split the due gateways between them."""
    names = [f"g{i}" for i in range(8)]
    await store.register_gateways([registration(n) for n in names])
    other = await make_store()
    for _ in range(3):
        mine, theirs = await asyncio.gather(
            store.claim_due("me", now=T0, ttl_s=30, limit=5, candidates=names),
            other.claim_due("them", now=T0, ttl_s=30, limit=5, candidates=names),
        )
        got = [g.lease.gateway for g in mine] + [g.lease.gateway for g in theirs]
        assert sorted(got) == names
        for grant in [*mine, *theirs]:
            await store.release_lease(grant.lease)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_claim_due_skips_rows_locked_by_another_transaction(
    store: SqlStore, db_url: str
) -> None:
    """A gateway row locked elsewhere is skipped, not waited for (FOR UPDATE SKIP LOCKED)."""
    names = ["a", "b", "c"]
    await store.register_gateways([registration(n) for n in names])
    connection = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        async with connection.transaction():
            await connection.execute("SELECT 1 FROM gateways WHERE name = 'b' FOR UPDATE")
            claimed = await asyncio.wait_for(
                store.claim_due("me", now=T0, ttl_s=30, limit=10, candidates=names), timeout=5
            )
            assert [g.lease.gateway for g in claimed] == ["a", "c"]
    finally:
        await connection.close()
    again = await store.claim_due("me", now=T0, ttl_s=30, limit=10, candidates=["b"])
    assert [g.lease.gateway for g in again] == ["b"]


async def test_set_next_run(store: SqlStore) -> None:
    """The next run time is written, cleared, and refused for an unknown gateway."""
    await store.register_gateways(GATEWAYS)
    await store.set_next_run("groq", at(60))
    assert (await store.gateway_states(["groq"]))[0].next_run_at == at(60)
    await store.set_next_run("groq", None)
    assert (await store.gateway_states(["groq"]))[0].next_run_at is None
    with pytest.raises(StoreError):
        await store.set_next_run("ghost", at(60))


@pytest.mark.parametrize(
    ("outcome", "failures", "error", "succeeded"),
    [
        (RunOutcome.CHANGED, 0, None, True),
        (RunOutcome.UNCHANGED, 0, None, True),
        (RunOutcome.NOT_MODIFIED, 0, None, True),
        (RunOutcome.FAILED, 3, "boom", False),
        (RunOutcome.REJECTED, 3, "boom", False),
    ],
)
async def test_finish_run_outcomes_update_the_gateway_state(
    store: SqlStore, outcome: RunOutcome, failures: int, error: str | None, succeeded: bool
) -> None:
    """Success resets the failure count and stores validators; failure counts and keeps them."""
    await store.register_gateways(GATEWAYS)
    await sync(store, "groq", [model("groq", 1), model("groq", 2)], now=T0)
    for i in range(2):
        grant = await store.acquire_lease("groq", "w", ttl_s=60)
        assert grant is not None
        failed = run_record("groq", RunOutcome.FAILED, started=at(10 + i), error="boom")
        await store.finish_run(failed, None, lease=grant.lease, now=at(10 + i))
    grant = await store.acquire_lease("groq", "w", ttl_s=60)
    assert grant is not None
    plan = SyncPlan("groq", total_models=2) if succeeded else None
    run = run_record(
        "groq",
        outcome,
        started=at(100),
        error=error,
        etag='W/"v2"',
        last_modified="Sun, 01 Mar 2026 12:00:00 GMT",
        body_hash="f" * 64,
        full_sync=True,
        next_run_at=at(1000),
    )
    await store.finish_run(run, plan, lease=grant.lease, now=at(101))
    (state,) = await store.gateway_states(["groq"])
    assert (state.consecutive_failures, state.last_error, state.last_outcome) == (
        failures,
        error,
        outcome,
    )
    assert (state.last_attempt_at, state.next_run_at, state.lease_owner) == (
        at(100),
        at(1000),
        None,
    )
    assert state.model_count == 2
    if succeeded:
        assert (state.last_success_at, state.last_full_sync_at) == (at(101), at(101))
        assert (state.etag, state.body_hash) == ('W/"v2"', "f" * 64)
    else:
        assert (state.last_success_at, state.last_full_sync_at, state.etag) == (T0, None, None)
    assert len((await store.load_catalog("groq")).entries) == 2


async def test_not_modified_keeps_validators_it_does_not_repeat(store: SqlStore) -> None:
    """A 304 without validators keeps the stored ETag and body hash; a 200 replaces them."""
    await store.register_gateways(GATEWAYS)
    runs = [
        run_record("groq", RunOutcome.UNCHANGED, started=at(0), etag='"a"', body_hash="h1"),
        run_record("groq", RunOutcome.NOT_MODIFIED, started=at(10)),
    ]
    for run in runs:
        grant = await store.acquire_lease("groq", "w", ttl_s=60)
        assert grant is not None
        await store.finish_run(run, None, lease=grant.lease, now=run.finished_at)
        (state,) = await store.gateway_states(["groq"])
        assert (state.etag, state.body_hash) == ('"a"', "h1")
    grant = await store.acquire_lease("groq", "w", ttl_s=60)
    assert grant is not None
    fresh = run_record("groq", RunOutcome.UNCHANGED, started=at(20), body_hash="h2")
    await store.finish_run(fresh, None, lease=grant.lease, now=at(21))
    (state,) = await store.gateway_states(["groq"])
    assert (state.etag, state.body_hash, state.last_success_at) == (None, "h2", at(21))


async def test_plans_bump_versions_and_seq_and_return_stored_changes(store: SqlStore) -> None:
    """Each non-empty plan adds one to the global and the gateway version; seq keeps growing."""
    await store.register_gateways(GATEWAYS)
    first = await sync(store, "groq", [model("groq", i) for i in range(3)], now=at(0))
    assert (first.catalog_version, first.gateway_version) == (1, 1)
    assert [r.seq for r in first.changes] == [1, 2, 3]
    assert {r.change.kind for r in first.changes} == {ChangeKind.ADDED}
    assert all(r.run_id == first.run_id and r.catalog_version == 1 for r in first.changes)
    same = await sync(store, "groq", [model("groq", i) for i in range(3)], now=at(10))
    assert (same.catalog_version, same.gateway_version, same.changes) == (1, 1, ())
    other = await sync(store, "fal", [model("fal", 7)], now=at(20))
    assert (other.catalog_version, other.gateway_version) == (2, 1)
    assert [r.seq for r in other.changes] == [4]
    again = await sync(store, "groq", [model("groq", 0, name="New name")], now=at(30))
    assert (again.catalog_version, again.gateway_version) == (3, 2)
    assert await store.catalog_version() == 3
    stored = await store.list_changes()
    assert stored == [*first.changes, *other.changes, *again.changes]
    runs = await store.list_runs()
    assert [r.catalog_version for r in runs] == [3, 2, None, 1]
    assert (await store.load_catalog("groq")).version == 2


async def test_missing_removed_restored_and_updated_models(store: SqlStore) -> None:
    """Removal hysteresis, restore and update land in the catalog and the history."""
    await store.register_gateways(GATEWAYS)
    a, b, c = (model("groq", i) for i in range(3))
    await sync(store, "groq", [a, b, c], now=at(0))
    await sync(store, "groq", [a, b], now=at(10))
    catalog = (await store.load_catalog("groq")).entries
    assert (catalog[c.gateway_model_id].presence, catalog[c.gateway_model_id].miss_count) == (
        Presence.MISSING,
        1,
    )
    (missing,) = await store.model_offers(c.id)
    assert (missing.status.value, missing.last_seen_at, missing.miss_count) == ("missing", at(0), 1)
    removed = await sync(store, "groq", [a, b], now=at(20))
    assert [(r.change.kind, r.change.gateway_model_id) for r in removed.changes] == [
        (ChangeKind.REMOVED, c.gateway_model_id)
    ]
    entry = (await store.load_catalog("groq")).entries[c.gateway_model_id]
    assert (entry.presence, entry.miss_count) == (Presence.REMOVED, 2)
    cheaper = replace(b, pricing=Pricing(prompt=Decimal("0.1"), completion=Decimal("0.6")))
    back = await sync(store, "groq", [a, cheaper, c], now=at(30))
    kinds = {r.change.gateway_model_id: r.change.kind for r in back.changes}
    assert kinds == {
        b.gateway_model_id: ChangeKind.UPDATED,
        c.gateway_model_id: ChangeKind.RESTORED,
    }
    updated = next(r for r in back.changes if r.change.kind is ChangeKind.UPDATED)
    assert dict(updated.change.fields) == {"pricing.prompt": ("0.15", "0.1")}
    entries = (await store.load_catalog("groq")).entries
    assert {e.presence for e in entries.values()} == {Presence.PRESENT}
    assert entries[b.gateway_model_id] == CatalogEntry.of(cheaper)
    assert [r.change.kind for r in await store.list_changes(model=c.id)] == [
        ChangeKind.ADDED,
        ChangeKind.REMOVED,
        ChangeKind.RESTORED,
    ]


async def test_load_catalog_round_trips_models_exactly(store: SqlStore) -> None:
    """Decimal prices, tuples, nulls, status and extra come back as they were written."""
    await store.register_gateways(GATEWAYS)
    rich = model(
        "groq",
        1,
        pricing=Pricing(
            prompt=Decimal("0.000001"),
            completion=Decimal("12.5"),
            cache_read=Decimal("0"),
            request=Decimal("0.0004"),
        ),
        status=ModelStatus.DEPRECATED,
        deprecation_date="2026-06-01",
        extra={"nested": {"list": [1, 2.5, None, "x"]}, "flag": True, "unicode": "模型"},
    )
    bare = model(
        "groq",
        2,
        name=None,
        description=None,
        provider_slug=None,
        context_length=None,
        max_output_tokens=None,
        pricing=Pricing(),
        input_modalities=(),
        output_modalities=(),
        supported_parameters=(),
        extra={},
    )
    await sync(store, "groq", [rich, bare], now=T0)
    catalog = await store.load_catalog("groq")
    assert catalog.version == 1
    served = {m.model.gateway_model_id: m for m in await store.list_models(ModelQuery())}
    for original in (rich, bare):
        entry = catalog.entries[original.gateway_model_id]
        assert entry == CatalogEntry.of(original)  # what a diff needs: values, extra's hash
        assert (entry.presence, entry.miss_count) == (Presence.PRESENT, 0)
        stored = served[original.gateway_model_id]
        assert stored.model == original
        assert stored.model.extra == original.extra
        assert stored.content_hash == original.content_hash
    assert await store.load_catalog("nothing") == StoredCatalog("nothing", 0, {})
    assert (await store.load_catalog("fal")).entries == {}


async def test_an_exception_mid_apply_leaves_the_old_catalog(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the models were written rolls the whole run back; the lease is kept."""
    await store.register_gateways(GATEWAYS)
    await sync(store, "groq", [model("groq", 1)], now=T0)
    grant = await store.acquire_lease("groq", "w", ttl_s=60)
    assert grant is not None
    plan = await plan_for(store, "groq", [model("groq", 1, name="New"), model("groq", 2)])
    before = (await store.gateway_states(["groq"]), await store.load_catalog("groq"))

    publish = SqlStore._publish

    async def publish_then_explode(self: SqlStore, *args: Any, **kwargs: Any) -> Any:
        await publish(self, *args, **kwargs)  # models and changes written, not yet committed
        raise RuntimeError("injected")

    monkeypatch.setattr(SqlStore, "_publish", publish_then_explode)
    with pytest.raises(RuntimeError, match="injected"):
        await store.finish_run(run_record("groq"), plan, lease=grant.lease, now=at(11))
    monkeypatch.undo()
    assert (await store.gateway_states(["groq"]), await store.load_catalog("groq")) == before
    assert (await store.catalog_version(), len(await store.list_runs())) == (1, 1)
    result = await store.finish_run(run_record("groq"), plan, lease=grant.lease, now=at(12))
    assert (result.catalog_version, len(result.changes)) == (2, 2)


async def test_a_database_error_mid_apply_is_a_store_error_and_writes_nothing(
    store: SqlStore,
) -> None:
    """A change the database refuses (NULL id) rolls back the run and surfaces as StoreError."""
    await store.register_gateways(GATEWAYS)
    grant = await store.acquire_lease("groq", "w", ttl_s=60)
    assert grant is not None
    broken = ModelChange(ChangeKind.ADDED, "groq", "m", None)  # type: ignore[arg-type]
    plan = SyncPlan("groq", changes=(broken,), upserts=(model("groq", 1),), total_models=1)
    with pytest.raises(StoreError):
        await store.finish_run(run_record("groq"), plan, lease=grant.lease, now=at(1))
    assert await store.list_models(ModelQuery()) == []
    assert (await store.catalog_version(), await store.list_runs()) == (0, [])
    assert (await store.gateway_states(["groq"]))[0].lease_owner == "w"


async def test_misuse_is_refused_before_touching_the_database(store: SqlStore) -> None:
    """A plan for another gateway, or a plan on a failed run, is a programming error."""
    await store.register_gateways(GATEWAYS)
    plan = SyncPlan("fal", upserts=(model("fal", 1),), total_models=1)
    with pytest.raises(ValueError, match="plan is for"):
        await store.finish_run(run_record("groq"), plan, lease=None, now=T0)
    own = SyncPlan("groq", upserts=(model("groq", 1),), total_models=1)
    with pytest.raises(ValueError, match="failed run"):
        await store.finish_run(run_record("groq", RunOutcome.FAILED), own, lease=None, now=T0)


async def test_closed_store_and_naive_times_raise_store_error(store: SqlStore) -> None:
    """Database-side misuse surfaces as StoreError."""
    await store.register_gateways(GATEWAYS)
    with pytest.raises(StoreError, match="naive datetime"):
        await store.set_next_run("groq", T0.replace(tzinfo=None))
    await store.close()
    with pytest.raises(StoreError, match="not open"):
        await store.catalog_version()
