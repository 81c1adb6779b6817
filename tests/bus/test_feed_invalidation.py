"""What the change feed invalidates in a serving process when another process wrote the log: a
``modelsync sync`` (CLI) drops the cached change history and status, and a retention prune run
outside the server drops the cached change history (its oldest changes are gone)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelsync.config import load_settings
from modelsync.runtime import open_runtime
from modelsync.store.base import RetentionPolicy
from modelsync.web.app import create_app
from service_process import cli_sync

pytestmark = pytest.mark.timeout(120)


@asynccontextmanager
async def served(database: str, upstream: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(load_settings(database_url=database, upstream=upstream), run_scheduler=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client,
    ):
        yield client


async def until(client: httpx.AsyncClient, path: str, check: Any, what: str) -> dict[str, Any]:
    """Read ``path`` until ``check(answer)`` holds (the feed polls at most every second)."""
    deadline = time.monotonic() + 20
    while True:
        answer: dict[str, Any] = (await client.get(path)).json()
        if check(answer):
            return answer
        assert time.monotonic() < deadline, f"{what}: still {answer}"
        await asyncio.sleep(0.05)


async def test_cli_sync_and_outside_prune_refresh_the_cached_history(
    upstream: str, database: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(httpx.post, upstream + "/_admin/reset", timeout=5)
    async with served(database, upstream) as client:
        empty = (await client.get("/api/changes")).json()
        assert empty["changes"] == []
        assert (await client.get("/api/changes")).json() == empty  # cached now
        status = (await client.get("/api/sync/status")).json()

        report = await asyncio.to_thread(cli_sync, upstream, database, tmp_path, "groq")
        added = report["gateways"][0]["added"]
        assert added > 3
        page = await until(
            client,
            "/api/changes",
            lambda answer: len(answer["changes"]) == added,
            "the CLI's changes in the cached history",
        )
        await until(
            client,
            "/api/sync/status",
            lambda answer: answer != status,
            "the CLI's run in the cached status",
        )
        oldest = page["changes"][0]["seq"]

        # retention pruned outside the server (another process's store): all but the newest 2
        settings = load_settings(database_url=database, upstream=upstream)
        async with open_runtime(settings, register=False) as outside:
            policy = RetentionPolicy(
                runs_days=3650, runs_keep_per_gateway=1000, changes_days=3650, changes_keep=2
            )
            pruned = await outside.store.prune(policy, now=datetime.now(UTC))
        assert pruned.changes == added - 2
        page = await until(
            client,
            "/api/changes",
            lambda answer: len(answer["changes"]) == 2,
            "the prune in the cached history",
        )
        assert page["changes"][0]["seq"] > oldest
