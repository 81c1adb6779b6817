"""A cached page answered ahead of routing: the hot path of a page view.

:class:`~modelsync.web.app.ModelsyncAPI` hands every HTTP request here first. A ``GET`` of a page
whose fresh render is in the page cache is answered from it, 200 or 304, with the headers built
when it was rendered: no routing, no dependency, no header built per request. Anything else (a
miss, another method or path) goes on to the routes, which render and cache.
"""

from __future__ import annotations

from starlette.types import Scope, Send

from modelsync.pages.cache import PageCache

PREFIXES = ("/models", "/gateways/", "/changes", "/rankings", "/status")


def is_page(path: str) -> bool:
    return path == "/" or path.startswith(PREFIXES)


def page_key(scope: Scope) -> str:
    """``path`` or ``path?query`` (the raw query string): one cache entry per URL."""
    query: bytes = scope.get("query_string", b"")
    path: str = scope["path"]
    return f"{path}?{query.decode('latin-1')}" if query else path


def min_version(raw: bytes | str | None) -> int:
    """The ``X-Catalog-Min`` a live refresh sends (0 when absent or not a small number)."""
    if raw is None:
        return 0
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    return int(text) if text.isdigit() and len(text) < 19 else 0


async def serve_cached(cache: PageCache, scope: Scope, send: Send) -> bool:
    """Answer a page from the cache; ``False`` when the routes must render it."""
    if scope["method"] != "GET" or not is_page(scope["path"]):
        return False
    match: bytes | None = None
    wanted: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            match = value
        elif name == b"x-catalog-min":
            wanted = value
    page = cache.get(page_key(scope), min_version=min_version(wanted), count_miss=False)
    if page is None:
        return False
    if match is not None and match.decode("latin-1") == page.etag:
        await send({"type": "http.response.start", "status": 304, "headers": page.not_modified})
        await send({"type": "http.response.body", "body": b""})
        return True
    await send({"type": "http.response.start", "status": 200, "headers": page.headers})
    await send({"type": "http.response.body", "body": page.body})
    return True
