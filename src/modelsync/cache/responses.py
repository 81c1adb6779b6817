"""Cached responses keyed by path and query, with tags: the read API's cache, and the pages'.

A route that wants its answer cached builds it through :meth:`ResponseCache.respond`::

    return await cache.respond(request, build)   # build() -> Fresh(body, tags, version)

``respond`` takes the backend's generation *before* ``build`` reads anything, stores the answer
(body, ETag and every header prebuilt once) under ``path?query``, and answers it (or a 304).
Every later request for the same path and query is answered by :meth:`ResponseCache.serve`
ahead of routing, without the database and without building a header: the web app calls it
first for every ``GET``/``HEAD`` under the prefixes registered with :meth:`ResponseCache.cache`
(``/api/models``, ``/api/changes``, ``/api/sync/``; the HTML pages register theirs and ``/``):
the JSON API and the pages share one backend (in-process or Redis), one manifest and one set of
tags, so every invalidation, purge and change event reaches both.

A request may ask for an answer of at least a catalog version (``X-Catalog-Min``: the pages'
live script sends the version of the change event it just received); an entry of an older
version is then passed over and the answer built again.

Headers of every cached answer: ``ETag`` (strong, a hash of the body; ``If-None-Match``
answers 304), ``Cache-Control`` (:class:`CachePolicy`), ``Surrogate-Key`` (tags, space-separated,
as Fastly reads them), ``Cache-Tag`` (comma-separated, as Cloudflare reads them) and
``X-Catalog-Version``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
import xxhash
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope, Send

from modelsync.cache.base import CacheBackend, CachedEntry
from modelsync.cache.lru import MemoryResponseCache
from modelsync.observability.metrics import cache_hit, cache_miss

log = structlog.get_logger("modelsync.cache")

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """What ``Cache-Control`` says (``MODELSYNC_CACHE__*``).

    ``max_age_s`` for browsers, ``s_maxage_s`` for shared caches (a CDN purged by tag can keep
    an answer long), ``stale_while_revalidate_s`` off (0) by default: a stale view is served
    only when an operator asks for it.
    """

    max_age_s: int = 0
    s_maxage_s: int | None = None
    stale_while_revalidate_s: int = 0
    public: bool = True

    def header(self) -> str:
        parts = ["public" if self.public else "private", f"max-age={self.max_age_s}"]
        if self.s_maxage_s is not None:
            parts.append(f"s-maxage={self.s_maxage_s}")
        if self.stale_while_revalidate_s > 0:
            parts.append(f"stale-while-revalidate={self.stale_while_revalidate_s}")
        if self.max_age_s == 0 and self.stale_while_revalidate_s == 0:
            parts.append("must-revalidate")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Fresh:
    """An answer a route has just built, to cache and send."""

    body: bytes
    tags: Iterable[str]
    catalog_version: int | None = None
    media_type: str = JSON
    ttl_s: float | None = None
    """A lifetime besides the tags, for answers that change with time (the status)."""
    extra_headers: tuple[tuple[str, str], ...] = field(default=())
    status: int = 200
    """Anything but 200 (a page's 400 or 404) is answered as built and never cached."""


Build = Callable[[], Awaitable[Fresh]]


def cache_key(scope: Scope) -> str:
    """``path`` or ``path?query`` (the raw query string, as the client sent it)."""
    query: bytes = scope.get("query_string", b"")
    path: str = scope["path"]
    return f"{path}?{query.decode('latin-1')}" if query else path


def etag_of(body: bytes) -> bytes:
    """A strong ETag: the quoted 64-bit hash of the body."""
    return b'"' + xxhash.xxh3_64_hexdigest(body).encode() + b'"'


def etag_matches(header: bytes, etag: bytes) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (weak comparison, ``*`` matches)."""
    if header.strip() == b"*":
        return True
    for item in header.split(b","):
        candidate = item.strip()
        if candidate.removeprefix(b"W/") == etag:
            return True
    return False


def min_version(raw: bytes | None) -> int:
    """The ``X-Catalog-Min`` a request sends (0 when absent or not a small number)."""
    if raw is None:
        return 0
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


def entry_version(entry: CachedEntry) -> int:
    """The ``X-Catalog-Version`` an entry was built at (0 when it has none)."""
    for name, value in entry.headers:
        if name == b"x-catalog-version":
            return int(value)
    return 0


class ResponseCache:
    """Tagged answers in a :class:`~modelsync.cache.base.CacheBackend`, sent with prebuilt
    headers; reusable by any route (JSON or HTML) through :meth:`respond`."""

    def __init__(
        self, backend: CacheBackend, policy: CachePolicy | None = None, *, enabled: bool = True
    ) -> None:
        self.backend = backend
        self.policy = policy or CachePolicy()
        self.enabled = enabled
        self._cache_control = self.policy.header().encode()
        self._prefixes: tuple[str, ...] = ()
        self._exact: frozenset[str] = frozenset()
        self.builds = 0
        """Answers built by :meth:`respond` (a miss, a version too old, or caching off)."""
        self._lookup = backend.lookup if isinstance(backend, MemoryResponseCache) else None

    def cache(self, *prefixes: str, exact: Iterable[str] = ()) -> None:
        """Serve ``GET``/``HEAD`` requests under these path prefixes (and at the ``exact``
        paths) from the cache first."""
        self._prefixes = tuple(dict.fromkeys((*self._prefixes, *prefixes)))
        self._exact = self._exact | frozenset(exact)

    def handles(self, scope: Scope) -> bool:
        """Whether :meth:`serve` looks this request up."""
        if not self.enabled or scope["method"] not in ("GET", "HEAD"):
            return False
        path: str = scope["path"]
        return path.startswith(self._prefixes) or path in self._exact

    async def serve(self, scope: Scope, send: Send) -> bool:
        """Answer a request from a fresh entry (200 or 304); ``False`` on a miss."""
        key = cache_key(scope)
        lookup = self._lookup
        if lookup is not None:
            entry = lookup(key)
        else:
            try:
                entry = await self.backend.get(key)
            except Exception:  # the backend away: answered from the database meanwhile
                log.warning("cache.get_failed", backend=self.backend.name, exc_info=True)
                cache_miss(self.backend.name)
                return False
        if entry is None:
            cache_miss(self.backend.name)
            return False
        condition, wanted = _conditions(scope)
        if wanted is not None and entry_version(entry) < min_version(wanted):
            cache_miss(self.backend.name)  # older than the event the client has seen
            return False
        cache_hit(self.backend.name)
        await _send(entry, scope["method"], condition, send)
        return True

    async def respond(self, request: Request, build: Build) -> Response:
        """Build the answer (after taking the generation), cache it, and answer it."""
        self.builds += 1
        if not self.enabled:
            return plain_response(await build())
        try:
            generation: int | None = await self.backend.generation()
        except Exception:  # the backend away: answer without caching
            log.warning("cache.generation_failed", backend=self.backend.name, exc_info=True)
            generation = None
        fresh = await build()
        if fresh.status != 200:
            return plain_response(fresh)
        entry = self.entry(request.scope, fresh, generation or 0)
        if generation is not None:
            try:
                await self.backend.put(entry)
            except Exception:  # the backend away: this answer is not cached
                log.warning("cache.put_failed", backend=self.backend.name, exc_info=True)
        return EntryResponse(entry)

    def entry(self, scope: Scope, fresh: Fresh, generation: int) -> CachedEntry:
        """The cache entry of an answer: its ETag and every header, built once."""
        tags = tuple(sorted(set(fresh.tags)))
        etag = etag_of(fresh.body)
        shared = [
            (b"etag", etag),
            (b"cache-control", self._cache_control),
            (b"surrogate-key", " ".join(tags).encode()),
            (b"cache-tag", ",".join(tags).encode()),
        ]
        if fresh.catalog_version is not None:
            shared.append((b"x-catalog-version", str(fresh.catalog_version).encode()))
        shared.extend(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in fresh.extra_headers
        )
        headers = (
            (b"content-type", fresh.media_type.encode("latin-1")),
            (b"content-length", str(len(fresh.body)).encode()),
            *shared,
        )
        return CachedEntry(
            key=cache_key(scope),
            path=scope["path"],
            body=fresh.body,
            etag=etag,
            headers=headers,
            not_modified=tuple(shared),
            tags=tags,
            generation=generation,
            ttl_s=fresh.ttl_s,
        )

    async def describe(self) -> dict[str, Any]:
        """The backend's counts and the policy, for the status answer."""
        described = await self.backend.describe()
        described["cache_control"] = self._cache_control.decode()
        described["enabled"] = self.enabled
        return described


def plain_response(fresh: Fresh) -> Response:
    """An answer sent as built, not cached (caching off, or not a 200)."""
    headers = dict(fresh.extra_headers)
    return Response(fresh.body, fresh.status, headers, media_type=fresh.media_type)


def _conditions(scope: Scope) -> tuple[bytes | None, bytes | None]:
    """``If-None-Match`` and ``X-Catalog-Min`` of a request, in one pass over its headers."""
    condition = wanted = None
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            condition = bytes(value)
        elif name == b"x-catalog-min":
            wanted = bytes(value)
    return condition, wanted


async def send_entry(entry: CachedEntry, scope: Scope, send: Send) -> None:
    """Send a cached entry: 304 when ``If-None-Match`` names its ETag, else 200 (HEAD: no body)."""
    await _send(entry, scope["method"], _conditions(scope)[0], send)


async def _send(entry: CachedEntry, method: str, condition: bytes | None, send: Send) -> None:
    if condition is not None and etag_matches(condition, entry.etag):
        await send({"type": "http.response.start", "status": 304, "headers": entry.not_modified})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
    body = b"" if method == "HEAD" else entry.body
    await send({"type": "http.response.body", "body": body})


class EntryResponse(Response):
    """A cached entry as a Starlette response (the miss path), with its conditional answer."""

    def __init__(self, entry: CachedEntry) -> None:
        super().__init__()
        self.entry = entry
        self.body = entry.body
        self.status_code = 200

    async def __call__(self, scope: Scope, receive: Any, send: Send) -> None:
        await send_entry(self.entry, scope, send)
