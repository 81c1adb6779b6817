"""The scheduler on a real SQLite file and the simulator: schedule, coalescing, back-off."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from scheduler_rig import GATEWAYS, FlakyStore, Rig, runs_of, states

from modelsync.domain import ChangeSource, RunOutcome
from modelsync.store.base import StoredRun
from modelsync.sync.schedule import BreakerState
from web.harness import eventually

GROQ_INTERVAL = 900  # the high tier's default


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """The simulator, a frozen clock and a database of this test's own."""
    opened = Rig(tmp_path, stack=AsyncExitStack())
    try:
        yield opened
    finally:
        await opened.aclose()


# -- start-up and the persisted schedule -------------------------------------------------------


async def test_start_is_fast_and_runs_every_first_sync_in_the_background(rig: Rig) -> None:
    """13 gateways: start() returns in well under 2 s with no sync done; they run afterwards."""
    runtime = await rig.runtime()
    for gateway in runtime.gateways:
        rig.transport.hold(gateway)
    scheduler = rig.scheduler(runtime, rng=lambda: 0.0)  # every first run due at once
    began = time.perf_counter()
    await scheduler.start()
    assert time.perf_counter() - began < 2.0
    assert rig.transport.requests == {}  # checked before anything awaits: no sync ran inline
    assert await runs_of(runtime) == []
    rows = await states(runtime)
    assert len(rows) == GATEWAYS
    assert all(row.next_run_at == rig.clock.now() for row in rows.values())
    await eventually(lambda: len(scheduler.running()) == GATEWAYS)  # within the 32 slots
    for gateway in runtime.gateways:
        rig.transport.release(gateway)
    await eventually(lambda: len(rig.transport.requests) == GATEWAYS)
    await eventually(lambda: not scheduler.running())
    runs = await runs_of(runtime)
    assert len(runs) == GATEWAYS
    assert {run.record.trigger for run in runs} == {ChangeSource.POLL}
    assert scheduler.alive()


async def test_each_gateway_next_run_is_persisted(rig: Rig) -> None:
    """At start every gateway gets a persisted next run; after a run, one interval (+jitter) on."""
    runtime = await rig.runtime()
    scheduler = rig.scheduler(runtime, rng=lambda: 0.5)
    await scheduler.start()
    now = rig.clock.now()
    rows = await states(runtime)
    assert {row.next_run_at for row in rows.values()} == {now + timedelta(seconds=15)}
    rig.clock.advance(15)
    await eventually(lambda: len(rig.transport.requests) == GATEWAYS)
    await eventually(lambda: not scheduler.running())
    for row in (await states(runtime)).values():
        assert row.last_success_at == rig.clock.now()
        assert row.next_run_at == rig.clock.now() + timedelta(seconds=row.interval_s * 1.05)


async def test_restart_resumes_the_persisted_schedule(rig: Rig) -> None:
    """A new scheduler on the same database keeps every future next run: no stampede."""
    first = await rig.runtime()
    before = rig.scheduler(first, rng=lambda: 0.0)
    await before.start()
    await eventually(lambda: len(rig.transport.requests) == GATEWAYS)
    await eventually(lambda: not before.running())
    await before.stop()
    planned = {name: row.next_run_at for name, row in (await states(first)).items()}
    rig.clock.advance(60)

    second = await rig.runtime()
    after = rig.scheduler(second, rng=lambda: 0.0)
    await after.start()
    assert {name: row.next_run_at for name, row in (await states(second)).items()} == planned
    await asyncio.sleep(0.1)  # ten ticks: nothing is due
    assert len(await runs_of(second)) == GATEWAYS
    rig.clock.advance(GROQ_INTERVAL - 60)  # the high tier comes due, and only it
    due = sorted(name for name, at in planned.items() if at and at <= rig.clock.now())
    assert 0 < len(due) < GATEWAYS

    async def rerun() -> list[str]:
        return sorted(run.record.gateway for run in (await runs_of(second))[GATEWAYS:])

    await eventually(lambda: _equal(rerun(), due))
    await asyncio.sleep(0.05)
    assert await rerun() == due


async def test_overdue_gateways_are_spread_over_the_window(rig: Rig) -> None:
    """Next runs left hours in the past are spread over 30 s at start, not fired together."""
    runtime = await rig.runtime()
    for name in runtime.gateways:
        await runtime.store.set_next_run(name, rig.clock.now() - timedelta(hours=5))
    scheduler = rig.scheduler(runtime, rng=random.Random(7).random)
    await scheduler.start()
    now = rig.clock.now()
    planned = [row.next_run_at for row in (await states(runtime)).values()]
    assert all(at is not None and now <= at < now + timedelta(seconds=30) for at in planned)
    assert len(set(planned)) == GATEWAYS
    offsets = sorted((at - now).total_seconds() for at in planned if at is not None)
    assert offsets[-1] - offsets[0] > 15
    await asyncio.sleep(0.05)
    assert rig.transport.requests == {}
    rig.clock.advance(offsets[3] + 0.001)
    await eventually(lambda: sum(rig.transport.requests.values()) == 4)
    await asyncio.sleep(0.05)
    assert sum(rig.transport.requests.values()) == 4


