"""Rendered pages by URL, checked against the tag manifest on every read.

An entry keeps its body, ETag, tags, the time its render started and the catalog version read
before it. It is served while none of its tags nor its path was invalidated at or after that
start (:meth:`MemoryTagManifest.is_stale`), it is younger than its page's ``max_age_s`` (pages
that show the scheduler's state, which changes without a catalog change), and its catalog
version is at least the one the caller asks for (the live script asks for the version of the
change event it just received, so an event never fetches the page from before it). Bounded:
the least recently used entries go first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from modelsync.cache.memory import MemoryTagManifest
from modelsync.clock import Clock


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered page and what makes it stale."""

    body: bytes
    etag: str
    tags: tuple[str, ...]
    path: str
    stored_at: datetime
    catalog_version: int
    max_age_s: float
    headers: tuple[tuple[bytes, bytes], ...] = ()
    """Every header of the 200 answer, built once (content type and length included)."""
    not_modified: tuple[tuple[bytes, bytes], ...] = ()
    """The headers of its 304."""


class PageCache:
    """Rendered pages in this process's memory, ``max_entries`` at most."""

    def __init__(
        self, manifest: MemoryTagManifest, clock: Clock, *, max_entries: int = 2000
    ) -> None:
        self._manifest = manifest
        self._clock = clock
        self._pages: OrderedDict[str, Page] = OrderedDict()
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: str, *, min_version: int = 0, count_miss: bool = True) -> Page | None:
        """The fresh page stored under ``key``, if any (a miss is counted unless the caller
        passes it on to one that counts it)."""
        page = self._pages.get(key)
        if page is None or not self._fresh(page, min_version):
            self.misses += count_miss
            return None
        self._pages.move_to_end(key)
        self.hits += 1
        return page

    def _fresh(self, page: Page, min_version: int) -> bool:
        if page.catalog_version < min_version:
            return False
        if (self._clock.now() - page.stored_at).total_seconds() > page.max_age_s:
            return False
        return not self._manifest.is_stale(page.tags, page.stored_at, path=page.path)

    def put(self, key: str, page: Page) -> None:
        self._pages[key] = page
        self._pages.move_to_end(key)
        while len(self._pages) > self._max:
            self._pages.popitem(last=False)

    def __len__(self) -> int:
        return len(self._pages)
