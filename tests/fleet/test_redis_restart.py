"""The shared Redis cache across a Redis restart (issue 11 item 3), on a server of the test's own:
an invalidation that could not reach Redis is not lost, and an entry from before a restart that
lost the generation counter is neither stored nor answered."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.exceptions import RedisError

from cache.test_backend_contract import drop, entry
from fleet.redis_server import RedisServer, redis_server
from modelsync.cache.redis import RedisResponseCache
from modelsync.clock import ManualClock
from web.harness import START, eventually

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as started:
        yield started


@pytest.fixture
async def caches(server: RedisServer) -> AsyncIterator[tuple[RedisResponseCache, ...]]:
    """Two processes' caches on the server, one prefix (a uuid)."""
    prefix = f"test:{uuid.uuid4().hex}"
    clock = ManualClock(START)
    opened = tuple(RedisResponseCache.from_url(server.url, clock, prefix=prefix) for _ in range(2))
    yield opened
    for cache in opened:
        await cache.aclose()


async def answers(cache: RedisResponseCache, key: str) -> bool | None:
    """Whether the entry is answered; ``None`` while Redis does not answer yet."""
    try:
        return await cache.get(key) is not None
    except (RedisError, OSError):
        return None


async def test_an_invalidation_missed_during_a_restart_stales_the_older_entries(
    server: RedisServer, caches: tuple[RedisResponseCache, ...]
) -> None:
    """Redis goes down keeping its data; a process's invalidation fails meanwhile; once Redis
    is back, neither that process nor another answers the entry the invalidation was for."""
    mine, other = caches
    stored = entry(generation=await mine.generation())
    assert await mine.put(stored)
    assert await other.get(stored.key) is not None
    server.stop(save=True)
    with pytest.raises((RedisError, OSError)):
        await mine.invalidate(drop("model:a/b"), reason="during the restart")
    assert mine.missed
    server.start()

    async def other_answers() -> bool:  # nobody told Redis yet: only `mine` knows it missed one
        return await answers(other, stored.key) is True

    await eventually(other_answers, within_s=20)

    async def mine_misses() -> bool:
        return await answers(mine, stored.key) is False

    await eventually(mine_misses, within_s=20)
    assert not mine.missed
    assert await other.get(stored.key) is None  # the floor is shared
    fresh = entry(generation=await other.generation())
    assert await other.put(fresh)
    assert await mine.get(fresh.key) is not None


async def test_an_entry_read_before_a_restart_that_lost_the_counter_is_refused(
    server: RedisServer, caches: tuple[RedisResponseCache, ...]
) -> None:
    """The generation counter is lost with the data; a read that took generation 3 before the
    restart and stores after it would otherwise outlive the next invalidations."""
    mine, _ = caches
    for _ in range(3):
        await mine.invalidate(drop("unrelated"), reason="test")
    before = await mine.generation()
    assert before == 3
    server.stop(save=False)
    server.start()

    async def back() -> bool:
        try:
            return await mine.generation() == 0
        except (RedisError, OSError):
            return False

    await eventually(back, within_s=20)
    assert not await mine.put(entry(generation=before))
    assert await mine.get(entry().key) is None
    assert await mine.put(entry(generation=0))
    await mine.invalidate(drop("model:a/b"), reason="after the restart")
    assert await mine.get(entry().key) is None
