"""The JSON API of DESIGN section 9: sync, status, catalog, changes, cache, health."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, Literal

import orjson
import structlog
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from modelsync.cache.responses import Build, Fresh
from modelsync.cache.tags import (
    SYNC_STATUS,
    InvalidateRequest,
    changes_tags,
    gateway_tag,
    list_tags,
    model_tags,
)
from modelsync.config import ResolvedGateway, find_gateway
from modelsync.domain import ChangeKind, ChangeSource
from modelsync.errors import ConfigError, StoreError
from modelsync.limits import CHANGES_PAGE, MODELS_PAGE, UNMATCHED_PAGE
from modelsync.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from modelsync.observability.metrics import metrics
from modelsync.reference.service import ReferencePrices
from modelsync.store.base import ChangeSelection, ModelQuery, ServedGateway, duration_ms
from modelsync.sync.changes import paged
from modelsync.sync.health import quarantine_json, status_json
from modelsync.sync.identities import unmatched_page
from modelsync.sync.processes import process_json
from modelsync.sync.runner import RunSummary
from modelsync.sync.schedule import BreakerState
from modelsync.web.auth import AdminRoute
from modelsync.web.deps import services_of
from modelsync.web.schemas import (
    ChangesOut,
    ErrorOut,
    HealthOut,
    InvalidateOut,
    ModelsOut,
    OffersOut,
    ReadyOut,
    StatusOut,
    SyncAcceptedOut,
    SyncReportOut,
    UnmatchedOut,
)
from modelsync.web.services import Services

log = structlog.get_logger("modelsync.web")
router = APIRouter()
admin = APIRouter(route_class=AdminRoute)
"""Admin routes: the token is checked before the body is read (included in ``router``)."""

ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "admin token missing or wrong"},
    403: {"model": ErrorOut, "description": "admin routes disabled (no token configured)"},
}
MAX_SQL_INT = 2**63 - 1
"""The largest integer the databases take (SQLite INTEGER, PostgreSQL BIGINT)."""
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "unknown gateway or model"}
}
BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "the body could not be read (not UTF-8)"},
    413: {
        "model": ErrorOut,
        "description": "body over the limit (MODELSYNC_SERVER__MAX_BODY_BYTES)",
    },
}
_UNSTORABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def storable(text: str) -> str:
    """Text a database can hold and match: no NUL or other control character, no surrogate."""
    if _UNSTORABLE.search(text):
        raise ValueError("must not contain control characters (such as NUL)")
    return text


Storable = AfterValidator(storable)
"""Validates a text filter or id before it reaches the database (422 otherwise)."""


def json_response(document: Any) -> Response:
    """The answer of a read: ``document`` (served fragments and datetimes included) as JSON,
    written by orjson once. The route's ``response_model`` documents it; FastAPI does not
    validate a Response (the schema tests check the answers instead)."""
    return Response(orjson.dumps(document), media_type="application/json")


def gateway_or_404(services: Services, name: str) -> ResolvedGateway:
    try:
        return find_gateway(services.runtime.gateways, name)
    except ConfigError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gateway: str = Field("all", min_length=1, max_length=100, description="A gateway, or 'all'.")


@admin.post(
    "/api/sync/models",
    response_model=SyncReportOut,
    responses={202: {"model": SyncAcceptedOut}, **BAD_BODY, **ADMIN_ERRORS, **NOT_FOUND},
    tags=["sync"],
)
async def sync_models(
    request: Request,
    body: SyncRequest | None = None,
    wait: Annotated[bool, Query(description="Wait for the runs and report them.")] = True,
) -> dict[str, Any] | JSONResponse:
    """Run a sync now (coalesced with one already running) and report it per gateway.

    ``?wait=false`` answers 202 at once, bypassing the 200 response model (SyncAcceptedOut).
    """
    services = services_of(request)
    wanted = (body or SyncRequest()).gateway
    if wanted.strip().lower() == "all":
        names = list(services.runtime.gateways)
    else:
        names = [gateway_or_404(services, wanted).name]
    runs = [await services.scheduler.trigger(name, source=ChangeSource.MANUAL) for name in names]
    if not wait:
        accepted = SyncAcceptedOut(status="accepted", gateways=names, status_url="/api/sync/status")
        return JSONResponse(accepted.model_dump(), status_code=status.HTTP_202_ACCEPTED)
    summaries: list[RunSummary] = list(await asyncio.gather(*(run for run in runs if run)))
    return {
        "catalog_version": await services.runtime.store.catalog_version(),
        "gateways": [summary.to_json() for summary in summaries],
    }


def _last_run(gateway: ServedGateway) -> dict[str, Any] | None:
    if gateway.run_id is None:
        return None
    started, finished = gateway.run_started_at, gateway.run_finished_at
    assert started is not None  # a run row has both
    assert finished is not None
    return {
        "id": gateway.run_id,
        "trigger": gateway.run_trigger,
        "outcome": gateway.run_outcome,
        "started_at": started,
        "finished_at": finished,
        "duration_ms": duration_ms(started, finished),
        "added": gateway.run_added,
        "updated": gateway.run_updated,
        "removed": gateway.run_removed,
        "restored": gateway.run_restored,
        "missing": gateway.run_missing,
        "total_models": gateway.run_total_models,
        "http_status": gateway.run_http_status,
        "bytes": gateway.run_bytes,
        "error": gateway.run_error,
        "quarantined": quarantine_json(gateway.run_quarantined),
        "filtered": dict(gateway.run_filtered or {}),
    }


GatewayText = tuple[bytes, bytes, dict[tuple[BreakerState, bool], orjson.Fragment]]
"""A gateway's JSON before its breaker and running flag, after them, and the whole of it by
those two (built once each)."""
GATEWAY_TEXTS_KEPT = 16_384
"""Gateways' JSON kept by their status row (:func:`_status`); all dropped past this."""
_GATEWAY_TEXTS: dict[tuple[int, int], GatewayText] = {}
_BREAKER_JSON = {state: b',"breaker":' + orjson.dumps(state) for state in BreakerState}
_RUNNING, _IDLE = b',"running":true', b',"running":false'


