"""The scheduler: runs every enabled gateway when it is due, and triggered runs in between.

* **Due runs.** Once a second (or when woken) the loop claims due gateways from the store; the
  claim is a lease, so across processes each due run happens once. Each run stores its next run
  time in its own transaction (:mod:`modelsync.sync.schedule` computes it).
* **Single flight, coalesced triggers.** At most one run per gateway in this process. A trigger
  that arrives while the gateway runs is folded into one follow-up run that every such trigger
  waits on.
* **Breaker.** A gateway failing ``breaker_threshold`` times in a row is left alone until its
  backed-off next run, which is the one probe; webhook hints are refused meanwhile, an admin's
  manual run is not.
* **Survival.** A run that raises is logged and recorded; the loop goes on. A failed tick (the
  database away) is logged and retried on the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import datetime

import structlog

from modelsync.clock import Clock
from modelsync.domain import ChangeSource, RunOutcome
from modelsync.store.base import GatewayState, LeaseGrant, RunRecord, Store
from modelsync.sync.runner import RunSummary, SyncRunner
from modelsync.sync.schedule import (
    BreakerState,
    SchedulePolicy,
    breaker_state,
    full_resync_due,
    next_run_after,
    startup_next_run,
    trigger_allowed,
)

log = structlog.get_logger("modelsync.scheduler")


class Scheduler:
    def __init__(
        self,
        *,
        runner: SyncRunner,
        store: Store,
        policy: SchedulePolicy,
        clock: Clock,
        owner: str,
        lease_ttl_s: float,
        rng: Callable[[], float] = random.random,
        tick_s: float = 1.0,
        concurrency: int = 4,
    ) -> None:
        self._runner = runner
        self._store = store
        self._policy = policy
        self._clock = clock
        self._owner = owner
        self._lease_ttl_s = lease_ttl_s
        self._rng = rng
        self._tick_s = tick_s
        self._concurrency = concurrency
        self._running: dict[str, asyncio.Task[RunSummary]] = {}
        self._follow_ups: dict[str, tuple[asyncio.Future[RunSummary], ChangeSource, bool]] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._heartbeat = clock.monotonic()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume (or spread) every gateway's next run, then start the loop in the background."""
        now = self._clock.now()
        for state in await self._store.gateway_states():
            when = None
            if state.enabled:
                when = startup_next_run(
                    state.next_run_at,
                    now=now,
                    interval_s=state.interval_s,
                    policy=self._policy,
                    jitter_value=self._rng(),
                )
            if when != state.next_run_at:
                await self._store.set_next_run(state.name, when)
        self._heartbeat = self._clock.monotonic()
        self._loop_task = asyncio.create_task(self._loop(), name="modelsync-scheduler")
        log.info("scheduler.started", gateways=len(self._runner.gateways), owner=self._owner)

    async def stop(self, *, grace_s: float = 10.0) -> None:
        """Stop claiming, let running syncs finish for up to ``grace_s``, then cancel them."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        running = list(self._running.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for future, _, _ in self._follow_ups.values():
            future.cancel()
        self._follow_ups.clear()

    def alive(self, *, within_s: float | None = None) -> bool:
        """The loop ticked recently (readiness)."""
        limit = within_s if within_s is not None else max(5.0, self._tick_s * 5)
        task = self._loop_task
        ticking = self._clock.monotonic() - self._heartbeat <= limit
        return task is not None and not task.done() and ticking

    def running(self) -> list[str]:
        return sorted(self._running)

    # -- triggers -------------------------------------------------------------------------

    async def trigger(
        self, name: str, *, source: ChangeSource, full: bool = False
    ) -> asyncio.Future[RunSummary] | None:
        """Run ``name`` as soon as possible; ``None`` when its open breaker refuses ``source``.

        While the gateway runs, every trigger shares one follow-up run (and its future).
        """
        if source is not ChangeSource.MANUAL:
            states = await self._store.gateway_states([name])
            if states and not trigger_allowed(self.breaker(states[0]), source):
                log.info("scheduler.trigger_refused", gateway=name, source=source.value)
                return None
        if name in self._running:
            follow_up = self._follow_ups.get(name)
            if follow_up is None:
                future: asyncio.Future[RunSummary] = asyncio.get_running_loop().create_future()
                self._follow_ups[name] = (future, source, full)
                return future
            return follow_up[0]
        return self._start(name, source=source, full=full)

    def breaker(self, state: GatewayState) -> BreakerState:
        return breaker_state(
            state.consecutive_failures,
            next_run_at=state.next_run_at,
            now=self._clock.now(),
            policy=self._policy,
        )

    # -- internals ------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            self._heartbeat = self._clock.monotonic()
            try:
                await self._claim_due()
            except Exception:  # the database may be away for a moment: log, try next tick
                log.exception("scheduler.tick_failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._tick_s)

    async def _claim_due(self) -> None:
        free = self._concurrency - len(self._running)
        if free <= 0:
            return
        grants = await self._store.claim_due(
            self._owner, now=self._clock.now(), ttl_s=self._lease_ttl_s, limit=free
        )
        for grant in grants:
            name = grant.lease.gateway
            if name in self._running:  # cannot happen while we hold the lease; be safe
                await self._store.release_lease(grant.lease)
                continue
            full = full_resync_due(
                grant.state.last_full_sync_at, now=self._clock.now(), policy=self._policy
            )
            self._start(name, source=ChangeSource.POLL, full=full, grant=grant)

    def _start(
        self,
        name: str,
        *,
        source: ChangeSource,
        full: bool,
        grant: LeaseGrant | None = None,
    ) -> asyncio.Future[RunSummary]:
        task = asyncio.create_task(self._run(name, source, full, grant), name=f"sync-{name}")
        self._running[name] = task
        task.add_done_callback(lambda done: self._finished(name, done))
        return task

    async def _run(
        self, name: str, source: ChangeSource, full: bool, grant: LeaseGrant | None
    ) -> RunSummary:
        try:
            return await self._runner.run(
                name, trigger=source, full=full, grant=grant, next_run=self._next_run
            )
        except Exception as exc:  # store trouble mid-run: the lease expires, the loop goes on
            log.exception("scheduler.run_failed", gateway=name)
            return RunSummary(gateway=name, outcome=RunOutcome.FAILED, error=repr(exc))

    def _finished(self, name: str, task: asyncio.Task[RunSummary]) -> None:
        self._running.pop(name, None)
        follow_up = self._follow_ups.pop(name, None)
        if follow_up is not None:
            future, source, full = follow_up
            run = self._start(name, source=source, full=full)
            run.add_done_callback(lambda done: _settle(future, done))
        self._wake.set()

    def _next_run(
        self, before: GatewayState, record: RunRecord, retry_after: float | None
    ) -> datetime:
        failures = 0 if record.succeeded else before.consecutive_failures + 1
        return next_run_after(
            record.finished_at,
            interval_s=before.interval_s,
            consecutive_failures=failures,
            policy=self._policy,
            jitter_value=self._rng(),
            retry_after_s=retry_after,
        )


def _settle(future: asyncio.Future[RunSummary], done: asyncio.Future[RunSummary]) -> None:
    if future.done():
        return
    if done.cancelled():
        future.cancel()
    elif (error := done.exception()) is not None:
        future.set_exception(error)
    else:
        future.set_result(done.result())
