"""The page routes: ``/``, ``/models``, ``/models/{id}``, ``/gateways/{g}``, ``/changes``,
``/rankings``, ``/status`` and their two static files.

Every page is rendered by Jinja2 (autoescaped: upstream names are text, never markup), cached
by URL in the service's shared response cache (:mod:`modelsync.cache.responses`: the JSON API's
backend, in-process or Redis) with the tags of DESIGN section 7, and answered with ``ETag``
(``304`` on ``If-None-Match``), ``Cache-Control``, ``Surrogate-Key``, ``Cache-Tag`` and
``X-Catalog-Version``; invalidated by tag and by path. A bad query string is a 400 page of one
line; an unknown model or gateway a 404 page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from modelsync.cache.responses import Fresh
from modelsync.cache.tags import MODELS_ALL, MODELS_SEARCH, RANKINGS, gateway_tag, model_tag
from modelsync.pages import format as fmt
from modelsync.pages.charts import sparkline
from modelsync.pages.reads import DAY, WEEK, ModelFilters, PageReads
from modelsync.pages.views import cheapest, largest_moves, price_moves
from modelsync.store.page_queries import Sort
from modelsync.sync.health import gateway_health
from modelsync.web.deps import services_of
from modelsync.web.services import Services

HERE = Path(__file__).parent
STATIC = {name: (HERE / "static" / name).read_bytes() for name in ("site.css", "live.js")}
STATIC_TYPES = {"site.css": "text/css; charset=utf-8", "live.js": "text/javascript; charset=utf-8"}
STATIC_VERSION = {name: hashlib.sha256(body).hexdigest()[:12] for name, body in STATIC.items()}
MAX_AGE_S = {"status": 2.0, "overview": 5.0, "default": 3600.0}
"""How long a rendered page may be served without an invalidation: pages that show the
scheduler's state (which changes without a catalog change) live seconds."""
MAX_TEXT = 200
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HTML = "text/html; charset=utf-8"
PAGE_HEADERS = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("vary", "x-catalog-min"),
)
"""Sent with every page besides the cache's own headers (built once per render)."""
PREFIXES = ("/models", "/gateways/", "/changes", "/rankings", "/status")
"""The pages' paths (and ``/``), answered from the response cache ahead of routing."""

router = APIRouter(include_in_schema=False)


def static_url(name: str) -> str:
    return f"/static/{name}?v={STATIC_VERSION[name]}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        price=fmt.price,
        tokens=fmt.tokens,
        exact=fmt.exact,
        rel=fmt.relative,
        duration=fmt.duration,
        interval=fmt.interval,
    )
    env.globals.update(static=static_url, nav=NAV)
    return env


NAV = (
    ("/", "Overview"),
    ("/models", "Models"),
    ("/changes", "Changes"),
    ("/rankings", "Rankings"),
    ("/status", "Status"),
)
ENV = _environment()