def _gateway_text(found: ServedGateway, failing_after: int) -> GatewayText:
    """A gateway's status JSON around its breaker and running flag, which change without its
    row: the text before them (an open object) and after them (its end).

    The rest depends only on the row (and ``failing_after``), so :func:`_status` keeps it by
    the row as read: with 1,000 gateways a status serializes only those whose row changed."""
    head = orjson.dumps(status_json(found, failing_after=failing_after))[:-1]
    tail = orjson.dumps({"last_run": _last_run(found), "last_webhook": found.last_webhook})
    return head, b"," + tail[1:], {}


async def _status(services: Services, gateway: str | None) -> dict[str, Any]:
    statuses = await services.runtime.store.gateway_statuses(gateway)
    scheduler = services.scheduler
    running = set(scheduler.running())
    failing_after = services.settings.scheduler.breaker_threshold
    keys: list[int | None] = [*statuses.keys] if statuses.keys else [None] * len(statuses.gateways)
    if len(_GATEWAY_TEXTS) > GATEWAY_TEXTS_KEPT:
        _GATEWAY_TEXTS.clear()
    rows = []
    for found, key in zip(statuses.gateways, keys, strict=True):
        text = _GATEWAY_TEXTS.get((failing_after, key)) if key is not None else None
        if text is None:
            text = _gateway_text(found, failing_after)
            if key is not None:
                _GATEWAY_TEXTS[failing_after, key] = text
        head, tail, built = text
        state = (scheduler.breaker(found), found.name in running)
        fragment = built.get(state)
        if fragment is None:
            middle = _BREAKER_JSON[state[0]] + (_RUNNING if state[1] else _IDLE)
            fragment = built[state] = orjson.Fragment(head + middle + tail)
        rows.append(fragment)
    fleet = services.settings.process
    live = services.heartbeat.fleet
    return {
        "catalog_version": statuses.catalog_version,
        "processes": [
            process_json(row, threshold_s=fleet.lag_threshold_s, heartbeat_s=fleet.heartbeat_s)
            for row in live
        ],
        "process": {
            "owner": services.runtime.owner,
            "started_at": services.started_at,
            "scheduler_alive": scheduler.alive(),
            "running": sorted(running),
        },
        "feed": services.feed.describe(),
        "purgers": services.purgers.describe(),
        "references": _references(services),
        "gateways": rows,
    }


