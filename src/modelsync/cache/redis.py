"""The Redis response cache (``MODELSYNC_REDIS_URL``): entries and the tag manifest in Redis, so
every process that shares the server shares the cache and sees every invalidation at once.

Keys, under a prefix of their own (``modelsync:cache`` unless configured; tests use a uuid):

======================  =================================================================
``{p}:gen``             the generation counter (INCR per invalidation)
``{p}:marks``           hash ``t:{tag}`` / ``p:{path}`` -> the generation that invalidated it
``{p}:order``           sorted set of the same fields by generation (to bound the manifest)
``{p}:floor``           entries read before this generation are stale (forgotten marks)
``{p}:log``             the latest invalidations as JSON, newest first
``{p}:e:{key}``         an entry: hash of ``g`` generation, ``t`` fields, ``b`` body, ``m`` meta
======================  =================================================================

A generation above the server's counter is from before a restart that lost the counter: such
an entry is neither stored nor answered. An invalidation that could not reach Redis (down,
restarting) is not lost: the cache remembers it and, before anything else it asks Redis, raises
the floor past every entry stored so far (:meth:`RedisResponseCache.recover`), so no process
that missed one answers an entry older than it once Redis is back.

Each operation is one Lua script, so a check and its answer are atomic: an entry is answered
only while no mark of its fields is newer than its generation, an invalidation marks all its
fields (in chunks of :data:`CHUNK`, each chunk a generation of its own, every one after the
data changed) before it returns. Entries expire after ``ttl_s``; past ``max_marks`` marks the
oldest are forgotten and the floor rises to them (an early miss, never a stale hit).
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from modelsync.cache.base import CachedEntry
from modelsync.cache.tags import Invalidation
from modelsync.clock import Clock

log = structlog.get_logger("modelsync.cache")

SEPARATOR = "\x1f"
"""Between an entry's fields (a decoded path may hold a space, never this after validation)."""
CHUNK = 2_000
"""Fields marked by one invalidation script call (a sync can invalidate 100,000 models)."""

_GET = r"""
local e = redis.call('HMGET', KEYS[1], 'g', 't', 'b', 'm')
if not e[1] then return false end
local g = tonumber(e[1])
local floor = tonumber(redis.call('GET', KEYS[3]) or '0')
if floor > g then redis.call('DEL', KEYS[1]) return false end
if g > tonumber(redis.call('GET', KEYS[4]) or '0') then redis.call('DEL', KEYS[1]) return false end
for f in string.gmatch(e[2], '[^\031]+') do
  local m = redis.call('HGET', KEYS[2], f)
  if m and tonumber(m) > g then redis.call('DEL', KEYS[1]) return false end
end
return {e[3], e[4]}
"""

_PUT = r"""
local g = tonumber(ARGV[1])
local floor = tonumber(redis.call('GET', KEYS[3]) or '0')
if floor > g then return 0 end
if g > tonumber(redis.call('GET', KEYS[4]) or '0') then return 0 end
for f in string.gmatch(ARGV[2], '[^\031]+') do
  local m = redis.call('HGET', KEYS[2], f)
  if m and tonumber(m) > g then return 0 end
end
local current = redis.call('HGET', KEYS[1], 'g')
if current and tonumber(current) > g then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'g', ARGV[1], 't', ARGV[2], 'b', ARGV[3], 'm', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

_INVALIDATE = r"""
local g = redis.call('INCR', KEYS[1])
for i = 2, #ARGV do
  redis.call('HSET', KEYS[2], ARGV[i], g)
  redis.call('ZADD', KEYS[3], g, ARGV[i])
end
local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[1])
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[3], over)
  local top = 0
  for i = 1, #popped, 2 do
    redis.call('HDEL', KEYS[2], popped[i])
    top = math.max(top, tonumber(popped[i + 1]))
  end
  if top > tonumber(redis.call('GET', KEYS[4]) or '0') then redis.call('SET', KEYS[4], top) end
