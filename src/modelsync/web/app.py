"""``create_app()``: the FastAPI application; its lifespan is the service's composition root.

The lifespan opens the store, the HTTP client, the runner, the webhook receiver and the
scheduler, whose loop starts in the background so that start-up never waits for a sync.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from modelsync import __version__
from modelsync.cache.responses import ResponseCache
from modelsync.clock import Clock
from modelsync.config import ServerSettings, Settings, load_settings
from modelsync.errors import StoreError
from modelsync.observability import configure_logging, logged_request
from modelsync.pages import routes as pages
from modelsync.purge import check_settings
from modelsync.web import api, fast_reads, guards, stream, webhooks
from modelsync.web.docs import install_docs
from modelsync.web.services import open_services

log = structlog.get_logger("modelsync.web")

CACHED_PREFIXES = ("/api/models", "/api/changes", "/api/sync/", *pages.PREFIXES)
"""The read API's and the pages' cached routes (each builds its answer through
``services.cache.respond``), and ``/``."""


class ModelsyncAPI(FastAPI):
    """FastAPI, with webhook deliveries (the ingestion hot path) answered ahead of all of it,
    and every other request's body bounded and redirects kept host-free (:mod:`.guards`)."""

    max_body_bytes = ServerSettings().max_body_bytes
    response_cache: ResponseCache | None = None
    """Set by the lifespan: ``GET``/``HEAD`` reads it serves are answered before routing."""
    request_log = False
    """``MODELSYNC_LOG_LEVEL=DEBUG``: one line per request (method, path, status, time)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.request_log and scope["type"] == "http":
            await logged_request(self._answer, scope, receive, send)
        else:
            await self._answer(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        if webhooks.is_delivery(scope):
            scope["app"] = self
            await webhooks.serve_delivery(self.state.services.receiver, receive, send, scope)
            return
        if scope["type"] == "http":
            limit = self.max_body_bytes
            declared = guards.declared_length(scope)
            if declared is not None and declared > limit:
                await guards.answer_json(send, 413, guards.too_large(limit))
                return
            cache = self.response_cache
            if cache is not None and cache.handles(scope) and await cache.serve(scope, send):
                return
            services = getattr(self.state, "services", None)
            if services is not None and await fast_reads.serve(services, scope, receive, send):
                return
            receive = guards.bounded_receive(receive, limit)
            send = guards.relative_redirects(send)
        await super().__call__(scope, receive, send)


def error_answer(status_code: int, detail: str, exc: BaseException) -> JSONResponse:
    """Log ``exc`` with a new request id, and answer ``detail`` and the id: never its text."""
    request_id = uuid.uuid4().hex[:16]
    log.error("request_failed", request_id=request_id, status=status_code, exc_info=exc)
    return JSONResponse(
        {"detail": detail, "request_id": request_id},
        status_code=status_code,
        headers={"x-request-id": request_id},
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    run_scheduler: bool = True,
) -> FastAPI:
    """The application; settings are read here (from the environment) unless given."""
    settings = settings or load_settings()
    check_settings(settings.purge)  # a bad purger configuration is refused before start

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(
            settings, clock=clock, transport=transport, run_scheduler=run_scheduler
        ) as services:
            app.state.services = services
            assert isinstance(app, ModelsyncAPI)
            services.cache.cache(*CACHED_PREFIXES, exact=("/",))
            app.response_cache = services.cache
            try:
                yield
            finally:
                app.response_cache = None

    app = ModelsyncAPI(
        title="modelsync",
        version=__version__,
        summary="A catalog of AI models, kept current across inference gateways.",
        lifespan=lifespan,
        # modelsync reports through Prometheus, structlog and Sentry; FastAPI's OpenTelemetry
        # hooks would otherwise look for a provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,  # /docs is modelsync's own, on installed assets (web/docs.py)
        redoc_url=None,  # ReDoc would load from a CDN
    )
    install_docs(app)
    app.max_body_bytes = settings.server.max_body_bytes
    app.request_log = (settings.log_level or "").upper() == "DEBUG"
    app.include_router(stream.router)
    app.include_router(api.router)
    app.include_router(webhooks.router)
    app.include_router(pages.router)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 without ``input`` and ``ctx``: the client's bytes are not echoed."""
        errors = [{key: error[key] for key in ("type", "loc", "msg")} for error in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StoreError)
    async def store_unavailable(request: Request, exc: StoreError) -> JSONResponse:
        detail = "the database is unavailable; retry later (quote the request id to report it)"
        return error_answer(503, detail, exc)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        return error_answer(500, "internal error (quote the request id to report it)", exc)

    return app


def app_from_environment() -> FastAPI:
    """The uvicorn factory (``uvicorn --factory modelsync.web.app:app_from_environment``)."""
    settings = load_settings()
    configure_logging(settings.log_level or "INFO")
    return create_app(settings)
