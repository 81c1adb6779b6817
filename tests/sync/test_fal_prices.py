"""fal's prices through the runner (issue 9 item 3): the pricing API is asked after the listing,
each unit price stored with its unit; a pricing failure never fails or corrupts the run. Through
the simulator (built-in and recorded catalogs) and a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path

import pytest
from runner_harness import Harness, models_of, open_harness

from conftest import SHARED_FIXTURES, shared_fixture
from modelsync.clock import ManualClock
from modelsync.domain import ChangeKind
from modelsync.simulator import SimulatorConfig, create_simulator_app
from modelsync.simulator.extras import fal_price

PAGE_1 = "providers/fal/fal_platform_api_v1_models_page1_2026-04-18_ianscrivener-PromptProxy.json"


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:
        yield opened


async def prices_of(harness: Harness) -> dict[str, dict[str, object]]:
    stored = await models_of(harness.stores[0], "fal")
    return {key: item.model.pricing.to_json() for key, item in stored.items()}


async def test_unit_prices_stored_with_their_units(harness: Harness) -> None:
    """Every fal model gets its unit price and unit; token fields stay empty unless the unit
    is tokens; the served units say per what."""
    runner = await harness.runner()
    [summary] = await runner.run_many(["fal"])
    assert summary.ok, summary.error
    assert summary.warnings == ()
    stored = await models_of(harness.stores[0], "fal")
    assert stored
    for key, item in stored.items():
        pricing = item.model.pricing
        category = item.model.extra.get("category")
        expected = fal_price(key, category if isinstance(category, str) else None)
        served = pricing.to_json()
        if expected["unit"] == "1M tokens":
            assert pricing.prompt == Decimal(str(expected["unit_price"]))
            assert pricing.unit_price is None
        else:
            assert pricing.unit_price == Decimal(str(expected["unit_price"])), key
            assert served["units"]["unit_price"] == f"usd_per_{pricing.per_unit}"
            assert served["prompt"] is None
            assert served["completion"] is None
        assert served["source"] == "gateway"


async def test_pricing_failure_keeps_prices_and_says_so(harness: Harness) -> None:
    """The pricing API answering 500: the listing run succeeds, the prices stay exactly as they
    were, no change is recorded for them, and the summary says why."""
    runner = await harness.runner()
    [first] = await runner.run_many(["fal"])
    assert first.ok
    before = await prices_of(harness)
    await harness.admin_call(
        "POST", "/_admin/side-fault", json={"endpoint": "fal-pricing", "times": 100}
    )
    await harness.mutate(gateway="fal", op="add")
    [second] = await runner.run_many(["fal"])
    assert second.ok, second.error
    assert second.added == 1
    assert second.updated == 0
    assert len(second.warnings) == 1
    assert "pricing unavailable" in second.warnings[0]
    assert "prices kept as they were" in second.warnings[0]
    assert second.to_json()["warnings"] == list(second.warnings)
    after = await prices_of(harness)
    assert {k: v for k, v in after.items() if k in before} == before
    changes = await harness.stores[0].list_changes(gateway="fal", limit=1000)
    assert not any(record.change.kind is ChangeKind.UPDATED for record in changes), (
        "a pricing failure must not record price changes"
    )
    await harness.admin_call(
        "POST", "/_admin/side-fault", json={"endpoint": "fal-pricing", "times": 0}
    )
    [third] = await runner.run_many(["fal"])
    assert third.ok
    assert third.warnings == ()


async def test_first_run_with_pricing_down_still_lists(harness: Harness) -> None:
    """Pricing down on the very first run: every model listed, unpriced, run ok."""
    await harness.admin_call(
        "POST", "/_admin/side-fault", json={"endpoint": "fal-pricing", "times": 100}
    )
    runner = await harness.runner()
    [summary] = await runner.run_many(["fal"])
    assert summary.ok
    assert summary.total_models > 0
    assert summary.warnings
    assert all(p["unit_price"] is None for p in (await prices_of(harness)).values())


async def test_recorded_fal_page_priced(tmp_path: Path) -> None:
    """The recorded fal page served by the simulator: each of its inference endpoints priced."""
    shared_fixture(PAGE_1)
    app = create_simulator_app(SimulatorConfig(fixtures_dir=SHARED_FIXTURES, clock=ManualClock()))
    async with AsyncExitStack() as stack:
        harness = Harness(app, tmp_path / "modelsync.db", stack)
        await harness.start()
        runner = await harness.runner()
        [summary] = await runner.run_many(["fal"])
        assert summary.ok, summary.error
        assert summary.total_models == 99
        prices = await prices_of(harness)
        assert len(prices) == 99
        assert all(p["unit_price"] is not None or p["prompt"] is not None for p in prices.values())
