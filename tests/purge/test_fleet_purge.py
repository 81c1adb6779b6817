"""Each committed run is purged outbound once per fleet, and invalidated once per process.

Two serving processes' services (the composition root ``serve`` runs) on one database, each with
a Next.js purger pointed at one real local HTTP server that records what it receives. A run of
the first process and a ``modelsync sync`` in a process of its own each reach the revalidate
route once (whichever server claims the run in the outbox purges it); each server's own cache
invalidates each run's models once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from modelsync.config import load_settings
from modelsync.domain import ChangeSource
from modelsync.web.services import Services, open_services
from purge.recorder import Recorder, recording_server
from service_process import cli_sync, sim_admin

pytestmark = pytest.mark.timeout(180)

ROUTE = "/api/revalidate"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with recording_server() as server:
        yield server


@asynccontextmanager
async def fleet_of(
    count: int, database: str, upstream: str, recorder: Recorder
) -> AsyncIterator[list[Services]]:
    settings = load_settings(
        database_url=database,
        upstream=upstream,
        http={"attempts": 1},
        purge={"nextjs_url": recorder.base + ROUTE, "nextjs_secret": "front-secret"},
    )
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(open_services(settings, run_scheduler=False))
            for _ in range(count)
        ]


async def eventually(check: Callable[[], Any], what: str, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within {within_s} s"
        await asyncio.sleep(0.05)


async def settled(fleet: list[Services], version: int) -> None:
    """Every process applied ``version`` and handed every purge it claimed to a sent call."""

    async def done() -> bool:
        if any(services.feed.applied_version < version for services in fleet):
            return False
        for services in fleet:
            await services.fleet.drain()
            for worker in services.purgers.workers:
                if not await worker.drained(5.0):
                    return False
        return True

    await eventually(done, f"every process applied v{version} and purged what it claimed")


def purged_with(recorder: Recorder, tag: str) -> int:
    """How many calls to the revalidate route carried ``tag``."""
    return sum(tag in orjson.loads(call.body)["tags"] for call in recorder.to(ROUTE))


def invalidated_with(services: Services, tag: str) -> int:
    """How many of this process's invalidations dropped ``tag``."""
    return sum(tag in record.invalidation.tags for record in services.manifest.recent())


async def test_each_run_purged_once_per_fleet_and_invalidated_once_per_process(
    upstream: str, database: str, recorder: Recorder, tmp_path: Path
) -> None:
    sim_admin(upstream, "/_admin/reset")
    async with fleet_of(2, database, upstream, recorder) as fleet:
        first, second = fleet
        # a run of the first process: its run listener and both feeds see it
        done = await first.runtime.runner.run("groq", trigger=ChangeSource.MANUAL)
        assert done.added
        assert done.catalog_version is not None
        await settled(fleet, done.catalog_version)
        changes = await first.runtime.store.list_changes(limit=1000)
        tags = {f"model:{record.change.id}" for record in changes}
        assert len(tags) == done.added
        for tag in sorted(tags):
            assert purged_with(recorder, tag) == 1, tag
            assert invalidated_with(first, tag) == 1, tag
            assert invalidated_with(second, tag) == 1, tag
        call = recorder.to(ROUTE)[-1]
        assert call.headers["authorization"] == "Bearer front-secret"
        assert first.fleet.claimed + second.fleet.claimed == 1

        # a sync in a process of its own (the CLI): both servers apply it, one purges it
        sim_admin(upstream, "/_admin/mutate", {"gateway": "groq", "op": "add"})
        report = await asyncio.to_thread(cli_sync, upstream, database, tmp_path, "groq")
        version = int(report["catalog_version"])
        await settled(fleet, version)
        [added] = [
            record
            for record in await first.runtime.store.list_changes(limit=1000)
            if record.catalog_version == version
        ]
        tag = f"model:{added.change.id}"
        assert purged_with(recorder, tag) == 1
        assert invalidated_with(first, tag) == 1
        assert invalidated_with(second, tag) == 1
        assert first.fleet.claimed + second.fleet.claimed == 2
