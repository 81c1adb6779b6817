"""The scheduler never stuck: no double claims, no starving slots, daily full resyncs whatever
triggers the runs, removed gateways disabled, and a quiet log during an outage."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from scheduler_rig import GATEWAYS, FlakyStore, Rig, runs_of, states

from modelsync.config import GatewaySettings
from modelsync.domain import ChangeSource, RunOutcome
from modelsync.runtime import open_runtime
from modelsync.sync.health import status_json
from web.harness import eventually

HELD = ("groq", "together", "fireworks", "openrouter")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """The simulator, a frozen clock and a database of this test's own."""
    opened = Rig(tmp_path, stack=AsyncExitStack())
    try:
        yield opened
    finally:
        await opened.aclose()


async def test_slow_gateways_never_starve_the_others(rig: Rig) -> None:
    """Four gateways that never answer hold four runs; the nine others still run at once."""
    runtime = await rig.runtime()
    for gateway in HELD:
        rig.transport.hold(gateway)
    scheduler = rig.scheduler(runtime, rng=lambda: 0.0)
    await scheduler.start()
    healthy = GATEWAYS - len(HELD)
    await eventually(lambda: _count(runs_of(runtime), healthy))
    assert all(rig.transport.waiting[gateway] == 1 for gateway in HELD)
    # a stored run's task still tells its listeners and builds its memo before it ends
    await eventually(lambda: sorted(scheduler.running()) == sorted(HELD))
    for gateway in HELD:
        rig.transport.release(gateway)
    await eventually(lambda: not scheduler.running())


async def _count(found: Any, count: int) -> bool:
    return len(await found) >= count


async def test_a_gateway_whose_lease_lapsed_mid_run_is_not_claimed_again(
    rig: Rig, tmp_path: Path
) -> None:
    """Its own process never claims a gateway it is running, even once the lease lapsed."""
    runtime = await rig.runtime()
    for gateway in runtime.gateways:
        await runtime.store.set_next_run(gateway, rig.clock.now() + timedelta(days=30))
    await runtime.store.set_next_run("groq", rig.clock.now())
    claims = 0
    claim_due = runtime.runner.claim_due

    async def counted(**options: Any) -> Any:
        nonlocal claims
        claims += 1
        return await claim_due(**options)

    runtime.runner.claim_due = counted  # type: ignore[method-assign]
    rig.transport.hold("groq")
    scheduler = rig.scheduler(runtime, rng=lambda: 0.0)
    await scheduler.start()
    await eventually(lambda: rig.transport.waiting["groq"] == 1)
    with sqlite3.connect(tmp_path / "scheduler.db") as connection:
        connection.execute("UPDATE gateways SET lease_expires_at = '2000-01-01 00:00:00.000000'")
    ticks = claims
    await eventually(lambda: claims >= ticks + 10)  # ten ticks with groq due and "free"
    assert rig.transport.requests["groq"] == 1
    rig.transport.release("groq")
    await eventually(lambda: not scheduler.running())
    ticks = claims
    await eventually(lambda: claims >= ticks + 10)
    assert rig.transport.requests["groq"] == 1  # its run kept its lease and recorded its result
    assert [run.record.outcome for run in await runs_of(runtime, "groq")] == [RunOutcome.CHANGED]


async def test_webhook_triggered_runs_still_make_the_daily_full_resync(rig: Rig) -> None:
    """Hints every hour and no poll: a day after the last full resync, the next hinted run is a
    full resync."""
    runtime = await rig.runtime()
    later = rig.clock.now() + timedelta(days=30)
    for gateway in runtime.gateways:
        await runtime.store.set_next_run(gateway, later)
    scheduler = rig.scheduler(runtime)
    await scheduler.start()
    fulls = []
    for _ in range(26):  # 26 hours of hints
        rig.clock.advance(3600)
        run = await scheduler.trigger("groq", source=ChangeSource.WEBHOOK)
        assert run is not None
        await run
        await runtime.store.set_next_run("groq", later)  # never polled: only hints run it
        fulls.append((await runs_of(runtime, "groq"))[-1].record.full_sync)
    assert fulls[0] is True  # the first run of a gateway is always full
    assert fulls.count(True) == 2
    assert fulls.index(True, 1) == 24  # 24 hours after the first one
    assert {run.record.trigger for run in await runs_of(runtime, "groq")} == {ChangeSource.WEBHOOK}


async def test_a_gateway_removed_from_the_configuration_is_disabled(rig: Rig) -> None:
    """Once configured, then gone: listed as disabled with the reason, never run again."""
    extra = {"mine": GatewaySettings(adapter="openai_compat", base_url="https://llm.example/v1")}
    with_it = rig.settings.model_copy(update={"gateways": extra})
    async with open_runtime(with_it, clock=rig.clock, transport=rig.transport) as first:
        assert (await states(first, "mine"))["mine"].enabled
    runtime = await rig.runtime()
    row = (await states(runtime, "mine"))["mine"]
    shown = status_json(row, failing_after=3)
    assert (shown["status"], shown["last_error"]) == ("disabled", "removed from the configuration")
    scheduler = rig.scheduler(runtime, rng=lambda: 0.0)
    await scheduler.start()
    await eventually(lambda: _count(runs_of(runtime), GATEWAYS))
    await eventually(lambda: not scheduler.running())
    rig.clock.advance(86_400)
    await eventually(lambda: _count(runs_of(runtime), 2 * GATEWAYS))
    assert await runs_of(runtime, "mine") == []


async def test_an_outage_logs_one_line_per_streak(rig: Rig) -> None:
    """Forty failed ticks and a failing gateway: one warning each (one traceback), one recovery
    line with the count, not a line per tick or per run."""
    store = FlakyStore(rig.settings.database_url, claim_failures=40)
    runtime = await rig.runtime(store=store)
    rig.fail("groq")
    with structlog.testing.capture_logs() as logs:
        scheduler = rig.scheduler(runtime, rng=lambda: 0.0, breaker_threshold=100)
        await scheduler.start()
        await eventually(lambda: _count(runs_of(runtime), GATEWAYS))
        for _ in range(4):
            failures = len(await runs_of(runtime, "groq"))
            rig.clock.advance(86_400)
            await eventually(lambda: _count(runs_of(runtime, "groq"), failures + 1))  # noqa: B023
        await eventually(lambda: not scheduler.running())
    warnings = [entry for entry in logs if entry["log_level"] in ("warning", "error")]
    assert [entry["event"] for entry in warnings] == ["scheduler.tick_failed", "sync.failing"]
    assert [entry.get("exc_info") is True for entry in warnings] == [True, False]
    recovered = [entry for entry in logs if entry["event"] == "scheduler.tick_recovered"]
    assert [entry["failures"] for entry in recovered] == [40]
