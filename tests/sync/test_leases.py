"""Never stuck: short leases on the database's clock, renewed while a run lasts, a deadline per run,
every lease given back, a lost one recorded with its back-off."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from runner_harness import Harness, open_harness

from modelsync.clock import ManualClock
from modelsync.domain import RunOutcome
from modelsync.errors import StoreError
from modelsync.fetch import FetchPolicy
from modelsync.store.base import GatewayState, RunRecord
from modelsync.store.sql import SqlStore
from modelsync.sync.lease import LeaseKeeper
from web.harness import eventually

LATER = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """The simulator and a database file of this test's own."""
    async with open_harness(tmp_path) as opened:
        yield opened


class NextRuns:
    """A ``next_run`` callback that records what it was asked and answers a fixed back-off."""

    def __init__(self) -> None:
        self.asked: list[tuple[RunRecord, float | None]] = []

    def __call__(self, state: GatewayState, record: RunRecord, retry_after: float | None) -> Any:
        self.asked.append((record, retry_after))
        return LATER + timedelta(seconds=retry_after or 0)


def force_expiry(harness: Harness, gateway: str) -> None:
    """Make the gateway's lease expired in the file itself (as if its holder stalled)."""
    with sqlite3.connect(harness.db_path) as connection:
        connection.execute(
            "UPDATE gateways SET lease_expires_at = '2000-01-01 00:00:00.000000' WHERE name = ?",
            (gateway,),
        )


async def state_of(store: SqlStore, gateway: str) -> GatewayState:
    """The gateway's row."""
    [state] = await store.gateway_states([gateway])
    return state


async def test_a_host_clock_an_hour_ahead_never_takes_a_live_lease(harness: Harness) -> None:
    """Leases are timed by the database: a process whose clock runs ahead waits like any other."""
    ahead = ManualClock(datetime.now(UTC) + timedelta(hours=1))
    skewed = await harness.runner(owner="skewed", clock=ahead, lease_wait_s=0.3)
    store = await harness.open_store()
    assert await store.acquire_lease("groq", "holder", ttl_s=30) is not None
    summary = await skewed.run("groq")
    assert summary.outcome is RunOutcome.FAILED
    assert "being synced by another process (holder)" in (summary.error or "")
    assert (await state_of(store, "groq")).lease_owner == "holder"


async def test_a_run_longer_than_its_lease_keeps_it_by_renewing(harness: Harness) -> None:
    """A 4 s run on a 2 s lease: the heartbeat renews it, nobody else gets it, the run lands."""
    runner = await harness.runner(lease_ttl_s=2)
    other = await harness.open_store()
    await harness.fault(gateway="groq", kind="slow", seconds=4, times=1)
    started = time.monotonic()
    running = asyncio.create_task(runner.run("groq"))
    await asyncio.sleep(3 - (time.monotonic() - started))  # past the first lease time
    assert not running.done()  # the run is still fetching
    assert await other.acquire_lease("groq", "other", ttl_s=30) is None
    summary = await running
    assert (summary.outcome, summary.added) == (RunOutcome.CHANGED, 14)
    assert (await state_of(other, "groq")).lease_owner is None


async def test_a_run_past_its_deadline_fails_with_backoff_and_frees_its_lease(
    harness: Harness,
) -> None:
    """A gateway slower than the run's deadline: the run stops there, failed, backed off."""
    runner = await harness.runner(run_deadline_s=1.0)
    await harness.fault(gateway="groq", kind="slow", seconds=4, times=1)
    next_runs = NextRuns()
    started = time.monotonic()
    summary = await runner.run("groq", next_run=next_runs)
    elapsed = time.monotonic() - started
    state = await state_of(harness.stores[0], "groq")
    assert summary.outcome is RunOutcome.FAILED
    assert summary.error == "the run took longer than its deadline of 1s"
    assert elapsed < 3.0
    assert [record.outcome for record, _ in next_runs.asked] == [RunOutcome.FAILED]
    assert (state.consecutive_failures, state.next_run_at, state.lease_owner) == (1, LATER, None)


async def test_a_retry_after_beyond_the_deadline_is_not_waited_for(harness: Harness) -> None:
    """A 429 asking for 120 s in a run with 10 s left: the run ends now, the wait becomes its
    next run's floor."""
    policy = FetchPolicy(
        connect_timeout_s=2.0, read_timeout_s=5.0, attempts=4, retry_after_cap_s=300
    )
    runner = await harness.runner(run_deadline_s=10.0, policy=policy)
    await harness.fault(gateway="groq", kind="http_429", retry_after=120, times=4)
    next_runs = NextRuns()
    started = time.monotonic()
    summary = await asyncio.wait_for(runner.run("groq", next_run=next_runs), timeout=30)
    assert time.monotonic() - started < 5.0
    assert summary.outcome is RunOutcome.FAILED
    assert "would pass the run's deadline" in (summary.error or "")
    assert [after for _, after in next_runs.asked] == [120.0]


