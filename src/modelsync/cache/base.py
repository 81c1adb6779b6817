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
