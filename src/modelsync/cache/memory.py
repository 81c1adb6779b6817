"""The in-process tag manifest: Next.js's design, ``tag -> invalidated_at``, checked on read.

A cached entry remembers its tags and when it was stored; it is stale when any of its tags (or
its page path) was invalidated at or after that moment. There are no key lists to keep
consistent: invalidating costs O(1) per tag, and so does checking. Times come from the injected
clock. The manifest keeps a log of recent invalidations for the status API and tests, bounded in
records and in the tags and paths they hold (one sync can invalidate thousands of models).

**Bounded.** A tag invalidated before the oldest entry that can still be cached stales nothing,
so it is forgotten: no entry lives longer than ``retain_s`` (the caches' longest lifetime), and
invalidations older than that are dropped as new ones arrive. Past ``max_tags`` tags and paths,
the oldest are dropped too, and the manifest's *floor* moves up to their time: every entry
stored at or before the floor counts as stale, which is exactly what the dropped tags could
have said (and possibly more: an early miss, never a stale hit).

**Generations.** Besides its time, every invalidation takes the next *generation* (a counter
of this manifest). A response cache asks for the current generation (:meth:`generation`)
*before* it reads the data it will store, and stores the entry with it; the entry is stale when
any of its tags (or its path) was marked with a later generation (:meth:`is_stale_since`). This
closes the race of a read that started before an invalidation and stores its result after it
(its generation is older than the invalidation's), and it needs no clock: entries stored in the
same instant as an invalidation, on a frozen clock, are judged exactly.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from modelsync.cache.base import InvalidationRecord
from modelsync.cache.tags import Invalidation
from modelsync.clock import Clock


class MemoryTagManifest:
    """A tag manifest in this process's memory; an :class:`~modelsync.cache.base.Invalidator`.

    Staleness is inclusive (``invalidated_at >= stored_at``): an entry stored in the same instant
    as an invalidation may hold the data from before it, so it is recomputed rather than trusted.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        log_size: int = 100,
        log_items: int = 50_000,
        retain_s: float = 24 * 60 * 60,
        max_tags: int = 200_000,
    ) -> None:
        self._clock = clock
        # both ordered oldest invalidation first: a re-invalidated key moves to the end
        self._tags: OrderedDict[str, datetime] = OrderedDict()
        self._paths: OrderedDict[str, datetime] = OrderedDict()
        self._retain = timedelta(seconds=retain_s)
        self._max_tags = max_tags
        self._floor: datetime | None = None
        self._generation = 0
        self._tag_gens: dict[str, int] = {}
        self._path_gens: dict[str, int] = {}
        self._floor_generation = 0
        self._log: deque[InvalidationRecord] = deque()
        self._log_size = log_size
        self._log_items = log_items
        self._logged_items = 0
        self._count = 0

    async def invalidate(self, invalidation: Invalidation, *, reason: str) -> None:
        """Mark every tag and path of ``invalidation`` invalidated now."""
        self.apply(invalidation, reason=reason)

    def apply(self, invalidation: Invalidation, *, reason: str) -> InvalidationRecord:
        """The synchronous core of :meth:`invalidate`; returns the logged record."""
        now = self._clock.now()
        self._generation += 1
        generation = self._generation
        for marks, gens, keys in (
            (self._tags, self._tag_gens, invalidation.tags),
            (self._paths, self._path_gens, invalidation.paths),
        ):
            for key in keys:
                marks[key] = now
                marks.move_to_end(key)
                gens[key] = generation
        self._forget(now)
        record = InvalidationRecord(now, reason, invalidation)
        self._count += 1
        self._log.append(record)
        self._logged_items += _size(record)
        while len(self._log) > 1 and (
            len(self._log) > self._log_size or self._logged_items > self._log_items
        ):
            self._logged_items -= _size(self._log.popleft())
        return record

    def _forget(self, now: datetime) -> None:
        """Drop what no cached entry can need, then the oldest past ``max_tags`` (the floor)."""
        horizon = now - self._retain
        for marks, gens in ((self._tags, self._tag_gens), (self._paths, self._path_gens)):
            while marks and _oldest(marks) < horizon:
                key, _ = marks.popitem(last=False)
                self._floor_generation = max(self._floor_generation, gens.pop(key))
        while len(self._tags) + len(self._paths) > self._max_tags:
            marks, gens = self._tags, self._tag_gens
            if not marks or (self._paths and _oldest(self._paths) < _oldest(marks)):
                marks, gens = self._paths, self._path_gens
            key, at = marks.popitem(last=False)
            self._floor = at if self._floor is None else max(self._floor, at)
            self._floor_generation = max(self._floor_generation, gens.pop(key))

    def invalidated_at(self, tag: str) -> datetime | None:
        """When ``tag`` was last invalidated, if ever."""
        return self._tags.get(tag)

    def path_invalidated_at(self, path: str) -> datetime | None:
        """When the page ``path`` was last invalidated, if ever."""
        return self._paths.get(path)

    def is_stale(
        self, tags: Iterable[str], stored_at: datetime, *, path: str | None = None
    ) -> bool:
        """Whether an entry stored at ``stored_at`` with these tags (and path) must be dropped."""
        if self._floor is not None and stored_at <= self._floor:
            return True
        seen = self._tags.get
        for tag in tags:
            at = seen(tag)
            if at is not None and at >= stored_at:
                return True
        if path is not None:
            at = self._paths.get(path)
            return at is not None and at >= stored_at
        return False

    @property
    def generation(self) -> int:
        """The generation of the latest invalidation (0 before any): take it before a read."""
        return self._generation

    def is_stale_since(
        self, tags: Iterable[str], generation: int, *, path: str | None = None
    ) -> bool:
        """Whether data read at ``generation`` with these tags (and path) must be dropped:
        some tag (or the path) was invalidated later, or forgotten past the floor."""
        if self._floor_generation > generation:
            return True
        seen = self._tag_gens.get
        for tag in tags:
            mark = seen(tag)
            if mark is not None and mark > generation:
                return True
        if path is not None:
            mark = self._path_gens.get(path)
            return mark is not None and mark > generation
        return False

    def recent(self, limit: int | None = None) -> list[InvalidationRecord]:
        """The logged invalidations, newest first (at most ``limit``)."""
        records = list(reversed(self._log))
        return records if limit is None else records[:limit]

    def describe(self, *, recent: int = 10) -> dict[str, Any]:
        """Counts and the latest invalidations, for a status answer."""
        return {
            "backend": "memory",
            "tags": len(self._tags),
            "paths": len(self._paths),
            "floor": self._floor.isoformat() if self._floor else None,
            "invalidations": self._count,
            "recent": [record.to_json() for record in self.recent(recent)],
        }


def _oldest(marks: OrderedDict[str, datetime]) -> datetime:
    return marks[next(iter(marks))]


def _size(record: InvalidationRecord) -> int:
    return len(record.invalidation.tags) + len(record.invalidation.paths)