async def test_a_lost_lease_is_recorded_as_a_failed_run_with_backoff(harness: Harness) -> None:
    """The lease lapses mid-run and is taken and given back elsewhere: the run stops, and its
    failure is recorded (count, error, next run) instead of vanishing."""
    runner = await harness.runner(lease_ttl_s=1.5)
    store = harness.stores[0]
    thief = await harness.open_store()
    await harness.fault(gateway="groq", kind="slow", seconds=4, times=1)
    next_runs = NextRuns()
    running = asyncio.create_task(runner.run("groq", next_run=next_runs))
    await eventually(lambda: _leased_by(store, "groq", "runner-a"))
    force_expiry(harness, "groq")
    grant = await thief.acquire_lease("groq", "thief", ttl_s=30)
    assert grant is not None
    await thief.release_lease(grant.lease)
    summary = await asyncio.wait_for(running, timeout=10)
    state = await state_of(store, "groq")
    runs = await store.list_runs(gateway="groq")
    assert summary.outcome is RunOutcome.FAILED
    assert "lost its lease" in (summary.error or "")
    assert (state.consecutive_failures, state.next_run_at, state.last_error) == (
        1,
        LATER,
        summary.error,
    )
    assert [run.record.outcome for run in runs] == [RunOutcome.FAILED]
    assert state.lease_owner is None


async def _leased_by(store: SqlStore, gateway: str, owner: str) -> bool:
    return (await state_of(store, gateway)).lease_owner == owner


class DownStore(SqlStore):
    """A SqlStore whose writes of a run fail while ``down`` (the database away)."""

    down = False
    finish_only = False

    def _check(self, writes_failure: bool = False) -> None:
        if self.down and not (writes_failure and self.finish_only):
            raise StoreError("cannot record the run: database is locked (injected)")

    async def finish_run(self, run: RunRecord, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return await super().finish_run(run, *args, **kwargs)

    async def record_unleased_failure(self, run: RunRecord, *, owner: str) -> int:
        self._check(writes_failure=True)
        return await super().record_unleased_failure(run, owner=owner)

    async def release_lease(self, lease: Any) -> None:
        self._check()
        await super().release_lease(lease)


async def test_a_run_whose_write_fails_records_that_and_frees_its_lease(harness: Harness) -> None:
    """The store refuses the run's write: the failure is recorded, the lease is free at once."""
    store = await harness.open_store(DownStore)
    assert isinstance(store, DownStore)
    runner = await harness.runner(store=store)
    store.down = store.finish_only = True
    summary = await runner.run("groq")
    store.down = False
    other = await harness.open_store()
    state = await state_of(other, "groq")
    assert summary.outcome is RunOutcome.FAILED
    assert "could not be recorded" in (summary.error or "")
    assert (state.consecutive_failures, state.lease_owner) == (1, None)
    assert await other.acquire_lease("groq", "other", ttl_s=30) is not None


async def test_after_the_database_was_away_a_process_retakes_its_own_lease(
    harness: Harness,
) -> None:
    """Nothing could be written or released: the lease stays in the file, another process waits
    for it to lapse, but the process that holds it runs the gateway again at once."""
    store = await harness.open_store(DownStore)
    assert isinstance(store, DownStore)
    runner = await harness.runner(store=store, lease_wait_s=0.0)
    store.down = True
    with pytest.raises(StoreError):
        await runner.run("groq")
    store.down = False
    other = await harness.open_store()
    assert (await state_of(other, "groq")).lease_owner == "runner-a"
    assert await other.acquire_lease("groq", "other", ttl_s=30) is None
    again = await runner.run("groq")
    assert (again.outcome, again.added) == (RunOutcome.CHANGED, 14)
    assert (await state_of(other, "groq")).lease_owner is None


async def test_a_cancelled_run_gives_its_lease_back(harness: Harness) -> None:
    """Shutting down mid-run releases the lease instead of leaving it to lapse."""
    runner = await harness.runner()
    store = harness.stores[0]
    await harness.fault(gateway="groq", kind="slow", seconds=10, times=1)
    running = asyncio.create_task(runner.run("groq"))
    await eventually(lambda: _leased_by(store, "groq", "runner-a"))
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert (await state_of(store, "groq")).lease_owner is None
    assert runner.active() == set()


async def test_a_process_never_runs_one_gateway_twice_at_once(harness: Harness) -> None:
    """Two runs of one gateway in one process: the second waits for the first (own lease or
    not), then runs; the first never loses its lease to its own process."""
    runner = await harness.runner(lease_wait_s=10.0)
    await harness.fault(gateway="groq", kind="slow", seconds=1, times=1)
    first, second = await asyncio.gather(runner.run("groq"), runner.run("groq"))
    assert (first.outcome, second.outcome) == (RunOutcome.CHANGED, RunOutcome.NOT_MODIFIED)


async def test_a_renewal_while_the_bound_is_expiring_leaves_the_timeout_alone(
    harness: Harness,
) -> None:
    """The deadline fired and the cancelled block is still cleaning up when the heartbeat renews:
    the run ends with its deadline's TimeoutError, not 'Cannot change state of expiring Timeout'
    from rescheduling an expiring bound (seen under tracemalloc's slowdown)."""
    await harness.runner()  # registers the gateways
    store = await harness.open_store()
    grant = await store.acquire_lease("groq", "me", ttl_s=30)
    assert grant is not None
    keeper = LeaseKeeper(store, grant.lease, ttl_s=0.3, deadline_s=0.05)

    async def slow_to_cancel() -> None:
        async with keeper, keeper.bounded():
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                await asyncio.sleep(0.5)  # a cleanup longer than a heartbeat (every 0.1 s)
                raise

    with pytest.raises(TimeoutError):
        await slow_to_cancel()
    assert keeper.stop_reason is not None
    assert "deadline" in keeper.stop_reason
