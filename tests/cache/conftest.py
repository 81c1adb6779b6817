"""Fixtures of the cache tests: each backend of the one contract, Redis under a uuid prefix."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from conftest import REDIS_URL, service_unavailable
from modelsync.cache.base import CacheBackend
from modelsync.cache.lru import MemoryResponseCache
from modelsync.cache.redis import RedisResponseCache
from modelsync.clock import ManualClock

START = datetime(2026, 1, 1, tzinfo=UTC)
BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]

OpenBackend = Callable[..., Awaitable[CacheBackend]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of the test's own; every key under it is deleted afterwards."""
    prefix = f"test:cache:{uuid.uuid4().hex}"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        async for key in client.scan_iter(match=f"{prefix}:*", count=500):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture(params=BACKENDS)
async def open_backend(
    request: pytest.FixtureRequest, clock: ManualClock, redis_prefix: str
) -> AsyncIterator[OpenBackend]:
    """Opens backends of one kind (several Redis ones share the prefix: other processes)."""
    opened: list[CacheBackend] = []
    memory: list[MemoryResponseCache] = []

    async def open_one(**options: object) -> CacheBackend:
        backend: CacheBackend
        if request.param == "memory":
            if memory and not options:  # "another process" in memory is the same cache
                return memory[0]
            backend = MemoryResponseCache(clock, **options)  # type: ignore[arg-type]
            memory.append(backend)
        else:
            backend = RedisResponseCache.from_url(
                REDIS_URL,
                clock,
                prefix=redis_prefix,
                **options,  # type: ignore[arg-type]
            )
            try:
                await backend.generation()
            except Exception as exc:  # noqa: BLE001
                await backend.aclose()
                service_unavailable("Redis", exc)
        opened.append(backend)
        return backend

    yield open_one
    for backend in opened:
        await backend.aclose()


@pytest.fixture
async def backend(open_backend: OpenBackend) -> CacheBackend:
    return await open_backend()
