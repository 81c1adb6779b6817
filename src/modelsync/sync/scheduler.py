"""The scheduler: runs every enabled gateway when it is due, and triggered runs in between.

* **Due runs.** Once a second (or when woken) the loop claims due gateways from the store; the
  claim is a lease, so across processes each due run happens once. Each run stores its next run
  time in its own transaction (:mod:`modelsync.sync.schedule` computes it).
* **Single flight, coalesced triggers.** At most one run per gateway in this process. A trigger
  that arrives while the gateway runs is folded into one follow-up run that every such trigger
  waits on.
* **Hints.** A webhook's hint (:meth:`Scheduler.request`) costs nothing at once: hints are
  debounced per gateway, and verification syncs of a gateway start at least
  ``hint_min_interval_s`` apart, so a flood of webhooks makes a handful of syncs, not thousands.
* **Breaker.** A gateway failing ``breaker_threshold`` times in a row is left alone until its
  backed-off next run, which is the one probe; webhook hints are refused meanwhile, an admin's
  manual run is not.
* **Housekeeping.** Every ``prune_every_s`` (and once at start) the retention policy is applied:
  old runs, changes and expired webhook deliveries are deleted.
* **Slots.** At most ``concurrency`` runs at once (32 by default, more than the shipped
  gateways). A slow gateway holds its slot for no longer than its run's deadline, and the
  runner never lets a run outlive its lease, so slow gateways cannot starve the others.
* **Leases.** Due gateways are claimed through the runner, which leaves out the ones this process
  is running: a lease that expired mid-run is never claimed again by its own process.
* **Survival.** A run that raises is logged and recorded; the loop goes on. A failed tick (the
  database away) is retried on the next tick. Failures are logged once per streak (the first,
  with its traceback; the recovery, with the count), never once per tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import structlog

from modelsync.clock import Clock
from modelsync.domain import ChangeSource, RunOutcome
from modelsync.errors import StoreError
from modelsync.observability import FailureStreaks
from modelsync.store.base import GatewayState, LeaseGrant, RetentionPolicy, RunRecord, Store
from modelsync.sync.health import StatusFields
from modelsync.sync.runner import RunSummary, SyncRunner
from modelsync.sync.schedule import (
    BreakerState,
    SchedulePolicy,
    breaker_state,
    hint_delay,
    next_run_after,
    startup_next_run,
    trigger_allowed,
)

log = structlog.get_logger("modelsync.scheduler")

RunObserver = Callable[[str, bool], None]
"""``(gateway, finished)``: told when a run of this process starts and when it ends."""


class Scheduler:
    def __init__(
        self,
        *,
        runner: SyncRunner,
        store: Store,
        policy: SchedulePolicy,
        clock: Clock,
        owner: str,
        rng: Callable[[], float] | None = None,
        tick_s: float = 1.0,
        concurrency: int = 32,
        retention: RetentionPolicy | None = None,
        prune_every_s: float = 3600.0,
    ) -> None:
        self._runner = runner
        self._store = store
        self._policy = policy
        self._clock = clock
        self._owner = owner
        # jitter from a generator of its own (not cryptography): the global one stays untouched
        self._rng = rng or random.Random().random  # noqa: S311
        self._tick_s = tick_s
        self._concurrency = concurrency
        self._running: dict[str, asyncio.Task[RunSummary]] = {}
        self._follow_ups: dict[str, tuple[asyncio.Future[RunSummary], ChangeSource, bool]] = {}
        self._hints: dict[str, asyncio.TimerHandle] = {}
        self._hinted: set[asyncio.Task[None]] = set()
        self._last_started: dict[str, float] = {}
        self._stopping = False
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._heartbeat = clock.monotonic()
        self._retention = retention
        self._prune_every_s = prune_every_s
        self._next_prune = clock.monotonic()
        self._streaks = FailureStreaks(log)
        self._observers: list[RunObserver] = []

    def observe(self, observer: RunObserver) -> None:
        """Call ``observer(gateway, finished)`` when a run of this process starts and ends
        (the cache follows the status and each gateway's health through it); it must return
        at once, and its errors are logged."""
        self._observers.append(observer)

    def _tell(self, name: str, *, finished: bool) -> None:
        for observer in self._observers:
            try:
                observer(name, finished)
            except Exception:  # an observer's bug never stops a run
                log.exception("scheduler.observer_failed", gateway=name)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume (or spread) every gateway's next run, then start the loop in the background."""
        now = self._clock.now()
        for state in await self._store.gateway_states():
            if state.lease_owner is not None:
                # another process is running it (or died running it): that run stores the next
                # run, or its lease lapses and the gateway comes due; rescheduling from this
                # read could overwrite a next run stored meanwhile and run the round twice
                continue
            if not state.enabled:
                if state.next_run_at is not None:
                    await self._store.reschedule_unleased(
                        state.name, None, token=state.fencing_token
                    )
                continue
            when = startup_next_run(
                state.next_run_at,
                now=now,
                interval_s=state.interval_s,
                policy=self._policy,
                jitter_value=self._rng(),
            )
            if when != state.next_run_at:
                # only if no lease was taken since the read (its run stores the next run)
                await self._store.reschedule_unleased(state.name, when, token=state.fencing_token)
        self._heartbeat = self._clock.monotonic()
        self._stopping = False
        self._loop_task = asyncio.create_task(self._loop(), name="modelsync-scheduler")
        log.info("scheduler.started", gateways=len(self._runner.gateways), owner=self._owner)

    async def stop(self, *, grace_s: float = 10.0) -> None:
        """Stop claiming, let running syncs finish for up to ``grace_s``, then cancel them.

        From here on nothing new starts: queued follow-ups are cancelled, triggers refused.
        """
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        for handle in self._hints.values():
            handle.cancel()
        self._hints.clear()
        for hinted in list(self._hinted):
            hinted.cancel()
        running = [*self._running.values(), *self._hinted]
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
        if self._stopping:
            return None
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
            future, queued_source, queued_full = follow_up
            if source is ChangeSource.MANUAL:  # an admin's request outranks a queued hint
                queued_source = source
            self._follow_ups[name] = (future, queued_source, queued_full or full)
            return future
        return self._start(name, source=source, full=full)

    def request(self, name: str, *, source: ChangeSource = ChangeSource.WEBHOOK) -> None:
        """A hint that ``name`` changed: one sync soon, shared by every hint until it starts.

        Returns at once; the breaker is checked when the sync is due, not per hint.
        """
        if self._stopping or name in self._hints:
            return
        loop = asyncio.get_running_loop()  # hints wait in loop time, so they are measured in it
        delay = hint_delay(
            now=loop.time(), last_started=self._last_started.get(name), policy=self._policy
        )
        self._hints[name] = loop.call_later(delay, self._hint_due, name, source)

    def _hint_due(self, name: str, source: ChangeSource) -> None:
        self._hints.pop(name, None)
        task = asyncio.create_task(self._hinted_run(name, source), name=f"hint-{name}")
        self._hinted.add(task)
        task.add_done_callback(self._hinted.discard)

    async def _hinted_run(self, name: str, source: ChangeSource) -> None:
        try:
            await self.trigger(name, source=source)
        except Exception:  # noqa: BLE001 - the database away: logged once a streak, next poll
            key = f"hint:{name}"
            self._streaks.failed(key, "scheduler.hint_failed", exc_info=True, gateway=name)
        else:
            self._streaks.recovered(f"hint:{name}", "scheduler.hint_recovered", gateway=name)

    def breaker(self, state: StatusFields) -> BreakerState:
        if state.consecutive_failures < self._policy.breaker_threshold:
            return BreakerState.CLOSED  # no clock needed (a status asks for 1,000 gateways)
        return breaker_state(
            state.consecutive_failures,
            next_run_at=state.next_run_at,
            now=self._clock.now(),
            policy=self._policy,
        )

    # -- internals ------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping:  # also ends a loop whose cancellation a wake-up swallowed
            self._heartbeat = self._clock.monotonic()
            try:
                await self._claim_due()
                await self._housekeeping()
            except Exception:  # noqa: BLE001 - the database away: logged once a streak, retried
                self._streaks.failed("tick", "scheduler.tick_failed", exc_info=True)
            else:
                self._streaks.recovered("tick", "scheduler.tick_recovered")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._tick_s):
                    await self._wake.wait()

    async def _housekeeping(self) -> None:
        if self._retention is None or self._clock.monotonic() < self._next_prune:
            return
        self._next_prune = self._clock.monotonic() + self._prune_every_s
        pruned = await self._store.prune(self._retention, now=self._clock.now())
        if pruned.runs or pruned.changes or pruned.deliveries or pruned.models:
            log.info(
                "scheduler.pruned",
                runs=pruned.runs,
                changes=pruned.changes,
                deliveries=pruned.deliveries,
                models=pruned.models,
            )

    async def _claim_due(self) -> None:
        free = self._concurrency - len(self._running)
        if free <= 0:
            return
        grants = await self._runner.claim_due(
            now=self._clock.now(), limit=free, exclude=list(self._running)
        )
        for grant in grants:
            name = grant.lease.gateway
            if name in self._running or self._stopping:  # a trigger started it meanwhile
                await self._runner.release(grant)
                continue
            self._start(name, source=ChangeSource.POLL, full=False, grant=grant)

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
        self._last_started[name] = asyncio.get_running_loop().time()
        task.add_done_callback(lambda done: self._finished(name, done))
        self._tell(name, finished=False)
        return task

    async def _run(
        self, name: str, source: ChangeSource, full: bool, grant: LeaseGrant | None
    ) -> RunSummary:
        try:
            return await self._runner.run(
                name, trigger=source, full=full, grant=grant, next_run=self._next_run
            )
        except StoreError as exc:  # the database is away: the runner tried to record it
            error = f"the run could not be recorded: {exc}"
            self._streaks.failed(f"run:{name}", "scheduler.run_failed", gateway=name, error=error)
            return RunSummary(gateway=name, outcome=RunOutcome.FAILED, error=error)
        except Exception as exc:  # noqa: BLE001 - a bug: logged once a streak, recorded, go on
            error = f"internal error ({type(exc).__name__}); the traceback is in the log"
            key = f"run:{name}"
            self._streaks.failed(key, "scheduler.run_failed", exc_info=True, gateway=name)
            if grant is not None:
                with contextlib.suppress(StoreError):
                    await self._runner.release(grant)
            await self._record_failure(name, source, grant, error)
            return RunSummary(gateway=name, outcome=RunOutcome.FAILED, error=error)

    async def _record_failure(
        self, name: str, source: ChangeSource, grant: LeaseGrant | None, error: str
    ) -> None:
        """Best effort: record the failed run and its back-off, freeing the lease it was given."""
        now = self._clock.now()
        try:
            before = grant.state if grant else (await self._store.gateway_states([name]))[0]
            record = RunRecord(
                gateway=name,
                trigger=source,
                outcome=RunOutcome.FAILED,
                started_at=now,
                finished_at=now,
                error=error,
            )
            record = replace(record, next_run_at=self._next_run(before, record, None))
            await self._store.record_unleased_failure(record, owner=self._owner)
        except Exception:  # the store is away: the lease lapses and the gateway comes due again
            log.debug("scheduler.record_failed", gateway=name, exc_info=True)

    def _finished(self, name: str, task: asyncio.Task[RunSummary]) -> None:
        self._running.pop(name, None)
        self._tell(name, finished=True)
        follow_up = self._follow_ups.pop(name, None)
        if follow_up is not None:
            future, source, full = follow_up
            if self._stopping:  # shutting down: the follow-up never starts
                future.cancel()
            else:
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
