"""The one contract of :class:`~modelsync.cache.base.CacheBackend`, run against each backend:
in-process (LRU) and Redis (real server, a uuid key prefix per test)."""

from __future__ import annotations

import asyncio
import random

import pytest

from cache.conftest import OpenBackend
from modelsync.cache.base import CacheBackend, CachedEntry
from modelsync.cache.lru import MemoryResponseCache
from modelsync.cache.tags import Invalidation
from modelsync.clock import ManualClock


def entry(
    key: str = "/api/models/a/b",
    *,
    tags: tuple[str, ...] = ("model:a/b", "models:gateway:groq"),
    generation: int = 0,
    body: bytes = b'{"id":"a/b"}',
    path: str | None = None,
    ttl_s: float | None = None,
) -> CachedEntry:
    return CachedEntry(
        key=key,
        path=path or key.partition("?")[0],
        body=body,
        etag=b'"e-' + body[-6:].replace(b'"', b"") + b'"',
        headers=((b"content-type", b"application/json"), (b"etag", b'"x"')),
        not_modified=((b"etag", b'"x"'),),
        tags=tags,
        generation=generation,
        ttl_s=ttl_s,
    )


def drop(*tags: str, paths: tuple[str, ...] = ()) -> Invalidation:
    return Invalidation(frozenset(tags), frozenset(paths))


async def test_a_stored_entry_is_answered_whole(backend: CacheBackend) -> None:
    """What was put comes back: body, headers, tags, generation; an unknown key is a miss."""
    stored = entry(generation=await backend.generation())
    assert await backend.put(stored)
    found = await backend.get(stored.key)
    assert found is not None
    assert (found.body, found.headers, found.not_modified, found.etag) == (
        stored.body,
        stored.headers,
        stored.not_modified,
        stored.etag,
    )
    assert (found.tags, found.generation, found.path) == (
        stored.tags,
        stored.generation,
        stored.path,
    )
    assert await backend.get("/api/models/unknown") is None


async def test_an_invalidated_tag_stales_its_entries_only(backend: CacheBackend) -> None:
    """Invalidating a tag drops every entry carrying it, and nothing else."""
    generation = await backend.generation()
    await backend.put(entry("/a", tags=("model:a/b", "models:gateway:groq"), generation=generation))
    await backend.put(entry("/b", tags=("model:c/d", "models:gateway:groq"), generation=generation))
    await backend.put(entry("/c", tags=("model:e/f",), generation=generation))
    await backend.invalidate(drop("models:gateway:groq"), reason="test")
    assert await backend.get("/a") is None
    assert await backend.get("/b") is None
    assert await backend.get("/c") is not None


async def test_an_invalidated_path_stales_its_page(backend: CacheBackend) -> None:
    """A page is dropped by its path as well as by its tags."""
    generation = await backend.generation()
    await backend.put(entry("/models/a/b", tags=("x",), generation=generation))
    await backend.put(entry("/models/c/d?x=1", tags=("x",), generation=generation))
    await backend.invalidate(drop(paths=("/models/a/b", "/models/c/d")), reason="test")
    assert await backend.get("/models/a/b") is None
    assert await backend.get("/models/c/d?x=1") is None


async def test_entries_stored_after_an_invalidation_are_fresh(backend: CacheBackend) -> None:
    """An entry read after the invalidation (a later generation) is answered."""
    await backend.invalidate(drop("model:a/b"), reason="test")
    stored = entry(generation=await backend.generation())
    assert await backend.put(stored)
    assert await backend.get(stored.key) is not None


async def test_a_read_that_raced_an_invalidation_is_never_stored(backend: CacheBackend) -> None:
    """The generation is taken before the read; an invalidation lands during the read; the
    result is refused (and were it stored, never answered)."""
    before = await backend.generation()
    await backend.invalidate(drop("model:a/b"), reason="during the read")
    assert not await backend.put(entry(generation=before))
    assert await backend.get(entry().key) is None


async def test_an_older_read_never_replaces_a_newer_entry(backend: CacheBackend) -> None:
    """Two reads of one key, the older finishing last: the newer entry stays."""
    old = await backend.generation()
    await backend.invalidate(drop("unrelated"), reason="test")
    new = await backend.generation()
    assert new > old
    assert await backend.put(entry(generation=new, body=b'{"v":"new"}'))
    assert not await backend.put(entry(generation=old, body=b'{"v":"old"}'))
    found = await backend.get(entry().key)
    assert found is not None
    assert found.body == b'{"v":"new"}'


async def test_an_entry_lives_no_longer_than_its_ttl(
    backend: CacheBackend, clock: ManualClock
) -> None:
    """A status answer carries a lifetime besides its tags."""
    stored = entry("/api/sync/status", tags=("sync:status",), ttl_s=0.2)
    await backend.put(stored)
    assert await backend.get(stored.key) is not None
    clock.advance(1)
    await asyncio.sleep(0.3)  # Redis keeps time itself
    assert await backend.get(stored.key) is None