def _references(services: Services) -> list[dict[str, Any]]:
    references = services.runtime.runner.references
    return references.status() if isinstance(references, ReferencePrices) else []


@router.get("/api/sync/status", response_model=StatusOut, responses=NOT_FOUND, tags=["sync"])
@router.get("/api/sync/models", response_model=StatusOut, responses=NOT_FOUND, tags=["sync"])
async def sync_status(request: Request, gateway: str | None = None) -> Response:
    """Every gateway's health, schedule, breaker, last run and last webhook."""
    services = services_of(request)
    name = gateway_or_404(services, gateway).name if gateway else None
    return await services.cache.respond(request, status_builder(services, name))


def status_builder(services: Services, name: str | None) -> Build:
    """How ``/api/sync/status`` builds its answer (the route's, and :mod:`.fast_reads`')."""

    async def build() -> Fresh:
        document = await _status(services, name)
        tags = {SYNC_STATUS}
        if name is not None:
            tags |= {gateway_tag(name)}
        return Fresh(
            orjson.dumps(document),
            tags,
            document["catalog_version"],
            ttl_s=services.settings.cache.status_ttl_s,
        )

    return build


@admin.post(
    "/api/cache/invalidate",
    response_model=InvalidateOut,
    responses={**BAD_BODY, **ADMIN_ERRORS, **NOT_FOUND},
    tags=["cache"],
)
async def invalidate_cache(request: Request, body: InvalidateRequest) -> dict[str, Any]:
    """Invalidate tags and paths by the front end's contract; answers what was invalidated."""
    services = services_of(request)
    if body.gateway is not None:
        gateway_or_404(services, body.gateway)
    invalidation = body.invalidation(list(services.runtime.gateways))
    report = await services.invalidations.apply(invalidation, reason="api")
    return report.to_json()


@router.get("/api/models", response_model=ModelsOut, responses=NOT_FOUND, tags=["catalog"])
async def list_models(
    request: Request,
    *,
    gateway: str | None = None,
    provider: Annotated[str | None, Query(max_length=200), Storable] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="A substring of the id, the name or the gateway's model id (any case); "
            "results ranked by closeness.",
        ),
        Storable,
    ] = None,
    include_removed: bool = False,
    limit: Annotated[int, Query(ge=1, le=MODELS_PAGE)] = 500,
    offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
) -> Response:
    """The catalog: every gateway's current offers, filtered."""
    services = services_of(request)
    name = gateway_or_404(services, gateway).name if gateway else None
    query = ModelQuery(
        gateway=name,
        provider=provider,
        q=q,
        include_removed=include_removed,
        limit=limit,
        offset=offset,
    )
    return await services.cache.respond(request, models_builder(services, query))


def models_builder(services: Services, query: ModelQuery) -> Build:
    """How ``/api/models`` builds its answer (the route's, and :mod:`.fast_reads`')."""
    gateways = [query.gateway] if query.gateway else list(services.runtime.gateways)

    async def build() -> Fresh:
        page = await services.runtime.store.served_models(query)
        document = {
            "catalog_version": page.catalog_version,
            "count": len(page.rows),
            "models": page.rows,
        }
        tags = list_tags(gateways, search=query.q is not None)
        return Fresh(orjson.dumps(document), tags, page.catalog_version)

    return build


