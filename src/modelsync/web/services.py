"""What the web layer works with, built once in the lifespan: runtime, scheduler, webhooks, cache.

:func:`open_services` is the composition root of the service. It wires the runner's listener to
the invalidation hub (every applied run, run start and end, health change and webhook
invalidates the response cache and is offered to the purgers), the webhook receiver to the scheduler
(a verified hint requests a coalesced verification sync; at start, the verification syncs that
accepted deliveries still owe are requested again), and closes everything in reverse.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx
import structlog

from modelsync.bus import ChangeFeed, FeedBatch, open_feed
from modelsync.cache.hub import Invalidations
from modelsync.cache.memory import MemoryTagManifest
from modelsync.cache.responses import ResponseCache
from modelsync.cache.setup import response_cache
from modelsync.cache.tags import for_run
from modelsync.clock import Clock, SystemClock
from modelsync.config import Settings
from modelsync.domain import ChangeSource
from modelsync.observability.analytics import (
    Analytics,
    AnalyticsSink,
    JsonLinesSink,
    PostHogSink,
)
from modelsync.observability.metrics import metrics
from modelsync.observability.sentry import close_sentry, init_sentry
from modelsync.purge import Purgers, check_settings
from modelsync.purge.claims import FleetPurge
from modelsync.reference.service import ReferencePrices
from modelsync.runtime import Runtime, open_runtime
from modelsync.store.sql import SqlStore
from modelsync.sync.offload import Offload
from modelsync.sync.processes import AppliedVersion, ProcessHeartbeat
from modelsync.sync.runner import AppliedRun
from modelsync.sync.schedule import SchedulePolicy
from modelsync.sync.scheduler import Scheduler
from modelsync.web.invalidation import OFF_LOOP_IDS, HealthWatch, canonical_ids
from modelsync.webhooks.receiver import WebhookReceiver
from modelsync.webhooks.recorder import GroupCommitRecorder
from modelsync.webhooks.verification import Verifications

log = structlog.get_logger("modelsync.web")

SWITCH_INTERVAL_S = 0.001


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    runtime: Runtime
    scheduler: Scheduler
    receiver: WebhookReceiver
    recorder: GroupCommitRecorder
    manifest: MemoryTagManifest
    started_at: datetime
    cache: ResponseCache
    invalidations: Invalidations
    health: HealthWatch
    applied: AppliedVersion
    heartbeat: ProcessHeartbeat
    analytics: Analytics | None
    feed: ChangeFeed
    """The change-log tail (:mod:`modelsync.bus`): subscribe to it for every committed change."""
    purgers: Purgers
    """The outbound purgers (:mod:`modelsync.purge`), registered on ``invalidations``."""
    fleet: FleetPurge
    """Claims each committed run's outbound purge (once per fleet) and hands it to ``purgers``."""

    @property
    def clock(self) -> Clock:
        return self.runtime.clock


def schedule_policy(settings: Settings) -> SchedulePolicy:
    scheduler = settings.scheduler
    return SchedulePolicy(
        max_backoff_factor=scheduler.max_backoff_factor,
        breaker_threshold=scheduler.breaker_threshold,
        hint_debounce_s=scheduler.hint_debounce_s,
        hint_min_interval_s=scheduler.hint_min_interval_s,
        first_run_window_s=scheduler.first_run_window_s,
    )


def analytics_sink(settings: Settings, client: httpx.AsyncClient) -> AnalyticsSink | None:
    """The configured analytics sink: PostHog when its host and key are set, else a file.

    ``client`` is the analytics' own (the upstream client may be a test's stand-in transport)."""
    config = settings.analytics
    if config.posthog_host and config.posthog_key:
        return PostHogSink(client, config.posthog_host, config.posthog_key.get_secret_value())
    if config.file is not None:
        return JsonLinesSink(config.file)
    return None


async def start_analytics(
    settings: Settings, clock: Clock, process: str, stack: AsyncExitStack
) -> Analytics | None:
    """The analytics queue and its sender, when a sink is configured (closed by ``stack``)."""
    client = httpx.AsyncClient(timeout=10.0)
    stack.push_async_callback(client.aclose)
    sink = analytics_sink(settings, client)
    if sink is None:
        return None
    config = settings.analytics
    analytics = Analytics(
        sink,
        clock,
        process=process,
        batch_size=config.batch_size,
        flush_interval_s=config.flush_interval_s,
        max_queue=config.max_queue,
    )
    await analytics.start()
    return analytics


