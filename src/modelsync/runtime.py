"""The composition root of the sync core: settings in, a running store, client and runner out.

The CLI opens a runtime for one command; the web app opens one in its lifespan. Everything that
holds a connection is built here and closed here, and nothing else builds one.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from modelsync.clock import Clock, SystemClock
from modelsync.config import ResolvedGateway, Settings, resolve_gateways
from modelsync.fetch import Fetcher, FetchPolicy, build_client
from modelsync.guard import GuardPolicy
from modelsync.observability.runs import RunObserver
from modelsync.reference.service import ReferencePrices, reference_sources
from modelsync.store import create_store
from modelsync.store.base import GatewayRegistration, RetentionPolicy, Store
from modelsync.sync.offload import INLINE, Offload
from modelsync.sync.runner import SyncRunner


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    gateways: dict[str, ResolvedGateway]
    store: Store
    client: httpx.AsyncClient
    runner: SyncRunner
    clock: Clock
    owner: str

    @property
    def retention(self) -> RetentionPolicy:
        r = self.settings.retention
        return RetentionPolicy(
            runs_days=r.runs_days,
            runs_keep_per_gateway=r.runs_keep_per_gateway,
            changes_days=r.changes_days,
            changes_keep=r.changes_keep,
            removed_models_days=r.removed_models_days,
        )


def process_owner() -> str:
    """A name for this process in leases: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def registrations(gateways: dict[str, ResolvedGateway]) -> list[GatewayRegistration]:
    return [
        GatewayRegistration(
            name=gateway.name,
            tier=gateway.spec.tier.value,
            interval_s=gateway.interval_s,
            enabled=gateway.enabled,
            disabled_reason=gateway.disabled_reason,
        )
        for gateway in gateways.values()
    ]


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    store: Store | None = None,
    offload: Offload = INLINE,
    register: bool = True,
) -> AsyncIterator[Runtime]:
    """Open the store (migrating SQLite on first use), register the gateways (unless
    ``register`` is false and some are registered already), build the runner (``offload``:
    where a run's CPU work goes; ``serve`` keeps it off its event loop)."""
    clock = clock or SystemClock()
    gateways = resolve_gateways(settings)
    own_store = store is None
    store = store or create_store(settings.database_url)
    if own_store:
        await store.open()
    try:
        # A reading command (register=False) leaves the gateways' rows as the serving process
        # registered them (its intervals, not this command's defaults), but on a fresh database.
        if register or not await store.gateway_states():
            await store.register_gateways(registrations(gateways))
        policy = FetchPolicy.from_settings(settings.http)
        async with build_client(policy, transport=transport) as client:
            owner = process_owner()
            guard, scheduler = settings.guard, settings.scheduler
            runner = SyncRunner(
                store=store,
                fetcher=Fetcher(client, policy),
                gateways=gateways,
                guard=GuardPolicy(
                    max_shrink=guard.max_shrink,
                    removal_misses=guard.removal_misses,
                    price_jump_factor=guard.price_jump_factor,
                    max_models=guard.max_models,
                    max_quarantined=guard.max_quarantined,
                ),
                clock=clock,
                owner=owner,
                upstream=settings.upstream,
                lease_ttl_s=scheduler.lease_ttl_s,
                run_deadline_s=scheduler.run_deadline_s,
                full_resync_s=scheduler.full_resync_s,
                identity=settings.identity.overrides(),
                offload=offload,
                observer=RunObserver(failing_after=scheduler.breaker_threshold),
            )
            sources = reference_sources(settings)
            if sources:
                runner.references = ReferencePrices(
                    store=store,
                    fetcher=runner.fetcher,
                    sources=sources,
                    gateways=gateways,
                    clock=clock,
                    upstream=settings.upstream,
                    offload=offload,
                )
            await runner.identity.migrate(store, clock)
            yield Runtime(settings, gateways, store, client, runner, clock, owner)
    finally:
        if own_store:
            await store.close()