@router.get(
    "/api/models/unmatched", response_model=UnmatchedOut, responses=NOT_FOUND, tags=["catalog"]
)
async def unmatched_models(
    request: Request,
    gateway: str | None = None,
    limit: Annotated[int, Query(ge=1, le=UNMATCHED_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
) -> dict[str, Any]:
    """The models offered by exactly one gateway, with the nearest candidates on the others."""
    services = services_of(request)
    name = gateway_or_404(services, gateway).name if gateway else None
    return await unmatched_page(services.runtime.store, gateway=name, limit=limit, offset=offset)


@router.get(
    "/api/models/{model_id:path}", response_model=OffersOut, responses=NOT_FOUND, tags=["catalog"]
)
async def model_offers(
    request: Request, model_id: Annotated[str, Path(max_length=512), Storable]
) -> Response:
    """One model (canonical ``author/slug`` id) and its offers across gateways."""
    services = services_of(request)
    return await services.cache.respond(request, offers_builder(services, model_id))


def offers_builder(services: Services, model_id: str) -> Build:
    """How ``/api/models/{id}`` builds its answer (the route's, and :mod:`.fast_reads`');
    an unknown id raises the 404."""

    async def build() -> Fresh:
        page = await services.runtime.store.served_offers(model_id)
        if not page.rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown model {model_id!r}")
        document = {"id": model_id, "catalog_version": page.catalog_version, "offers": page.rows}
        body = orjson.dumps(document)
        gateways = {offer["gateway"] for offer in orjson.loads(body)["offers"]}
        return Fresh(body, model_tags(model_id, gateways), page.catalog_version)

    return build


@router.get("/api/changes", response_model=ChangesOut, responses=NOT_FOUND, tags=["catalog"])
async def list_changes(  # noqa: PLR0917 - FastAPI reads the query from the signature
    request: Request,
    since: Annotated[
        int | None, Query(ge=0, le=MAX_SQL_INT, description="Only changes after this seq.")
    ] = None,
    gateway: str | None = None,
    model: Annotated[
        str | None, Query(max_length=512, description="A canonical id."), Storable
    ] = None,
    run: Annotated[
        int | None, Query(ge=1, le=MAX_SQL_INT, description="Only the changes of this run.")
    ] = None,
    kind: Annotated[ChangeKind | None, Query(description="Only changes of this kind.")] = None,
    order: Annotated[
        Literal["oldest", "newest"],
        Query(description="oldest: oldest first (after since); newest: the newest first."),
    ] = "oldest",
    limit: Annotated[int, Query(ge=1, le=CHANGES_PAGE)] = 100,
) -> Response:
    """The change history, oldest first (or newest first); ``next`` is the cursor for ``since``,
    ``truncated`` says retention pruned changes after it."""
    services = services_of(request)
    name = gateway_or_404(services, gateway).name if gateway else None
    select_by = ChangeSelection(
        run_id=run, kind=kind.value if kind else None, newest_first=order == "newest"
    )
    build = changes_builder(
        services, since=since, gateway=name, model=model, limit=limit, select_by=select_by
    )
    return await services.cache.respond(request, build)


def changes_builder(
    services: Services,
    *,
    since: int | None,
    gateway: str | None,
    model: str | None,
    limit: int,
    select_by: ChangeSelection,
) -> Build:
    """How ``/api/changes`` builds its answer (the route's, and :mod:`.fast_reads`')."""
    name = gateway

    async def build() -> Fresh:
        store = services.runtime.store
        page = await store.served_change_page(
            since=since, gateway=name, model=model, limit=limit, select_by=select_by
        )
        # the newest version the page shows (an empty page: the catalog's, one more statement)
        version = page.newest_version
        if version is None:
            version = await store.catalog_version()
        document = paged(page.changes, page.newest_seq, since=since, oldest_seq=page.oldest_seq)
        body = orjson.dumps(document)
        return Fresh(body, changes_tags(name, model), version)

    return build


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus' text exposition of this process's metrics (see observability.metrics),
    gzip-compressed when the scraper accepts it."""
    gzip = "gzip" in request.headers.get("accept-encoding", "")
    body = metrics().render(gzip=gzip)
    headers = {"content-encoding": "gzip", "vary": "accept-encoding"} if gzip else None
    return Response(body, media_type=METRICS_CONTENT_TYPE, headers=headers)


@router.get("/healthz", response_model=HealthOut, tags=["health"])
async def healthz() -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get(
    "/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}}, tags=["health"]
)
async def readyz(request: Request, response: Response) -> dict[str, Any]:
    """Readiness: the database answers and the scheduler's loop is alive."""
    services = services_of(request)
    detail = None
    try:
        await services.runtime.store.ping()
        database = True
    except StoreError:
        log.warning("readyz_database_unreachable", exc_info=True)
        database, detail = False, "database: unreachable (see the service's log)"
    scheduler = services.scheduler.alive()
    if not scheduler:
        detail = "scheduler loop is not running" if detail is None else detail
    ready = database and scheduler
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {
        "status": "ready" if ready else "not_ready",
        "database": database,
        "scheduler": scheduler,
        "detail": detail,
    }


router.include_router(admin)
