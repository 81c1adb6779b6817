"""One entry point for every invalidation of a process: the response cache, the log, the purgers.

Whatever invalidates (a sync run, a health change, a webhook, ``POST /api/cache/invalidate``,
``modelsync invalidate``, the change-log tail) calls :meth:`Invalidations.apply`, which

1. marks the tags and paths in this process's manifest (its log is what the status shows),
2. marks them in the response cache's backend when that is another one (Redis: every process
   sharing it sees the invalidation when ``apply`` returns),
3. offers them to every registered purger (Next.js, Fastly, Cloudflare, webhooks out), each of
   which only *queues* them (it must return at once: a purge never delays a sync or a request),

and reports what it did: the tags and paths, when, and which purgers queued them.

Purgers register with :meth:`Invalidations.add_purger` (``enqueue(invalidation, reason) ->
bool``, ``True`` when queued); the web app's services expose the hub as
``services.invalidations``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from modelsync.cache.base import CacheBackend
from modelsync.cache.memory import MemoryTagManifest
from modelsync.cache.tags import Invalidation
from modelsync.observability.metrics import cache_invalidation

log = structlog.get_logger("modelsync.cache")

Enqueue = Callable[[Invalidation, str], bool]
"""A purger's entry point: queue the invalidation (never wait for the purge); whether queued."""


@dataclass(frozen=True, slots=True)
class InvalidationReport:
    """What one invalidation did."""

    invalidation: Invalidation
    reason: str
    at: datetime
    purgers: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"invalidated": {"tags", "paths"}, "at", "reason", "purgers"}``."""
        return {
            "invalidated": self.invalidation.to_json(),
            "at": self.at.isoformat(),
            "reason": self.reason,
            "purgers": list(self.purgers),
        }


class Invalidations:
    """The process's invalidation hub; an :class:`~modelsync.cache.base.Invalidator`."""

    def __init__(self, manifest: MemoryTagManifest, backend: CacheBackend | None = None) -> None:
        self.manifest = manifest
        shares = getattr(backend, "manifest", None) is manifest
        self._backend = None if shares else backend
        self._purgers: dict[str, Enqueue] = {}

    def add_purger(self, name: str, enqueue: Enqueue) -> None:
        """Offer every invalidation to ``enqueue`` (replacing a purger of the same name)."""
        self._purgers[name] = enqueue

    @property
    def purgers(self) -> list[str]:
        """The registered purgers' names."""
        return list(self._purgers)

    async def invalidate(self, invalidation: Invalidation, *, reason: str) -> None:
        """:meth:`apply`, for callers that need no report."""
        await self.apply(invalidation, reason=reason)

    async def apply(
        self, invalidation: Invalidation, *, reason: str, purge: bool = True
    ) -> InvalidationReport:
        """Invalidate everywhere this process can, and say what was done. ``purge=False``:
        this process's caches only (the change log's runs reach the purgers once per fleet,
        through :meth:`purge`, by whichever process claims them)."""
        record = self.manifest.apply(invalidation, reason=reason)
        if invalidation.is_empty:
            return InvalidationReport(invalidation, reason, record.at, ())
        where = self._backend.name if self._backend is not None else "local"
        cache_invalidation(where, len(invalidation.tags) + len(invalidation.paths))
        if self._backend is not None:
            try:
                await self._backend.invalidate(invalidation, reason=reason)
            except Exception:  # Redis away: it stales what it missed once back; purge anyway
                log.warning("cache.backend_invalidate_failed", reason=reason, exc_info=True)
        queued = self.purge(invalidation, reason=reason) if purge else ()
        return InvalidationReport(invalidation, reason, record.at, queued)

    def purge(self, invalidation: Invalidation, *, reason: str) -> tuple[str, ...]:
        """Offer ``invalidation`` to the purgers only (they queue it); the names that did."""
        if invalidation.is_empty:
            return ()
        queued: list[str] = []
        for name, enqueue in self._purgers.items():
            try:
                if enqueue(invalidation, reason):
                    queued.append(name)
            except Exception:  # a purger's bug never stops an invalidation
                log.exception("cache.purger_enqueue_failed", purger=name, reason=reason)
        return tuple(queued)
