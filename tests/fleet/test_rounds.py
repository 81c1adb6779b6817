"""One round, one run, on two schedulers sharing one database (SQLite and PostgreSQL).

The fleet test once saw a gateway run twice in a round: a process starting up read the gateway's
row while another process was running it, the run finished and stored its next run, and the late
process then wrote its start-up spread over it, so the round came due again a second later.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from modelsync.clock import ManualClock
from modelsync.config import Settings, load_settings
from modelsync.domain import ChangeSource
from modelsync.runtime import Runtime, open_runtime
from modelsync.store.base import GatewayState, Lease
from modelsync.store.sql import SqlStore
from modelsync.sync.schedule import SchedulePolicy
from modelsync.sync.scheduler import Scheduler
from store.conftest import private_database
from web.harness import START, UPSTREAM, GatedTransport, eventually, simulator_app

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
LATER = START + timedelta(days=30)


class PausingStore(SqlStore):
    """A real store whose next ``gateway_states`` read, once armed, waits for :meth:`resume`
    after reading: what a process starting on a loaded machine does between its read and its
    writes, made to last as long as the test needs."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.paused = asyncio.Event()
        self._resume = asyncio.Event()
        self._armed = False

    def arm(self) -> None:
        self._armed = True

    def resume(self) -> None:
        self._resume.set()

    async def gateway_states(self, names: Any = None) -> list[GatewayState]:
        found = await super().gateway_states(names)
        if self._armed:
            self._armed = False
            self.paused.set()
            await self._resume.wait()
        return found


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with private_database(str(request.param), tmp_path) as url:
        yield url


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as opened:
        yield opened


def settings(url: str) -> Settings:
    return load_settings(
        upstream=UPSTREAM, database_url=url, http={"attempts": 1, "backoff_base_s": 0.0}
    )


def scheduler(runtime: Runtime, clock: ManualClock, stack: AsyncExitStack) -> Scheduler:
    made = Scheduler(
        runner=runtime.runner,
        store=runtime.store,
        policy=SchedulePolicy(first_run_window_s=30.0),
        clock=clock,
        owner=runtime.owner,
        rng=lambda: 0.5,
        tick_s=0.01,
    )
    stack.push_async_callback(made.stop, grace_s=1.0)
    return made


async def state(runtime: Runtime, gateway: str) -> GatewayState:
    [found] = await runtime.store.gateway_states([gateway])
    return found


async def poll_runs(runtime: Runtime, gateway: str) -> int:
    found = await runtime.store.list_runs(gateway=gateway, limit=100)
    return sum(run.record.trigger is ChangeSource.POLL for run in found)


@pytest.mark.timeout(60)
async def test_a_process_starting_during_a_run_never_runs_its_round_again(
    database: str, stack: AsyncExitStack
) -> None:
    """B starts while A runs groq: B read the row before A's run stored its next run, and writes
    after. The next run stays A's, and groq runs once until then, whoever claims it."""
    clock = ManualClock(START)
    transport = GatedTransport(simulator_app())
    first = await stack.enter_async_context(
        open_runtime(settings(database), clock=clock, transport=transport)
    )
    late = PausingStore(database)
    await late.open()
    stack.push_async_callback(late.close)
    second = await stack.enter_async_context(
        open_runtime(settings(database), clock=clock, transport=transport, store=late)
    )
    for gateway in first.gateways:
        await first.store.set_next_run(gateway, LATER)
    await first.store.set_next_run("groq", START + timedelta(seconds=1))
    await first.store.set_next_run("cerebras", START + timedelta(seconds=61))

    running = scheduler(first, clock, stack)
    await running.start()
    transport.hold("groq")
    clock.advance(1)
    await eventually(lambda: transport.waiting["groq"] == 1, within_s=20)
    assert (await state(first, "groq")).lease_owner == first.owner

    starting = scheduler(second, clock, stack)
    late.arm()
    started = asyncio.create_task(starting.start())
    await asyncio.wait_for(late.paused.wait(), timeout=20)  # B has read groq's row: leased
    transport.release("groq")
    await eventually(lambda: not running.running(), within_s=20)
    stored = (await state(first, "groq")).next_run_at
    assert stored is not None
    assert stored >= clock.now() + timedelta(seconds=900)  # one interval on (the high tier)
    late.resume()
    await asyncio.wait_for(started, timeout=20)

    assert (await state(first, "groq")).next_run_at == stored
    # A minute on, cerebras comes due: both schedulers claim whatever is due in the same ticks,
    # so once cerebras ran, a groq round come due again would have been claimed as well.
    clock.advance(60)

    async def cerebras_ran() -> bool:
        return await poll_runs(first, "cerebras") == 1

    await eventually(cerebras_ran, within_s=20)
    await eventually(lambda: not running.running() and not starting.running(), within_s=20)
    assert await poll_runs(first, "groq") == 1
    assert (await state(first, "groq")).next_run_at == stored


@pytest.mark.timeout(60)
async def test_a_due_gateway_is_claimed_once_when_both_schedulers_tick(
    database: str, stack: AsyncExitStack
) -> None:
    """Two started schedulers, every gateway due at once: each runs once, on one of them."""
    clock = ManualClock(START)
    transport = GatedTransport(simulator_app())
    first = await stack.enter_async_context(
        open_runtime(settings(database), clock=clock, transport=transport)
    )
    second = await stack.enter_async_context(
        open_runtime(settings(database), clock=clock, transport=transport)
    )
    names = list(first.gateways)
    for gateway in names:
        await first.store.set_next_run(gateway, START + timedelta(seconds=1))
    schedulers = [scheduler(first, clock, stack), scheduler(second, clock, stack)]
    for each in schedulers:
        await each.start()
    clock.advance(1)

    async def all_ran() -> bool:
        return all([await poll_runs(first, name) >= 1 for name in names])

    await eventually(all_ran, within_s=40)
    await eventually(lambda: not any(each.running() for each in schedulers), within_s=20)
    for name in names:
        assert await poll_runs(first, name) == 1, name
        assert (await state(first, name)).next_run_at >= clock.now() + timedelta(seconds=60)


async def test_a_leased_gateway_is_never_rescheduled_from_a_stale_read(database: str) -> None:
    """The store's guard itself: a read's token moved (a lease taken since) or a lease held."""
    store = SqlStore(database)
    await store.open()
    try:
        clock = ManualClock(START)
        async with open_runtime(settings(database), clock=clock, store=store):
            [read] = await store.gateway_states(["groq"])
            grant = await store.acquire_lease("groq", "holder", ttl_s=30)
            assert grant is not None
            assert not await store.reschedule_unleased("groq", START, token=read.fencing_token)
            lease: Lease = grant.lease
            await store.release_lease(lease)
            # released, but taken since the read: still refused
            assert not await store.reschedule_unleased("groq", START, token=read.fencing_token)
            [fresh] = await store.gateway_states(["groq"])
            assert await store.reschedule_unleased("groq", START, token=fresh.fencing_token)
            assert (await store.gateway_states(["groq"]))[0].next_run_at == START
    finally:
        await store.close()
