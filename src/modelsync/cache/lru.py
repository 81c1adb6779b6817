"""The in-process response cache (the default backend): an LRU bounded in bytes, checked against
this process's :class:`~modelsync.cache.memory.MemoryTagManifest` on every read.

Everything here is synchronous under the hood (one event loop, no awaits between a check and
its answer), so a read never sees half an invalidation. The :class:`CacheBackend` methods are
coroutines only to share the interface with Redis; :meth:`MemoryResponseCache.lookup` is the
synchronous hit path the web layer's fast path calls.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any

from modelsync.cache.base import CachedEntry
from modelsync.cache.memory import MemoryTagManifest
from modelsync.cache.tags import Invalidation
from modelsync.clock import Clock

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class MemoryResponseCache:
    """A :class:`~modelsync.cache.base.CacheBackend` in this process's memory."""

    name = "memory"

    def __init__(
        self,
        clock: Clock,
        *,
        manifest: MemoryTagManifest | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._clock = clock
        self.manifest = manifest or MemoryTagManifest(clock)
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, CachedEntry] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = self.stores = self.refused = self.evictions = 0

    async def generation(self) -> int:
        return self.manifest.generation

    def lookup(self, key: str) -> CachedEntry | None:
        """The synchronous core of :meth:`get`."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        expires = entry.expires_at
        if (expires is not None and self._clock.monotonic() >= expires) or (
            self.manifest.is_stale_since(entry.tags, entry.generation, path=entry.path)
        ):
            self._drop(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    async def get(self, key: str) -> CachedEntry | None:
        return self.lookup(key)

    def store(self, entry: CachedEntry) -> bool:
        """The synchronous core of :meth:`put`."""
        if self.manifest.is_stale_since(entry.tags, entry.generation, path=entry.path):
            self.refused += 1
            return False
        size = entry.size
        if size > self._max_bytes:
            self.refused += 1
            return False
        current = self._entries.get(entry.key)
        if current is not None:
            if current.generation > entry.generation:
                self.refused += 1
                return False
            self._drop(entry.key)
        if entry.ttl_s is not None:
            entry = dataclasses.replace(entry, expires_at=self._clock.monotonic() + entry.ttl_s)
        self._entries[entry.key] = entry
        self._bytes += size
        self.stores += 1
        while self._bytes > self._max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.evictions += 1
        return True

    async def put(self, entry: CachedEntry) -> bool:
        return self.store(entry)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size

    async def invalidate(self, invalidation: Invalidation, *, reason: str) -> None:
        self.manifest.apply(invalidation, reason=reason)

    async def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "entries": len(self._entries),
            "bytes": self._bytes,
            "max_bytes": self._max_bytes,
            "hits": self.hits,
            "misses": self.misses,
            "stores": self.stores,
            "refused": self.refused,
            "evictions": self.evictions,
            "generation": self.manifest.generation,
        }

    async def aclose(self) -> None:
        self._entries.clear()
        self._bytes = 0