# -- single flight and coalescing --------------------------------------------------------------


async def test_single_flight_with_triggers_coalesced_into_one_follow_up(rig: Rig) -> None:
    """While a gateway runs, every trigger shares ONE follow-up run; a manual one outranks hints."""
    runtime = await rig.runtime()
    scheduler = rig.scheduler(runtime)
    await scheduler.start()
    rig.transport.hold("groq")
    first = await scheduler.trigger("groq", source=ChangeSource.MANUAL)
    await eventually(lambda: rig.transport.waiting["groq"] == 1)
    later = [
        await scheduler.trigger("groq", source=source)
        for source in (ChangeSource.WEBHOOK, ChangeSource.MANUAL, ChangeSource.WEBHOOK)
    ]
    assert later[0] is later[1] is later[2] is not first
    rig.clock.advance(60)  # groq's scheduled run comes due while it runs: still one at a time
    await asyncio.sleep(0.05)
    assert (rig.transport.requests["groq"], rig.transport.waiting["groq"]) == (1, 1)
    rig.transport.release("groq")
    assert first is not None
    assert later[0] is not None
    assert (await first).outcome is RunOutcome.CHANGED
    assert (await later[0]).outcome is RunOutcome.NOT_MODIFIED
    await eventually(lambda: not scheduler.running())
    assert rig.transport.requests["groq"] == 2
    triggers = [run.record.trigger for run in await runs_of(runtime, "groq")]
    assert triggers == [ChangeSource.MANUAL, ChangeSource.MANUAL]


# -- failure: back-off, breaker, Retry-After ---------------------------------------------------


async def test_backoff_on_persistent_failure_is_capped_at_8x(rig: Rig) -> None:
    """Each failure doubles the delay after the first, up to 8 intervals and no further."""
    runtime = await rig.runtime()
    scheduler = rig.scheduler(runtime, rng=lambda: 0.0)
    rig.fail("groq")
    factors = []
    for _ in range(7):
        run = await scheduler.trigger("groq", source=ChangeSource.MANUAL)
        assert run is not None
        assert (await run).outcome is RunOutcome.FAILED
        row = (await states(runtime, "groq"))["groq"]
        assert row.next_run_at is not None
        factors.append((row.next_run_at - rig.clock.now()).total_seconds() / GROQ_INTERVAL)
    assert factors == [1, 2, 4, 8, 8, 8, 8]
    rig.heal("groq")
    run = await scheduler.trigger("groq", source=ChangeSource.MANUAL)
    assert run is not None
    assert (await run).outcome is RunOutcome.CHANGED
    row = (await states(runtime, "groq"))["groq"]
    assert row.consecutive_failures == 0
    assert row.next_run_at == rig.clock.now() + timedelta(seconds=GROQ_INTERVAL)


async def test_breaker_opens_refuses_hints_admits_manual_and_half_opens_with_one_probe(
    rig: Rig,
) -> None:
    """Open at 3 failures; webhook and poll triggers refused, manual let through; one probe."""
    runtime = await rig.runtime()
    scheduler = rig.scheduler(runtime, rng=lambda: 0.0, breaker_threshold=3)
    await scheduler.start()
    rig.clock.advance(30)  # every first run (all due at start)
    await eventually(lambda: len(rig.transport.requests) == GATEWAYS)
    await eventually(lambda: not scheduler.running())
    rig.fail("groq")
    for _ in range(3):
        run = await scheduler.trigger("groq", source=ChangeSource.MANUAL)
        assert run is not None
        assert (await run).outcome is RunOutcome.FAILED
    row = (await states(runtime, "groq"))["groq"]
    assert scheduler.breaker(row) is BreakerState.OPEN
    for source in (ChangeSource.WEBHOOK, ChangeSource.POLL):
        assert await scheduler.trigger("groq", source=source) is None
    assert scheduler.running() == []
    manual = await scheduler.trigger("groq", source=ChangeSource.MANUAL)
    assert manual is not None
    assert (await manual).outcome is RunOutcome.FAILED
    row = (await states(runtime, "groq"))["groq"]
    assert row.consecutive_failures == 4
    assert row.next_run_at == rig.clock.now() + timedelta(seconds=8 * GROQ_INTERVAL)
    requests = rig.transport.requests["groq"]

    rig.clock.advance(8 * GROQ_INTERVAL - 1)  # just before the back-off ends: still open
    await asyncio.sleep(0.05)
    assert rig.transport.requests["groq"] == requests
    assert scheduler.breaker((await states(runtime, "groq"))["groq"]) is BreakerState.OPEN
    rig.heal("groq")
    rig.clock.advance(1)  # half open: the loop sends exactly one probe
    assert scheduler.breaker((await states(runtime, "groq"))["groq"]) is BreakerState.HALF_OPEN
    await eventually(lambda: rig.transport.requests["groq"] == requests + 1)
    await eventually(lambda: not scheduler.running())
    await asyncio.sleep(0.05)
    assert rig.transport.requests["groq"] == requests + 1
    probe = (await runs_of(runtime, "groq"))[-1].record
    assert (probe.trigger, probe.succeeded) == (ChangeSource.POLL, True)
    row = (await states(runtime, "groq"))["groq"]
    assert (row.consecutive_failures, scheduler.breaker(row)) == (0, BreakerState.CLOSED)