end
return g
"""


_RAISE_FLOOR = r"""
local g = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], g)
return g
"""
"""Every entry read before now is stale (after invalidations this process could not send)."""


def _fields(tags: tuple[str, ...] | frozenset[str], path: str | None) -> list[str]:
    fields = ["t:" + tag for tag in tags]
    if path is not None:
        fields.append("p:" + path)
    return fields


class RedisResponseCache:
    """A :class:`~modelsync.cache.base.CacheBackend` in Redis, shared by every process."""

    name = "redis"

    def __init__(
        self,
        client: aioredis.Redis,
        clock: Clock,
        *,
        prefix: str = "modelsync:cache",
        ttl_s: float = 24 * 60 * 60,
        max_marks: int = 200_000,
        log_size: int = 100,
    ) -> None:
        self._redis = client
        self._clock = clock
        self.prefix = prefix
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._max_marks = max_marks
        self._log_size = log_size
        self._gen, self._marks = f"{prefix}:gen", f"{prefix}:marks"
        self._order, self._floor, self._log = f"{prefix}:order", f"{prefix}:floor", f"{prefix}:log"
        self._get = client.register_script(_GET)
        self._put = client.register_script(_PUT)
        self._invalidate = client.register_script(_INVALIDATE)
        self._raise_floor = client.register_script(_RAISE_FLOOR)
        self.hits = self.misses = self.stores = self.refused = 0
        self.missed = False
        """An invalidation could not be sent: the floor is raised before the next operation."""

    @classmethod
    def from_url(cls, url: str, clock: Clock, **options: Any) -> RedisResponseCache:
        """A cache on a new connection pool to ``url``."""
        return cls(aioredis.Redis.from_url(url, socket_timeout=5.0), clock, **options)

    def _entry_key(self, key: str) -> str:
        return f"{self.prefix}:e:{key}"

    async def recover(self) -> None:
        """After a missed invalidation: make every entry stored so far stale (raises while
        Redis is still away; the caller answers from the database meanwhile)."""
        if self.missed:
            await self._raise_floor(keys=[self._gen, self._floor])
            self.missed = False
            log.info("cache.redis_recovered", prefix=self.prefix)

    async def generation(self) -> int:
        await self.recover()
        value = await self._redis.get(self._gen)
        return int(value) if value is not None else 0

    async def get(self, key: str) -> CachedEntry | None:
        await self.recover()
        keys = [self._entry_key(key), self._marks, self._floor, self._gen]
        found = await self._get(keys=keys)
        if not found:
            self.misses += 1
            return None
        body, meta = found
        document = orjson.loads(meta)
        self.hits += 1
        return CachedEntry(
            key=key,
            path=document["path"],
            body=bytes(body),
            etag=document["etag"].encode("latin-1"),
            headers=tuple((n.encode("latin-1"), v.encode("latin-1")) for n, v in document["h"]),
            not_modified=tuple(
                (n.encode("latin-1"), v.encode("latin-1")) for n, v in document["n"]
            ),
            tags=tuple(document["tags"]),
            generation=int(document["g"]),
            ttl_s=document.get("ttl"),
        )

    async def put(self, entry: CachedEntry) -> bool:
        meta = orjson.dumps(
            {
                "path": entry.path,
                "etag": entry.etag.decode("latin-1"),
                "h": [(n.decode("latin-1"), v.decode("latin-1")) for n, v in entry.headers],
                "n": [(n.decode("latin-1"), v.decode("latin-1")) for n, v in entry.not_modified],
                "tags": list(entry.tags),
                "g": entry.generation,
                "ttl": entry.ttl_s,
            }
        )
        ttl_ms = self._ttl_ms
        if entry.ttl_s is not None:
            ttl_ms = min(ttl_ms, max(1, int(entry.ttl_s * 1000)))
        await self.recover()
        stored = await self._put(
            keys=[self._entry_key(entry.key), self._marks, self._floor, self._gen],
            args=[
                entry.generation,
                SEPARATOR.join(_fields(entry.tags, entry.path)),
                entry.body,
                meta,
                ttl_ms,
            ],
        )
        if stored:
            self.stores += 1
        else:
            self.refused += 1
        return bool(stored)

    async def invalidate(self, invalidation: Invalidation, *, reason: str) -> None:
        fields = _fields(invalidation.tags, None)
        fields.extend("p:" + path for path in invalidation.paths)
        keys = [self._gen, self._marks, self._order, self._floor]
        try:
            for start in range(0, max(len(fields), 1), CHUNK):
                chunk = fields[start : start + CHUNK]
                await self._invalidate(keys=keys, args=[self._max_marks, *chunk])
        except (RedisError, OSError):
            self.missed = True  # never lost: the floor rises before the next operation
            raise
        record = {
            "at": self._clock.now().isoformat(),
            "reason": reason,
            "tag_count": len(invalidation.tags),
            "path_count": len(invalidation.paths),
        }
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.lpush(self._log, orjson.dumps(record))
            pipe.ltrim(self._log, 0, self._log_size - 1)
            await pipe.execute()

    async def describe(self) -> dict[str, Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._gen)
            pipe.zcard(self._order)
            pipe.lrange(self._log, 0, 9)
            generation, marks, recent = await pipe.execute()
        return {
            "backend": self.name,
            "prefix": self.prefix,
            "generation": int(generation or 0),
            "marks": marks,
            "hits": self.hits,
            "misses": self.misses,
            "stores": self.stores,
            "refused": self.refused,
            "recent": [orjson.loads(item) for item in recent],
        }

    async def drop_all(self) -> int:
        """Delete every key under this cache's prefix (tests; never the whole database)."""
        deleted = 0
        async for key in self._redis.scan_iter(match=f"{self.prefix}:*", count=500):
            deleted += await self._redis.delete(key)
        return deleted

    async def aclose(self) -> None:
        await self._redis.aclose()
