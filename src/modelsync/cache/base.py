"""The invalidation interface, documented once; the memory, Redis and purger backends implement it.

An :class:`Invalidator` receives an :class:`~modelsync.cache.tags.Invalidation` (tags and page
paths, from the pure rules of :mod:`modelsync.cache.tags`) and a short human ``reason``
(``"sync openrouter run 42"``, ``"webhook standard-webhooks msg_..."``). Rules every backend keeps:

* **Fast for the caller.** ``invalidate`` records the invalidation in the local manifest at once;
  anything slow (a CDN purge, a peer notification) is queued, batched and retried by the backend,
  never awaited in full by the caller that answers a request.
* **Never dropped silently.** A purge that fails is retried and the failure recorded.
* **Idempotent.** Invalidating a tag twice is harmless; only the latest time counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from modelsync.cache.tags import Invalidation


class Invalidator(Protocol):
    """Something that drops cached data by tag and path (a manifest, a purger, a fan-out)."""

    async def invalidate(self, invalidation: Invalidation, *, reason: str) -> None:
        """Invalidate every tag and path of ``invalidation``; ``reason`` is logged and kept."""
        ...


@dataclass(frozen=True, slots=True)
class InvalidationRecord:
    """One invalidation as applied: when, why, and what."""

    at: datetime
    reason: str
    invalidation: Invalidation

    def to_json(self, *, max_items: int = 50) -> dict[str, Any]:
        """The record for a status answer; long tag and path lists are cut at ``max_items``."""
        tags = sorted(self.invalidation.tags)
        paths = sorted(self.invalidation.paths)
        return {
            "at": self.at.isoformat(),
            "reason": self.reason,
            "tag_count": len(tags),
            "path_count": len(paths),
            "tags": tags[:max_items],
            "paths": paths[:max_items],
        }


@dataclass(frozen=True, slots=True)
class CachedEntry:
    """One cached answer, ready to send: body, prebuilt headers, and what makes it stale.

    ``generation`` is the backend's :meth:`CacheBackend.generation` taken *before* the data was
    read; the entry is stale once any of ``tags`` (or ``path``) is invalidated with a later one.
    ``headers`` are the 200 answer's, lower-case latin-1 byte pairs (``content-length`` last
    but one is not assumed: the cache adds it); ``not_modified`` the 304 answer's.
    """

    key: str
    path: str
    body: bytes
    etag: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    not_modified: tuple[tuple[bytes, bytes], ...]
    tags: tuple[str, ...]
    generation: int
    ttl_s: float | None = None
    """A lifetime besides the tags (``None``: until invalidated or evicted)."""
    expires_at: float | None = None
    """The monotonic deadline from ``ttl_s``, set by a backend that keeps entries in memory."""

    @property
    def size(self) -> int:
        """Bytes this entry holds, roughly: body, headers and tags (what an LRU bounds)."""
        headers = sum(len(name) + len(value) for name, value in self.headers)
        return len(self.body) + 2 * headers + sum(len(tag) for tag in self.tags) + 200


class CacheBackend(Protocol):
    """Where cached answers and the tag manifest live; one contract suite runs against each
    (``tests/cache/test_backend_contract.py``): in-process (:mod:`modelsync.cache.lru`, the
    default) and Redis (:mod:`modelsync.cache.redis`, shared by every process).

    The rules every backend keeps:

    * :meth:`generation` is taken before the data of an entry is read; :meth:`put` stores the
      entry unless one of its tags was invalidated after that generation (the read raced an
      invalidation: its result is already stale) and never replaces a newer entry of the key.
    * :meth:`get` answers an entry only while none of its tags (nor its path) was invalidated
      after the entry's generation, and its ``ttl_s`` has not run out. After
      :meth:`invalidate` returns, no ``get`` anywhere answers an entry it covers.
    * Bounded: the in-process backend evicts the least recently used entries past its byte
      limit; Redis entries expire after the configured lifetime.
    """

    name: str

    async def generation(self) -> int:
        """The generation of the latest invalidation: take it before reading the data."""
        ...

    async def get(self, key: str) -> CachedEntry | None:
        """The fresh entry stored under ``key``, or ``None`` (missing, stale or expired)."""
        ...

    async def put(self, entry: CachedEntry) -> bool:
        """Store ``entry`` unless it is already stale; whether it was stored."""
        ...

    async def invalidate(self, invalidation: Invalidation, *, reason: str) -> None:
        """Mark the tags and paths invalidated: every entry they cover is stale from now on."""
        ...

    async def describe(self) -> dict[str, Any]:
        """Counts for the status answer (entries, bytes, hits, misses, invalidations)."""
        ...

    async def aclose(self) -> None:
        """Release connections (the in-process backend has none)."""
        ...