async def test_failed_probe_opens_the_breaker_again(rig: Rig) -> None:
    """A probe that fails backs off further; hints stay refused."""
    runtime = await rig.runtime()
    scheduler = rig.scheduler(runtime, rng=lambda: 0.0, breaker_threshold=2)
    rig.fail("groq")
    for _ in range(2):
        run = await scheduler.trigger("groq", source=ChangeSource.MANUAL)
        assert run is not None
        await run
    await scheduler.start()
    row = (await states(runtime, "groq"))["groq"]
    assert row.next_run_at is not None
    rig.clock.advance((row.next_run_at - rig.clock.now()).total_seconds())
    await eventually(lambda: rig.transport.requests["groq"] == 3)
    await eventually(lambda: not scheduler.running())
    row = (await states(runtime, "groq"))["groq"]
    assert row.consecutive_failures == 3
    assert scheduler.breaker(row) is BreakerState.OPEN
    assert row.next_run_at == rig.clock.now() + timedelta(seconds=4 * GROQ_INTERVAL)
    assert await scheduler.trigger("groq", source=ChangeSource.WEBHOOK) is None


@pytest.mark.parametrize(("retry_after", "delay"), [(7200, 7200), (60, GROQ_INTERVAL)])
async def test_retry_after_from_a_429_sets_a_later_next_run(
    rig: Rig, retry_after: int, delay: int
) -> None:
    """A 429's Retry-After is a floor under the next run; a short one never hastens it."""
    runtime = await rig.runtime()
    scheduler = rig.scheduler(runtime, rng=lambda: 0.0)
    rig.fail("groq", "http_429", retry_after=retry_after, times=1)
    run = await scheduler.trigger("groq", source=ChangeSource.MANUAL)
    assert run is not None
    summary = await run
    assert summary.outcome is RunOutcome.FAILED
    assert "429" in (summary.error or "")
    row = (await states(runtime, "groq"))["groq"]
    assert row.next_run_at == rig.clock.now() + timedelta(seconds=delay)


# -- the daily full resync ---------------------------------------------------------------------


async def test_daily_full_resync_ignores_validators(rig: Rig) -> None:
    """Polls send If-None-Match; once a day a poll sends none and diffs the whole answer."""
    runtime = await rig.runtime()
    for gateway in runtime.gateways:  # only groq is polled in this test
        await runtime.store.set_next_run(gateway, rig.clock.now() + timedelta(days=30))
    await runtime.store.set_next_run("groq", rig.clock.now() + timedelta(seconds=1))
    scheduler = rig.scheduler(runtime, rng=lambda: 0.0)
    await scheduler.start()

    async def poll(after_s: float) -> tuple[str | None, RunOutcome, bool]:
        runs = len(await runs_of(runtime, "groq"))
        seen = len(rig.transport.seen)
        rig.clock.advance(after_s)
        await eventually(lambda: _more(runs_of(runtime, "groq"), runs))
        (request,) = rig.transport.seen[seen:]
        record = (await runs_of(runtime, "groq"))[-1].record
        return request.headers.get("if-none-match"), record.outcome, record.full_sync

    assert await poll(1) == (None, RunOutcome.CHANGED, True)  # never fully synced: a full run
    etag, outcome, full = await poll(GROQ_INTERVAL)
    assert (etag is not None, outcome, full) == (True, RunOutcome.NOT_MODIFIED, False)
    etag, outcome, full = await poll(GROQ_INTERVAL)
    assert (etag is not None, outcome, full) == (True, RunOutcome.NOT_MODIFIED, False)
    await runtime.store.set_next_run("groq", rig.clock.now() + timedelta(days=1))
    assert await poll(86_400) == (None, RunOutcome.UNCHANGED, True)
    row = (await states(runtime, "groq"))["groq"]
    assert row.last_full_sync_at == rig.clock.now()


# -- survival and shutdown ---------------------------------------------------------------------


