"""This process in the fleet (issue 11 item 1): ``/api/sync/status`` lists the registered
processes with their applied version and ``lagging``; ``modelsync status`` shows them too."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import orjson

from modelsync.runtime import open_runtime
from modelsync.store.base import ProcessBeat
from service_process import BIN, clean_environment
from web.harness import START, Service, eventually, open_service


async def status(service: Service) -> dict[str, object]:
    response = await service.client.get("/api/sync/status")
    assert response.status_code == 200
    document: dict[str, object] = response.json()
    return document


async def test_status_lists_this_process_current_and_another_lagging(service: Service) -> None:
    """After a sync and a heartbeat this process is current; a peer that reports an older
    version (behind longer than the threshold, here 0 s) is lagging."""
    report = await service.sync("groq")
    await service.services.heartbeat.beat()
    store = service.services.runtime.store
    peer = ProcessBeat(
        id="peer:1:ffff", host="peer", pid=1, version="0.1.0", started_at=START, applied_version=0
    )
    await store.heartbeat_process(peer, expire_after_s=30)
    await store.heartbeat_process(peer, expire_after_s=30)
    await service.services.heartbeat.beat()  # the status lists the fleet as of the last beat
    found = await status(service)
    rows = {row["id"]: row for row in found["processes"]}  # type: ignore[attr-defined]
    me = rows[service.services.runtime.owner]
    assert me["applied_version"] == report["catalog_version"]
    assert me["lagging"] is False
    assert set(me) == {
        "id", "host", "pid", "version", "started_at", "applied_version", "last_seen_at",
        "behind_s", "lagging",
    }  # fmt: skip
    assert rows["peer:1:ffff"]["applied_version"] == 0


async def test_lagging_after_the_threshold(tmp_path: Path) -> None:
    """With a threshold of 0 s, a peer behind the catalog version is lagging at once."""
    async with open_service(tmp_path, process={"lag_threshold_s": 0}) as service:
        await service.sync("groq")
        peer = ProcessBeat(
            id="peer:1:ffff", host="peer", pid=1, version="0.1.0", started_at=START,
            applied_version=0,
        )  # fmt: skip
        store = service.services.runtime.store
        await store.heartbeat_process(peer, expire_after_s=30)
        await store.heartbeat_process(peer, expire_after_s=30)
        await service.services.heartbeat.beat()
        found = await status(service)
    rows = {row["id"]: row for row in found["processes"]}  # type: ignore[attr-defined]
    assert rows["peer:1:ffff"]["lagging"] is True


async def test_modelsync_status_shows_the_processes(service: Service, tmp_path: Path) -> None:
    """``modelsync status --json`` on the same database lists the serving process."""
    await service.services.heartbeat.beat()
    env = clean_environment(
        MODELSYNC_DATABASE_URL=service.services.settings.database_url,
        MODELSYNC_UPSTREAM="http://sim",
    )
    done = await asyncio.to_thread(
        subprocess.run, [str(BIN / "modelsync"), "status", "--json"],
        env=env, cwd=tmp_path, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = orjson.loads(done.stdout)
    assert [row["id"] for row in document["processes"]] == [service.services.runtime.owner]
    human = await asyncio.to_thread(
        subprocess.run, [str(BIN / "modelsync"), "status"],
        env=env | {"COLUMNS": "200"}, cwd=tmp_path, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert service.services.runtime.owner in human.stdout.decode()


async def test_the_applied_version_is_what_the_change_feed_applied(service: Service) -> None:
    """Another process commits a run; this one commits the next before its feed has read the
    other's: the heartbeat's applied version never runs ahead of the feed (the other's changes
    are not invalidated here yet), and reaches the store's version once the feed has both."""
    services = service.services
    await service.sync("groq")
    await asyncio.sleep(0)
    async with open_runtime(
        services.settings, clock=service.clock, transport=service.transport
    ) as other:
        assert (await other.runner.run("cerebras")).outcome.value == "changed"
    await service.sync("xai")  # right after: the feed polls every 0.5 s at most
    assert services.applied.version <= services.feed.applied_version
    await services.heartbeat.beat()
    rows = {row.id: row for row in services.heartbeat.fleet}
    assert rows[services.runtime.owner].applied_version <= services.feed.applied_version
    store_version = await services.runtime.store.catalog_version()

    async def caught_up() -> bool:
        return services.applied.version == services.feed.applied_version == store_version

    await eventually(caught_up, within_s=20)