class BadRequest(Exception):
    """A query string a page cannot take: answered 400 with its one-line message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Rendered:
    """What a page handler produces: template, context, tags; ``status`` for an error page."""

    template: str
    context: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    status: int = 200


PageBuilder = Callable[[Services, PageReads, datetime], Awaitable[Rendered]]


def page_reads(request: Request, services: Services) -> PageReads:
    reads: PageReads | None = getattr(request.app.state, "page_reads", None)
    if reads is None or getattr(request.app.state, "page_reads_of", None) is not services:
        reads = PageReads(services.runtime.store)
        request.app.state.page_reads = reads
        request.app.state.page_reads_of = services
    return reads


async def serve(request: Request, kind: str, build: PageBuilder) -> Response:
    """The page at this URL, rendered and stored in the shared response cache (a 200 only);
    the web app answers the next request for it from there, ahead of routing
    (:meth:`~modelsync.cache.responses.ResponseCache.serve`), until an invalidation covers one
    of its tags or its path, its lifetime ends, or the live script asks for a newer version."""
    services = services_of(request)
    path = request.scope["path"]

    async def render() -> Fresh:
        started = services.clock.now()
        version = await services.runtime.store.catalog_version()
        try:
            rendered = await build(services, page_reads(request, services), started)
        except BadRequest as exc:
            said = {"title": "Cannot show this page", "message": str(exc)}
            rendered = Rendered("error.html", said, status=exc.status)
        context = {"now": started, "catalog_version": version, "path": path, **rendered.context}
        return Fresh(
            ENV.get_template(rendered.template).render(context).encode(),
            rendered.tags,
            version,
            media_type=HTML,
            ttl_s=MAX_AGE_S.get(kind, MAX_AGE_S["default"]),
            extra_headers=PAGE_HEADERS,
            status=rendered.status,
        )

    return await services.cache.respond(request, render)


# -- query strings -----------------------------------------------------------------------------


def text_param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    if len(value) > MAX_TEXT or any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise BadRequest(f"{name}: at most {MAX_TEXT} printable characters; shorten it")
    return value


def int_param(
    request: Request, name: str, default: int | None, *, low: int, high: int
) -> int | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(f"{name}: a whole number from {low} to {high}; fix the link")
    return int(raw)


def gateway_param(services: Services, name: str | None) -> str | None:
    if name is None:
        return None
    if name not in services.runtime.gateways:
        known = ", ".join(sorted(services.runtime.gateways))
        raise BadRequest(f"unknown gateway {name!r}; choose one of: {known}", status=404)
    return name


def all_gateway_tags(services: Services) -> list[str]:
    return [gateway_tag(name) for name in sorted(services.runtime.gateways)]


def query_link(base: str, params: dict[str, Any]) -> str:
    kept = {key: value for key, value in params.items() if value not in (None, "", 1)}
    return base + ("?" + urlencode(kept) if kept else "")


# -- pages -------------------------------------------------------------------------------------


async def _statuses(services: Services) -> list[dict[str, Any]]:
    statuses = await services.runtime.store.gateway_statuses()
    failing_after = services.settings.scheduler.breaker_threshold
    running = set(services.scheduler.running())
    return [
        {
            "g": gateway,
            "health": gateway_health(gateway, failing_after=failing_after).value,
            "breaker": services.scheduler.breaker(gateway).value,
            "running": gateway.name in running,
        }
        for gateway in statuses.gateways
    ]


@router.get("/")
async def overview(request: Request) -> Response:
    async def build(services: Services, reads: PageReads, now: datetime) -> Rendered:
        gateways = await _statuses(services)
        counts = await reads.change_counts(now - DAY)
        attention = [row for row in gateways if row["health"] not in ("ok", "disabled")]
        total = sum(row["g"].model_count for row in gateways)
        return Rendered(
            "overview.html",
            {
                "title": "Overview",
                "gateways": gateways,
                "counts": counts,
                "attention": attention,
                "total": total,
                "changes_24h": sum(sum(c.values()) for c in counts.values()),
                "stream": "/api/changes/stream",
                "poll": 10,
            },
            [MODELS_ALL, *all_gateway_tags(services)],
        )

    return await serve(request, "overview", build)


SORTS = {sort.value: sort for sort in Sort}
MODALITIES = ("text", "image", "audio", "video", "file")


@router.get("/models")
async def models_page(request: Request) -> Response:
    async def build(services: Services, reads: PageReads, now: datetime) -> Rendered:
        sort_name = request.query_params.get("sort", "default") or "default"
        if sort_name not in SORTS:
            raise BadRequest(f"sort: one of {', '.join(SORTS)}; fix the link")
        modality = text_param(request, "modality")
        if modality is not None and modality not in MODALITIES:
            raise BadRequest(f"modality: one of {', '.join(MODALITIES)}; fix the link")
        filters = ModelFilters(
            q=text_param(request, "q"),
            gateway=gateway_param(services, text_param(request, "gateway")),
            provider=text_param(request, "provider"),
            modality=modality,
            sort=SORTS[sort_name],
            page=int_param(request, "page", 1, low=1, high=100_000) or 1,
        )
        offers, more = await reads.models(filters)
        params = {
            "q": filters.q,
            "gateway": filters.gateway,
            "provider": filters.provider,
            "modality": filters.modality,
            "sort": None if filters.sort is Sort.DEFAULT else filters.sort.value,
        }
        tags = [MODELS_ALL]
        tags += [gateway_tag(filters.gateway)] if filters.gateway else all_gateway_tags(services)
        if filters.q:
            tags.append(MODELS_SEARCH)
        stream = "/api/changes/stream" + (f"?gateway={filters.gateway}" if filters.gateway else "")
        return Rendered(
            "models.html",
            {
                "title": "Models",
                "offers": offers,
                "filters": filters,
                "gateways": sorted(services.runtime.gateways),
                "sorts": [s.value for s in Sort],
                "modalities": MODALITIES,
                "prev": query_link("/models", params | {"page": filters.page - 1})
                if filters.page > 1
                else None,
                "next": query_link("/models", params | {"page": filters.page + 1})
                if more
                else None,
                "first_row": filters.offset + 1,
                "stream": stream,
            },
            tags,
        )

    return await serve(request, "models", build)


@router.get("/models/{model_id:path}")
async def model_page(request: Request, model_id: str) -> Response:
    async def build(services: Services, reads: PageReads, now: datetime) -> Rendered:
        if len(model_id) > 512 or any(ord(ch) < 32 for ch in model_id):
            raise BadRequest("model id: at most 512 printable characters", status=404)
        offers = await reads.offers(model_id)
        if not offers:
            raise BadRequest(f"unknown model {model_id!r}; search for it on /models", status=404)
        history = await reads.changes(model=model_id)
        best = cheapest(offers)
        main = next((o for o in offers if not o.removed), offers[0])
        return Rendered(
            "model.html",
            {
                "title": main.name,
                "model": main,
                "offers": offers,
                "cheapest": best.key if best else None,
                "history": history,
                "stream": "/api/changes/stream?" + urlencode({"model": model_id}),
            },
            [model_tag(model_id), *(gateway_tag(o.gateway) for o in offers)],
        )

    return await serve(request, "model", build)


@router.get("/gateways/{name}")
async def gateway_page(request: Request, name: str) -> Response:
    async def build(services: Services, reads: PageReads, now: datetime) -> Rendered:
        gateway = gateway_param(services, name)
        assert gateway is not None
        rows = [row for row in await _statuses(services) if row["g"].name == gateway]
        offers, more = await reads.models(ModelFilters(gateway=gateway, per_page=500))
        runs = await reads.gateway_runs(gateway)
        return Rendered(
            "gateway.html",
            {
                "title": gateway,
                "gateway": gateway,
                "row": rows[0] if rows else None,
                "offers": offers,
                "more": more,
                "runs": runs,
                "stream": "/api/changes/stream?" + urlencode({"gateway": gateway}),
                "poll": 10,
            },
            [gateway_tag(gateway)],
        )

    return await serve(request, "status", build)


KINDS = ("added", "updated", "removed", "restored")


@router.get("/changes")
async def changes_page(request: Request) -> Response:
    async def build(services: Services, reads: PageReads, now: datetime) -> Rendered:
        gateway = gateway_param(services, text_param(request, "gateway"))
        kind = text_param(request, "kind")
        if kind is not None and kind not in KINDS:
            raise BadRequest(f"kind: one of {', '.join(KINDS)}; fix the link")
        model = text_param(request, "model")
        before = int_param(request, "before", None, low=1, high=2**63 - 1)
        found = await reads.changes(before=before, gateway=gateway, model=model, kind=kind)
        params = {"gateway": gateway, "kind": kind, "model": model}
        older = (
            query_link("/changes", params | {"before": found[-1].seq}) if len(found) == 50 else None
        )
        stream = "/api/changes/stream?" + urlencode(
            {k: v for k, v in (("gateway", gateway), ("model", model)) if v}
        )
        tags = [MODELS_ALL]
        tags += [gateway_tag(gateway)] if gateway else all_gateway_tags(services)
        return Rendered(
            "changes.html",
            {
                "title": "Changes",
                "changes": found,
                "gateways": sorted(services.runtime.gateways),
                "kinds": KINDS,
                "filters": params,
                "older": older,
                "newest": query_link("/changes", params) if before else None,
                "stream": stream.rstrip("?"),
            },
            tags,
        )

    return await serve(request, "changes", build)


CAPABILITIES = (
    ("text", "Text"),
    ("vision", "Vision (image input)"),
    ("tools", "Tool calling"),
    ("long", "Long context (128k tokens or more)"),
)


@router.get("/rankings")
async def rankings_page(request: Request) -> Response:
    async def build(services: Services, reads: PageReads, now: datetime) -> Rendered:
        newest = await reads.ranked(since=now - WEEK, limit=20)
        moves = price_moves(await reads.changes_since(now - WEEK))
        cheapest_by = [(label, await reads.ranked(capability=key)) for key, label in CAPABILITIES]
        return Rendered(
            "rankings.html",
            {
                "title": "Rankings",
                "newest": newest,
                "drops": largest_moves(moves, drops=True),
                "rises": largest_moves(moves, drops=False),
                "cheapest_by": cheapest_by,
                "stream": "/api/changes/stream",
            },
            [RANKINGS, MODELS_ALL, *all_gateway_tags(services)],
        )

    return await serve(request, "rankings", build)


@router.get("/status")
async def status_page(request: Request) -> Response:
    async def build(services: Services, reads: PageReads, now: datetime) -> Rendered:
        gateways = await _statuses(services)
        start = now - DAY
        points = await reads.run_points(start)
        charts = {}
        for row in gateways:
            name = row["g"].name
            runs = points.get(name, [])
            ok = [run for run in runs if not run.failed]
            failed = len(runs) - len(ok)
            durations = [run.duration_ms for run in ok]
            charts[name] = {
                "runs": len(runs),
                "duration": sparkline(
                    [run.duration_point() for run in runs],
                    title=f"{name}: {len(runs)} runs in 24 h, {failed} failed"
                    + (f", duration {min(durations)}-{max(durations)} ms" if durations else ""),
                    start=start,
                    end=now,
                ),
                "count": sparkline(
                    [run.count_point() for run in runs],
                    title=f"{name}: model count over 24 h"
                    + (f", now {ok[-1].total_models}" if ok else ""),
                    start=start,
                    end=now,
                ),
            }
        scheduler = services.scheduler
        parts = {name: _described(services, name) for name in ("feed", "purgers")}
        return Rendered(
            "status.html",
            {
                "title": "Status",
                "gateways": gateways,
                "charts": charts,
                "parts": {name: part for name, part in parts.items() if part is not None},
                "process": {
                    "owner": services.runtime.owner,
                    "started_at": services.started_at,
                    "scheduler_alive": scheduler.alive(),
                    "running": scheduler.running(),
                },
                "stream": "/api/changes/stream",
                "poll": 3,
            },
            [MODELS_ALL, *all_gateway_tags(services)],
        )

    return await serve(request, "status", build)


def _described(services: Services, name: str) -> list[tuple[str, str]] | None:
    """A part's ``describe()`` (the change feed, the purgers) as key and text, when this process
    has the part."""
    part = getattr(services, name, None)
    describe = getattr(part, "describe", None)
    if describe is None:
        return None
    found = describe()
    if not isinstance(found, dict):
        return [(name, _short(found))]
    return [(str(key), _short(value)) for key, value in found.items()]


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@router.get("/static/{name}")
async def static_file(request: Request, name: str) -> Response:
    body = STATIC.get(name)
    if body is None:
        return Response("not found", status_code=404, media_type="text/plain")
    etag = f'"{STATIC_VERSION[name]}"'
    headers = {
        "etag": etag,
        "cache-control": "public, max-age=31536000, immutable",
        "x-content-type-options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=STATIC_TYPES[name], headers=headers)
