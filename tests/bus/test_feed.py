"""The change feed (issue 8 item 2): a change committed by another process reaches a subscriber
in a serving process, on SQLite (polling) and PostgreSQL (LISTEN/NOTIFY), with missing marks and
health changes; a lost listening connection falls back to polling without a gap or a duplicate.

The other process is the real CLI (``modelsync sync``) against the simulator, on the same
database as the services this test opens (the composition root ``serve`` runs).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from modelsync.bus import FeedBatch, Subscription
from modelsync.config import load_settings
from modelsync.web.services import Services, open_services
from service_process import cli_sync, sim_admin
from store.conftest import asyncpg_dsn, private_database

pytestmark = pytest.mark.timeout(120)


@asynccontextmanager
async def serving(database: str, upstream: str, **overrides: Any) -> AsyncIterator[Services]:
    settings = load_settings(database_url=database, upstream=upstream, **overrides)
    async with open_services(settings, run_scheduler=False) as services:
        yield services


async def collect(
    subscription: Subscription, until: Any, *, within_s: float = 20.0
) -> list[FeedBatch]:
    """Batches from ``subscription`` until ``until(batches)`` holds."""
    batches: list[FeedBatch] = []
    deadline = time.monotonic() + within_s
    while not until(batches):
        left = deadline - time.monotonic()
        assert left > 0, f"not reached within {within_s} s: {batches}"
        batch = await subscription.next(left)
        if batch is not None:
            batches.append(batch)
    return batches


def seqs(batches: list[FeedBatch]) -> list[int]:
    return [record.seq for batch in batches for record in batch.changes]


async def logged_seqs(services: Services) -> list[int]:
    records = await services.runtime.store.list_changes(limit=100_000)
    return [record.seq for record in records]


async def test_cli_sync_reaches_a_subscriber(upstream: str, database: str, tmp_path: Path) -> None:
    sim_admin(upstream, "/_admin/reset")
    settings = {"scheduler": {"breaker_threshold": 1}}
    async with serving(database, upstream, **settings) as services:
        feed = services.feed
        assert feed.applied_version == 0
        with feed.subscribe() as subscription:
            report = await asyncio.to_thread(
                cli_sync, upstream, database, tmp_path, "groq", exit_codes=(0, 1)
            )
            added = report["gateways"][0]["added"]
            batches = await collect(subscription, lambda b: len(seqs(b)) >= added)
            assert seqs(batches) == await logged_seqs(services)  # every change, once, in order
            assert {r.change.kind.value for b in batches for r in b.changes} == {"added"}
            assert feed.applied_version == report["catalog_version"] == batches[-1].catalog_version
            tags = batches[0].invalidation().tags
            assert {"models:all", "models:gateway:groq"} <= tags

            # a run that only marks a model missing: no change, but a missing mark
            removed = {"gateway": "groq", "op": "remove", "model_id": "llama-3.3-70b-versatile"}
            sim_admin(upstream, "/_admin/mutate", removed)
            report = await asyncio.to_thread(
                cli_sync, upstream, database, tmp_path, "groq", exit_codes=(0, 1)
            )
            assert report["gateways"][0]["missing"] == 1
            [batch] = await collect(subscription, bool)
            [marks] = batch.missing
            assert (marks.gateway, marks.catalog_version) == ("groq", report["catalog_version"])
            assert marks.ids == ("meta-llama/llama-3.3-70b-instruct",)
            assert "model:meta-llama/llama-3.3-70b-instruct" in batch.invalidation().tags
            assert not batch.changes

            # the gateway fails (its breaker opens at one failure here), then recovers
            sim_admin(upstream, "/_admin/fault", {"gateway": "groq", "kind": "http_500"})
            await asyncio.to_thread(
                cli_sync, upstream, database, tmp_path, "groq", exit_codes=(0, 1)
            )
            [batch] = await collect(subscription, bool)
            [health] = batch.health
            assert health.to_json(batch.catalog_version) | {"catalog_version": 0} == {
                "type": "health", "gateway": "groq", "status": "failing", "breaker": "open",
                "previous_status": "ok", "previous_breaker": "closed", "catalog_version": 0,
            }  # fmt: skip
            assert "models:gateway:groq" in batch.invalidation().tags
            await asyncio.to_thread(httpx.delete, upstream + "/_admin/fault", timeout=5)
            await asyncio.to_thread(
                cli_sync, upstream, database, tmp_path, "groq", exit_codes=(0, 1)
            )
            batches = await collect(subscription, lambda b: any(x.health for x in b))
            assert [(h.previous.status, h.current.status) for b in batches for h in b.health] == [
                ("failing", "ok")
            ]
            assert seqs(batches) == (await logged_seqs(services))[added:]  # the removal


@pytest.fixture
def pg_database(tmp_path: Path) -> Iterator[str]:
    with private_database("postgres", tmp_path) as url:
        yield url


@pytest.mark.postgres
async def test_lost_listener_falls_back_to_polling(
    upstream: str, pg_database: str, tmp_path: Path
) -> None:
    """The listening backend is terminated: changes keep arriving by poll, then by notification
    once it reconnects; none is lost or repeated."""
    sim_admin(upstream, "/_admin/reset")
    database = pg_database
    async with serving(database, upstream, feed={"notified_poll_s": 30.0}) as services:
        feed = services.feed
        with feed.subscribe() as subscription:
            deadline = time.monotonic() + 10
            while not feed.listening:
                assert time.monotonic() < deadline, "the feed never listened"
                await asyncio.sleep(0.05)
            # notified: with a 30 s safety poll, only the notification can be this fast
            started = time.monotonic()
            await asyncio.to_thread(
                cli_sync, upstream, database, tmp_path, "groq", exit_codes=(0, 1)
            )
            got = await collect(subscription, bool, within_s=10)
            assert time.monotonic() - started < 25
            assert feed.describe()["mode"] == "listen"

            admin = await asyncpg.connect(asyncpg_dsn(database))
            try:
                terminated = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'modelsync-feed' AND datname = current_database()"
                )
            finally:
                await admin.close()
            assert terminated == 1
            deadline = time.monotonic() + 10
            while feed.listening:  # noticed at the next check (2 s)
                assert time.monotonic() < deadline, "the loss went unnoticed"
                await asyncio.sleep(0.01)
            sim_admin(upstream, "/_admin/mutate", {"gateway": "cerebras", "op": "add"})
            await asyncio.to_thread(
                cli_sync, upstream, database, tmp_path, "cerebras", exit_codes=(0, 1)
            )
            got += await collect(subscription, bool, within_s=10)

            deadline = time.monotonic() + 20
            listener = feed._listener
            while not (feed.listening and listener.connections == 2):
                assert time.monotonic() < deadline, "the listener never reconnected"
                await asyncio.sleep(0.05)
            sim_admin(upstream, "/_admin/mutate", {"gateway": "groq", "op": "add"})
            await asyncio.to_thread(
                cli_sync, upstream, database, tmp_path, "groq", exit_codes=(0, 1)
            )
            got += await collect(subscription, bool, within_s=10)
            assert seqs(got) == await logged_seqs(services)
            assert len(set(seqs(got))) == len(seqs(got))
