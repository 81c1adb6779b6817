"""Reference catalogs as price sources (issue 9 item 3), end to end: models.dev and LiteLLM served
by the simulator, fetched by ReferencePrices, stored in a real SQLite store, applied by the runner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from runner_harness import UPSTREAM, Harness, gateways_for, models_of, open_harness

from modelsync.clock import SystemClock
from modelsync.domain import ChangeSource
from modelsync.reference.service import ReferencePrices, ReferenceSource
from modelsync.reference.table import PRICE_SOURCE
from modelsync.store.sql import SqlStore
from modelsync.sync.runner import SyncRunner

SOURCES = (
    ReferenceSource("litellm", "litellm", "https://raw.githubusercontent.com/BerriAI/litellm/main/"
                    "model_prices_and_context_window.json", 3600),
    ReferenceSource("modelsdev", "modelsdev", "https://models.dev/api.json", 3600),
)  # fmt: skip
NO_PRICES = ("groq", "google", "cerebras", "fireworks")
"""Simulated gateways whose own API gives no prices."""


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:
        yield opened


def references(runner: SyncRunner, store: SqlStore) -> ReferencePrices:
    prices = ReferencePrices(
        store=store,
        fetcher=runner.fetcher,
        sources=SOURCES,
        gateways=gateways_for(UPSTREAM),
        clock=SystemClock(),
        upstream=UPSTREAM,
    )
    runner.references = prices
    return prices


async def prompt_share(store: SqlStore, gateway: str) -> tuple[int, int, set[str | None]]:
    """(active offers with a prompt price, active offers, their price sources)."""
    stored = await models_of(store, gateway)
    active = [item.model for item in stored.values() if item.model.status.value == "active"]
    priced = [m for m in active if m.pricing.prompt is not None]
    return len(priced), len(active), {m.pricing.to_json()["source"] for m in priced}


async def test_reference_prices_fill_offers_without_prices(harness: Harness) -> None:
    """Gateways without prices get models.dev's or LiteLLM's, with the source named; a gateway's
    own price wins; the re-pricing runs record their changes with source ``reference``."""
    runner = await harness.runner()
    store = harness.stores[0]
    await runner.run_many([*NO_PRICES, "nebius", "openrouter"])
    for gateway in NO_PRICES:
        assert (await prompt_share(store, gateway))[0] == 0
    nebius_before = {k: v.model.pricing for k, v in (await models_of(store, "nebius")).items()}
    prices = references(runner, store)
    summaries = await prices.refresh_due(runner)
    assert {s.gateway for s in summaries} >= set(NO_PRICES)
    assert all(s.ok for s in summaries)
    for gateway in NO_PRICES:
        priced, _, sources = await prompt_share(store, gateway)
        assert priced > 0, gateway
        assert all(s and s.startswith(("models.dev@", "litellm@")) for s in sources), sources
    groq = await prompt_share(store, "groq")
    assert any(s and s.startswith("litellm@") for s in groq[2]), "litellm comes first by name"
    nebius_after = {k: v.model.pricing for k, v in (await models_of(store, "nebius")).items()}
    assert nebius_after == nebius_before
    assert all(p.source is None for p in nebius_after.values()), "the gateway's own prices win"
    changes = await store.list_changes(gateway="groq", limit=1000)
    repriced = [c for c in changes if "pricing.prompt" in c.change.fields]
    assert repriced
    assert {c.source for c in repriced} == {ChangeSource.REFERENCE}
    assert all(c.to_json()["source"] == "reference" for c in repriced)
    # a second refresh of the same catalogs changes nothing and runs nothing
    for name in ("litellm", "modelsdev"):
        assert await prices.refresh(name) == set()


async def test_new_model_gets_reference_price_with_its_source(harness: Harness) -> None:
    """A model a gateway adds is priced in its own (poll) run from the tables it finds, and its
    ``added`` change names the price's source."""
    runner = await harness.runner()
    store = harness.stores[0]
    prices = references(runner, store)
    await prices.refresh_due(runner)
    await harness.mutate(gateway="cerebras", op="add", model_id="llama-9.9-70b")
    assert "cerebras" in await prices.refresh("modelsdev")  # the catalog lists it now
    [summary] = await runner.run_many(["cerebras"])
    assert summary.added == 1
    [added] = [
        c for c in await store.list_changes(gateway="cerebras", limit=1000)
        if c.change.kind.value == "added" and c.change.gateway_model_id == "llama-9.9-70b"
    ]  # fmt: skip
    assert added.change.fields["pricing.prompt"][1] is not None
    source = added.change.fields[PRICE_SOURCE][1]
    assert isinstance(source, str)
    assert source.startswith("models.dev@")


async def test_reference_reprice_and_failure(harness: Harness) -> None:
    """A catalog repricing updates the prices (source ``reference``); a failing fetch keeps
    every price, says why in the status, and a restart (new process) loads the stored tables."""
    runner = await harness.runner()
    store = harness.stores[0]
    prices = references(runner, store)
    await prices.refresh_due(runner)
    before = {k: v.model.pricing.prompt for k, v in (await models_of(store, "cerebras")).items()}
    await harness.admin_call("POST", "/_admin/reference-factor", json={"factor": 2})
    changed = await prices.refresh("modelsdev")
    assert "cerebras" in changed
    await prices.reprice(runner, changed)
    after = {k: v.model.pricing.prompt for k, v in (await models_of(store, "cerebras")).items()}
    assert {k: v * 2 for k, v in before.items() if v is not None} == {
        k: v for k, v in after.items() if v is not None
    }
    updates = [
        c for c in await store.list_changes(gateway="cerebras", limit=1000)
        if c.change.kind.value == "updated"
    ]  # fmt: skip
    assert updates
    assert {c.source for c in updates} == {ChangeSource.REFERENCE}
    for name in ("modelsdev", "litellm"):
        await harness.admin_call(
            "POST", "/_admin/side-fault", json={"endpoint": name, "times": 100}
        )
    await harness.admin_call("POST", "/_admin/reference-factor", json={"factor": 3})
    for name in ("modelsdev", "litellm"):
        assert await prices.refresh(name) == set()
    assert all(item["last_error"] for item in prices.status())
    [summary] = await runner.run_many(["cerebras"], full=True)
    assert summary.ok
    kept = {k: v.model.pricing.prompt for k, v in (await models_of(store, "cerebras")).items()}
    assert kept == after
    # another process: no fetch yet, the stored tables
    other_store = await harness.open_store()
    other = await harness.runner(store=other_store, owner="runner-b")
    fresh = references(other, other_store)
    assert fresh.tables() == ()
    tables = await fresh.current()
    assert {t.name for t in tables} == {"models.dev", "litellm"}
    [again] = await other.run_many(["cerebras"], full=True)
    assert again.ok
    assert again.updated == 0