async def test_another_process_sees_every_invalidation(open_backend: OpenBackend) -> None:
    """Two clients of one cache (for Redis: two connections, as two processes would have):
    what one stores the other answers, and what one invalidates the other drops at once."""
    one, other = await open_backend(), await open_backend()
    await one.put(entry(generation=await one.generation()))
    assert await other.get(entry().key) is not None
    await other.invalidate(drop("model:a/b"), reason="elsewhere")
    assert await one.get(entry().key) is None


async def test_a_big_invalidation_marks_every_tag(backend: CacheBackend) -> None:
    """Every one of 5,000 models is invalidated (not the first ten)."""
    generation = await backend.generation()
    keys = [f"/api/models/m/{n}" for n in range(0, 5000, 499)]
    for key in keys:
        await backend.put(entry(key, tags=(f"model:{key[12:]}",), generation=generation))
    await backend.invalidate(drop(*(f"model:m/{n}" for n in range(5000))), reason="big")
    assert [await backend.get(key) for key in keys] == [None] * len(keys)


async def test_describe_counts(backend: CacheBackend) -> None:
    """The status shows the backend and its counts."""
    await backend.put(entry(generation=await backend.generation()))
    await backend.get(entry().key)
    await backend.get("/missing")
    described = await backend.describe()
    assert described["backend"] == backend.name
    assert described["hits"] >= 1
    assert described["misses"] >= 1


async def test_concurrent_readers_never_see_data_older_than_their_start(
    open_backend: OpenBackend,
) -> None:
    """Readers fill and read the cache while a writer commits and invalidates: no read answers
    data older than what was committed (and invalidated) before that read began."""
    backends = [await open_backend(), await open_backend()]
    database = {"version": 0}
    invalidated = {"version": 0}
    stop = asyncio.Event()
    served_stale: list[tuple[int, int]] = []
    reads = 0

    async def read(backend: CacheBackend) -> int:
        found = await backend.get("/api/models/a/b")
        if found is not None:
            return int(found.body)
        generation = await backend.generation()
        await asyncio.sleep(random.random() / 1000)
        value = database["version"]
        await asyncio.sleep(random.random() / 1000)
        await backend.put(entry(generation=generation, body=str(value).encode()))
        return value

    async def reader(backend: CacheBackend) -> None:
        nonlocal reads
        while not stop.is_set():
            committed = invalidated["version"]  # committed and invalidated before this read
            value = await read(backend)
            reads += 1
            if value < committed:
                served_stale.append((value, committed))
            await asyncio.sleep(0)

    async def writer() -> None:
        for _ in range(60):
            database["version"] += 1  # commit, then invalidate (as every source does)
            await backends[0].invalidate(drop("model:a/b"), reason="write")
            # only now is the commit covered: a read that began before the invalidation ended
            # (Redis: a round trip, other readers running meanwhile) may still see the old one
            invalidated["version"] = database["version"]
            await asyncio.sleep(0.003)
        stop.set()

    async with asyncio.timeout(30):
        await asyncio.gather(writer(), *(reader(backends[n % 2]) for n in range(8)))
    assert served_stale == []
    assert reads > 100


def test_memory_lru_is_bounded_in_bytes(clock: ManualClock) -> None:
    """Past its byte bound the in-process cache drops the least recently used entries."""
    cache = MemoryResponseCache(clock, max_bytes=10_000)
    for n in range(100):
        cache.store(entry(f"/k/{n}", body=b"x" * 500))
        cache.lookup("/k/0")  # kept in use
    described = asyncio.run(cache.describe())
    assert described["bytes"] <= 10_000
    assert described["evictions"] > 0
    assert cache.lookup("/k/0") is not None
    assert cache.lookup("/k/1") is None
    assert cache.lookup("/k/99") is not None
    assert not cache.store(entry("/huge", body=b"x" * 20_000))


@pytest.mark.redis
@pytest.mark.parametrize("open_backend", ["redis"], indirect=True)
async def test_redis_manifest_is_bounded(open_backend: OpenBackend) -> None:
    """Past ``max_marks`` the oldest marks are forgotten and the floor rises: an early miss of
    the entries read before them, never a stale hit."""
    backend = await open_backend(max_marks=10)
    old = await backend.generation()
    await backend.put(entry("/old", tags=("never-invalidated",), generation=old))
    for n in range(30):
        await backend.invalidate(drop(f"tag-{n}"), reason="fill")
    described = await backend.describe()
    assert described["marks"] <= 10
    assert await backend.get("/old") is None
    fresh = await backend.generation()
    assert await backend.put(entry("/new", tags=("never-invalidated",), generation=fresh))
    assert await backend.get("/new") is not None