async def test_a_run_that_raises_never_stops_the_loop(rig: Rig) -> None:
    """A runner raising for one gateway: recorded as failed, the others run, the loop goes on."""
    runtime = await rig.runtime()
    runner = rig.exploding_runner(runtime, {"groq"})
    scheduler = rig.scheduler(runtime, rng=lambda: 0.0, runner=runner)
    await scheduler.start()
    await eventually(lambda: len(rig.transport.requests) == GATEWAYS - 1)
    await eventually(lambda: not scheduler.running())
    assert scheduler.alive()
    (failed,) = await runs_of(runtime, "groq")
    assert failed.record.outcome is RunOutcome.FAILED
    assert failed.record.error == "internal error (RuntimeError); the traceback is in the log"
    row = (await states(runtime, "groq"))["groq"]
    assert (row.consecutive_failures, row.lease_owner) == (1, None)
    assert row.next_run_at == rig.clock.now() + timedelta(seconds=GROQ_INTERVAL)
    rig.clock.advance(GROQ_INTERVAL)
    await eventually(lambda: rig.transport.requests["groq"] == 1)
    await eventually(lambda: not scheduler.running())
    assert (await runs_of(runtime, "groq"))[-1].record.outcome is RunOutcome.CHANGED


async def test_a_failing_store_never_stops_the_loop(rig: Rig) -> None:
    """A tick whose claim fails and a run whose record fails: logged, and the loop goes on."""
    store = FlakyStore(rig.settings.database_url, claim_failures=2, finish_failures=1)
    runtime = await rig.runtime(store=store)
    scheduler = rig.scheduler(runtime, rng=lambda: 0.0, max_backoff_factor=8)
    await scheduler.start()
    await eventually(lambda: store.claim_failures == 0)
    assert scheduler.alive()
    await eventually(lambda: len(rig.transport.requests) == GATEWAYS)
    await eventually(lambda: not scheduler.running())
    runs = await runs_of(runtime)
    assert len(runs) == GATEWAYS
    failed = [run for run in runs if run.record.outcome is RunOutcome.FAILED]
    assert len(failed) == 1
    assert "disk I/O error" in (failed[0].record.error or "")
    assert all(row.lease_owner is None for row in (await states(runtime)).values())
    assert scheduler.alive()


async def test_stop_is_clean(rig: Rig) -> None:
    """stop() ends the loop, cancels a stuck run and its queued follow-up, and starts nothing."""
    runtime = await rig.runtime()
    scheduler = rig.scheduler(runtime)
    await scheduler.stop()  # before start: nothing to do
    await scheduler.start()
    rig.transport.hold("groq")
    first = await scheduler.trigger("groq", source=ChangeSource.MANUAL)
    await eventually(lambda: rig.transport.waiting["groq"] == 1)
    follow_up = await scheduler.trigger("groq", source=ChangeSource.WEBHOOK)
    assert first is not None
    assert follow_up is not None
    await scheduler.stop(grace_s=0.05)
    assert not scheduler.alive()
    assert scheduler.running() == []
    assert first.cancelled()
    assert follow_up.cancelled()
    rig.transport.release("groq")
    await asyncio.sleep(0.05)
    assert rig.transport.requests["groq"] == 1
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert not any(name.startswith(("sync-", "hint-", "modelsync-")) for name in names)
    assert await scheduler.trigger("groq", source=ChangeSource.MANUAL) is None
    await scheduler.stop()  # twice: harmless


async def _equal(found: Awaitable[list[str]], expected: list[str]) -> bool:
    return await found == expected


async def _more(found: Awaitable[list[StoredRun]], than: int) -> bool:
    return len(await found) > than


@pytest.mark.parametrize("window_s", [None, 60.0])
async def test_first_runs_spread_over_each_interval_or_the_window(
    rig: Rig, window_s: float | None
) -> None:
    """A fresh start schedules each gateway's first run within its own interval (or the start-up
    window when shorter), not all within 30 s (issue 12 item 5); the injected clock and draws
    make it exact."""
    runtime = await rig.runtime()
    draws = iter([0.25, 0.75] * GATEWAYS)
    scheduler = rig.scheduler(runtime, rng=lambda: next(draws), first_run_window_s=window_s)
    await scheduler.start()
    now = rig.clock.now()
    rows = sorted((await states(runtime)).values(), key=lambda row: row.name)
    for row in rows:
        window = row.interval_s if window_s is None else min(row.interval_s, window_s)
        offset = (row.next_run_at - now).total_seconds() if row.next_run_at else -1
        assert offset in (window * 0.25, window * 0.75), (row.name, offset, window)
    if window_s is None:
        assert max(row.next_run_at for row in rows if row.next_run_at) - now > timedelta(seconds=30)
    assert not rig.transport.requests, "nothing ran at start"
