"""A real upstream for sync tests: a Starlette app served by uvicorn on a loopback port, and one
configured gateway run against it by the real runner into a SQLite store of the test's own.

Shared by ``test_listing.py`` (a hostile gateway's other origin) and ``test_nebius_fallback.py``
(a refused verbose listing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from runner_harness import POLICY, models_of
from starlette.applications import Starlette

from conftest import serving
from modelsync.clock import SystemClock
from modelsync.config import GatewaySettings, Settings, resolve_gateways
from modelsync.fetch import Fetcher, build_client
from modelsync.guard import GuardPolicy
from modelsync.runtime import registrations
from modelsync.store.base import StoredModel
from modelsync.store.sql import SqlStore
from modelsync.sync.runner import RunSummary, SyncRunner


@contextmanager
def upstream(app: Starlette) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port; its base URL."""
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    with serving(uvicorn.Server(config)) as base:
        yield base


async def run_gateway(
    tmp_path: Path, name: str, gateway: GatewaySettings, *, key: str
) -> tuple[RunSummary, dict[str, StoredModel]]:
    """Run the gateway ``name`` (configured as ``gateway``, with the API key ``key``) once into
    a fresh SQLite store; the run's summary and the models it stored."""
    settings = Settings(database_url="sqlite://", gateways={name: gateway}, api_keys={name: key})
    gateways = {name: resolve_gateways(settings)[name]}
    store = SqlStore(f"sqlite+aiosqlite:///{tmp_path / (name + '.db')}")
    await store.open()
    try:
        await store.register_gateways(registrations(gateways))
        async with build_client(POLICY) as client:
            runner = SyncRunner(
                store=store,
                fetcher=Fetcher(client, POLICY),
                gateways=gateways,
                guard=GuardPolicy(),
                clock=SystemClock(),
                owner="test",
            )
            summary = await runner.run(name)
        return summary, await models_of(store, name)
    finally:
        await store.close()
