"""PostgreSQL goes away mid-run and comes back: no gateway stays stuck, the log stays quiet.

Against a throwaway cluster this module starts, stops (``immediate``) and starts again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from runner_harness import Harness, open_harness

from modelsync.clock import ManualClock
from modelsync.domain import RunOutcome
from modelsync.errors import StoreError
from modelsync.store import migrate
from modelsync.store.sql import SqlStore
from modelsync.sync.schedule import SchedulePolicy
from modelsync.sync.scheduler import Scheduler
from reliability.pg_cluster import Cluster, throwaway_cluster
from web.harness import eventually

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A migrated throwaway cluster for this module."""
    with throwaway_cluster() as started:
        asyncio.run(migrate.upgrade(started.url))
        yield started


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """The simulator in process (its database is not used here)."""
    async with open_harness(tmp_path) as opened:
        yield opened


async def lease_owner(store: SqlStore, gateway: str) -> str | None:
    """The gateway's lease holder, or None."""
    [state] = await store.gateway_states([gateway])
    return state.lease_owner


async def test_a_run_in_flight_when_postgresql_stops_blocks_nothing_after(
    cluster: Cluster, harness: Harness
) -> None:
    """The run cannot record (nor release); once the server is back, the same process runs the
    gateway at once, while any other process waits for the lease to lapse."""
    store = SqlStore(cluster.url)
    await store.open()
    other = SqlStore(cluster.url)
    await other.open()
    try:
        runner = await harness.runner(store=store, owner="in-flight", lease_wait_s=0.0)
        await harness.fault(gateway="groq", kind="slow", seconds=2, times=1)
        running = asyncio.create_task(runner.run("groq"))

        async def leased() -> bool:
            return await lease_owner(other, "groq") == "in-flight"

        await eventually(leased, within_s=20)
        await asyncio.to_thread(cluster.stop)
        with pytest.raises(StoreError):
            await asyncio.wait_for(running, timeout=30)
        await asyncio.to_thread(cluster.start)
        await eventually(lambda: _answers(other), within_s=20)
        assert await lease_owner(other, "groq") == "in-flight"
        assert await other.acquire_lease("groq", "someone-else", ttl_s=30) is None
        again = await runner.run("groq")
    finally:
        await other.close()
        await store.close()
    assert (again.outcome, again.added) == (RunOutcome.CHANGED, 14)


async def _answers(store: SqlStore) -> bool:
    try:
        await store.ping()
    except StoreError:
        return False
    return True


async def test_an_outage_logs_once_and_recovers_once(cluster: Cluster, harness: Harness) -> None:
    """The scheduler ticking against a stopped server: one warning with its traceback, one
    recovery line with the count of failed ticks, and back to work."""
    store = SqlStore(cluster.url)
    await store.open()
    runner = await harness.runner(store=store, owner="ticking")
    scheduler = Scheduler(
        runner=runner,
        store=store,
        policy=SchedulePolicy(),
        clock=ManualClock(),
        owner="ticking",
        tick_s=0.01,
    )
    try:
        with structlog.testing.capture_logs() as logs:
            await scheduler.start()
            await asyncio.to_thread(cluster.stop)
            failed = [0]

            async def ticked() -> bool:
                failed[0] = sum(1 for e in logs if e["event"] == "scheduler.tick_failed")
                return failed[0] >= 20

            await eventually(ticked, within_s=20)
            await asyncio.to_thread(cluster.start)

            async def recovered() -> bool:
                return any(e["event"] == "scheduler.tick_recovered" for e in logs)

            await eventually(recovered, within_s=20)
    finally:
        await scheduler.stop(grace_s=1)
        await store.close()
    warnings = [e for e in logs if e["log_level"] in ("warning", "error", "critical")]
    assert [(e["event"], e.get("exc_info")) for e in warnings] == [("scheduler.tick_failed", True)]
    [back] = [e for e in logs if e["event"] == "scheduler.tick_recovered"]
    assert back["failures"] >= 20
    assert back["failures"] == sum(1 for e in logs if e["event"] == "scheduler.tick_failed")