@asynccontextmanager
async def references_running(runtime: Runtime, run: bool) -> AsyncIterator[None]:
    """The reference price catalogs' refresh loop (when ``run`` and any is enabled)."""
    references = runtime.runner.references
    task = None
    if run and isinstance(references, ReferencePrices) and references.enabled:
        task = asyncio.create_task(references.run_forever(runtime.runner))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class LocalRuns:
    """This process's own runs invalidate its caches at once, at their commit (the runner's first
    listener), and only here: the change feed then applies the rest of each batch (other
    processes' runs, health, prunes) without invalidating these runs again. Outbound purges of
    every run, this process's included, go through the feed's :class:`FleetPurge` (once per
    fleet)."""

    def __init__(self, invalidations: Invalidations) -> None:
        self._invalidations = invalidations
        self.feed: ChangeFeed | None = None
        """The change feed, once started (:func:`wire_feed` sets it)."""
        self._applied: set[int] = set()

    async def invalidate(self, applied: AppliedRun) -> None:
        """The runner's listener: invalidate the run here (unless the feed read it first; the
        applied version is the feed's to advance)."""
        version = applied.result.catalog_version
        feed = self.feed
        if feed is None or feed.applied_version < version:
            await self._apply(applied, version)

    async def _apply(self, applied: AppliedRun, version: int) -> None:
        self._applied.add(version)
        plan, presence = applied.plan, applied.presence_changed
        if len(plan.changes) + len(presence) > OFF_LOOP_IDS:  # 50,000 ids: off the loop
            invalidation = await asyncio.to_thread(for_run, plan, presence)
        else:
            invalidation = for_run(plan, presence)
        reason = f"sync {applied.gateway} v{applied.result.gateway_version}"
        await self._invalidations.apply(invalidation, reason=reason, purge=False)

    def rest(self, batch: FeedBatch) -> FeedBatch:
        """The part of a feed batch this process has not invalidated yet (forgetting the runs
        the feed has now passed)."""
        versions = batch.versions
        mine = versions & self._applied
        self._applied.difference_update(
            v for v in list(self._applied) if v <= batch.catalog_version
        )
        return batch.only(versions - mine, rest=True) if mine else batch


def wire_feed(  # noqa: PLR0917 - the composition root's parts
    feed: ChangeFeed,
    runtime: Runtime,
    invalidations: Invalidations,
    purgers: Purgers,
    applied_version: AppliedVersion,
    local: LocalRuns,
) -> FleetPurge:
    """This process's runs wake the feed (fanned out at once, not at the next poll); every
    batch of the log, whoever committed it (another process, another server), invalidates what
    this process has not invalidated yet (its own runs were, by ``local``), reaches the outbound
    purgers once per fleet (the returned :class:`FleetPurge` claims each run) and wakes the
    outbox."""
    local.feed = feed
    applied_version.advance(feed.applied_version)  # its start: nothing cached before it
    store = runtime.store if isinstance(runtime.store, SqlStore) else None
    fleet = FleetPurge(
        lambda invalidation, reason: invalidations.purge(invalidation, reason=reason),
        store,
        runtime.clock,
    )

    async def wake_feed(applied: AppliedRun) -> None:
        if applied.plan.missing:  # its marks are read back from the store
            feed.wake()
        else:
            await feed.committed(applied.result.changes, applied.result.catalog_version)

    async def tail_invalidates(batch: FeedBatch) -> None:
        if batch.changes:
            purgers.changed()
        rest = local.rest(batch).invalidation()
        if not rest.is_empty:  # this process's own run: invalidated at its commit already
            reason = f"change log v{batch.catalog_version}"
            await invalidations.apply(rest, reason=reason, purge=False)
        applied_version.advance(batch.catalog_version)  # others' runs too, once invalidated
        if invalidations.purgers:
            fleet.offer(batch)

    for name, enqueue in purgers.enqueuers().items():
        invalidations.add_purger(name, enqueue)
    runtime.runner.add_listener(wake_feed)
    feed.add_listener(tail_invalidates)
    purgers.start()
    return fleet


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    run_scheduler: bool = True,
) -> AsyncIterator[Services]:
    """Open the runtime and everything around it; the scheduler's loop runs in the background."""
    clock = clock or SystemClock()
    check_settings(settings.purge)  # a bad purger configuration is refused before anything opens
    dsn = settings.sentry_dsn
    sentry = init_sentry(dsn.get_secret_value() if dsn else None)
    try:
        async with _open_services(settings, clock, transport, run_scheduler) as services:
            yield services
    finally:
        if sentry:
            close_sentry()


