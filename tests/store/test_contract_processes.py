"""The process registry and lease takeovers, on SQLite and PostgreSQL (issue 11 items 1, 4)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from modelsync.store.base import ProcessBeat
from modelsync.store.sql import SqlStore
from modelsync.sync.processes import lagging, process_json

from .factories import at, model, registration, sync

BEAT = ProcessBeat(
    id="host-a:100:aaaa",
    host="host-a",
    pid=100,
    version="0.1.0",
    started_at=at(0),
    applied_version=0,
)


async def test_a_heartbeat_lists_the_process_by_the_databases_clock(store: SqlStore) -> None:
    """The row carries what the process said, seen at the database's now; beats refresh it."""
    await store.heartbeat_process(BEAT, expire_after_s=30)
    (row,) = await store.live_processes(expire_after_s=30)
    assert (row.id, row.host, row.pid, row.applied_version) == (BEAT.id, "host-a", 100, 0)
    assert row.started_at == at(0)
    assert abs(row.now - row.last_seen_at) < timedelta(seconds=5)
    assert row.behind_since is None
    await asyncio.sleep(0.02)
    await store.heartbeat_process(replace(BEAT, applied_version=0), expire_after_s=30)
    (again,) = await store.live_processes(expire_after_s=30)
    assert again.last_seen_at > row.last_seen_at


async def test_behind_since_is_kept_while_behind_and_cleared_when_current(
    store: SqlStore,
) -> None:
    """A process below the catalog version is behind from its first such beat until it catches
    up; a silent process is lagging too."""
    await store.register_gateways([registration("groq")])
    result = await sync(store, "groq", [model("groq", 1)], now=at(10))
    await store.heartbeat_process(BEAT, expire_after_s=30)
    (first,) = await store.live_processes(expire_after_s=30)
    assert first.catalog_version == result.catalog_version == 1
    assert first.behind_since is not None
    await store.heartbeat_process(BEAT, expire_after_s=30)
    (second,) = await store.live_processes(expire_after_s=30)
    assert second.behind_since == first.behind_since
    assert lagging(second, threshold_s=0, heartbeat_s=5)
    assert not lagging(second, threshold_s=60, heartbeat_s=5)
    await store.heartbeat_process(replace(BEAT, applied_version=1), expire_after_s=30)
    (current,) = await store.live_processes(expire_after_s=30)
    assert current.behind_since is None
    assert process_json(current, threshold_s=0, heartbeat_s=5)["lagging"] is False
    silent = replace(current, now=current.last_seen_at + timedelta(seconds=12))
    assert lagging(silent, threshold_s=60, heartbeat_s=5)


async def test_a_dead_process_drops_off_and_its_row_is_deleted(store: SqlStore) -> None:
    """Silent past the expiry: not listed, and deleted by another process's heartbeat."""
    await store.heartbeat_process(BEAT, expire_after_s=30)
    await asyncio.sleep(0.3)
    assert await store.live_processes(expire_after_s=0.1) == []
    other = replace(BEAT, id="host-b:200:bbbb", host="host-b", pid=200)
    await store.heartbeat_process(other, expire_after_s=0.1)
    assert [row.id for row in await store.live_processes(expire_after_s=30)] == [other.id]
    await store.leave_process(other.id)
    assert await store.live_processes(expire_after_s=30) == []


async def test_a_lease_taken_after_it_lapsed_names_the_owner_it_was_taken_from(
    store: SqlStore,
) -> None:
    """Free lease: taken from nobody; a lapsed lease of another owner: a takeover."""
    await store.register_gateways([registration("groq")])
    first = await store.acquire_lease("groq", "w1", ttl_s=0.05)
    assert first is not None
    assert first.state.lease_taken_from is None
    await asyncio.sleep(0.2)
    second = await store.acquire_lease("groq", "w2", ttl_s=30)
    assert second is not None
    assert second.state.lease_taken_from == "w1"
    await store.release_lease(second.lease)
    third = await store.acquire_lease("groq", "w3", ttl_s=30)
    assert third is not None
    assert third.state.lease_taken_from is None