@asynccontextmanager
async def _open_services(
    settings: Settings,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None,
    run_scheduler: bool,
) -> AsyncIterator[Services]:
    offload = Offload()  # a run's decode, normalize, diff and plan never hold the event loop
    # A worker thread computing hands the GIL back to the loop after this long (5 ms by default;
    # measured: /healthz p99 during a 50,000-model sync 48 -> 38 ms under load 10).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    async with (
        open_runtime(settings, clock=clock, transport=transport, offload=offload) as runtime,
        AsyncExitStack() as stack,
        httpx.AsyncClient(follow_redirects=False, trust_env=False) as purge_client,
    ):
        purgers = Purgers.from_settings(
            settings.purge,
            purge_client,
            clock,
            store=runtime.store if isinstance(runtime.store, SqlStore) else None,
        )
        manifest = MemoryTagManifest(clock)
        scheduler = Scheduler(
            runner=runtime.runner,
            store=runtime.store,
            policy=schedule_policy(settings),
            clock=clock,
            owner=runtime.owner,
            concurrency=settings.scheduler.concurrency,
            retention=runtime.retention,
        )

        cache = response_cache(settings, clock, manifest)
        invalidations = Invalidations(manifest, cache.backend)
        local = LocalRuns(invalidations)  # the runner's first listener
        runtime.runner.add_listener(local.invalidate)
        health = HealthWatch(
            invalidations, runtime.store, breaker_threshold=settings.scheduler.breaker_threshold
        )
        scheduler.observe(health.observe)
        # What the change feed has applied (its listener advances it once a batch, this
        # process's runs included, is invalidated), never a run's version ahead of the feed:
        # another process's commit before it may not be invalidated here yet.
        applied_version = AppliedVersion()
        recorder = GroupCommitRecorder(runtime.store)

        def verify_gateway(gateway: str) -> None:
            scheduler.request(gateway, source=ChangeSource.WEBHOOK)

        expire_after_s = settings.process.expire_after_s

        async def alive(process: str) -> bool:
            live = await runtime.store.live_processes(expire_after_s=expire_after_s)
            return any(row.id == process for row in live)

        verifications = Verifications(
            runtime.store, verify_gateway, clock, process=runtime.owner, alive=alive
        )

        aliases = {
            alias: gateway.name
            for gateway in runtime.gateways.values()
            for alias in (gateway.name, *gateway.spec.aliases)
        }
        receiver = WebhookReceiver(
            settings.webhook_secret,
            aliases,
            recorder,
            invalidations,
            verifications.request,
            clock,
            retrigger=verifications.reverify,
            canonical=canonical_ids(runtime.runner),
            process=runtime.owner,
        )
        analytics = await start_analytics(settings, clock, runtime.owner, stack)
        runtime.runner.observer.analytics = analytics
        heartbeat = ProcessHeartbeat(
            runtime.store,
            metrics(),
            applied_version,
            clock,
            owner=runtime.owner,
            breaker=scheduler.breaker,
            heartbeat_s=settings.process.heartbeat_s,
            expire_after_s=settings.process.expire_after_s,
        )
        feed = await stack.enter_async_context(open_feed(runtime.store, settings))
        fleet = wire_feed(feed, runtime, invalidations, purgers, applied_version, local)
        services = Services(
            settings,
            runtime,
            scheduler,
            receiver,
            recorder,
            manifest,
            clock.now(),
            cache,
            invalidations,
            health,
            applied_version,
            heartbeat,
            analytics,
            feed,
            purgers,
            fleet,
        )
        await health.start()
        await stack.enter_async_context(references_running(runtime, run_scheduler))
        if run_scheduler:
            await scheduler.start()
            await verifications.replay()
            await heartbeat.start()
        # Everything built so far lives as long as the process: move it out of the collector's
        # way, so a full collection under load scans the requests' objects, not the app's.
        gc.freeze()
        try:
            yield services
        finally:
            verifications.close()
            await heartbeat.stop()
            await scheduler.stop()
            await recorder.aclose()
            await fleet.drain()
            await purgers.stop()
            offload.close()
            await health.drain()
            await cache.backend.aclose()
            if analytics is not None:
                await analytics.aclose()
