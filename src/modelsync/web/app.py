"""``create_app()``: the FastAPI application; its lifespan is the service's composition root.

The lifespan opens the store, the HTTP client, the runner, the webhook receiver and the
scheduler, whose loop starts in the background so that start-up never waits for a sync.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from modelsync import __version__
from modelsync.clock import Clock
from modelsync.config import Settings, load_settings
from modelsync.errors import StoreError
from modelsync.observability import configure_logging
from modelsync.web import api, webhooks
from modelsync.web.services import open_services


class ModelsyncAPI(FastAPI):
    """FastAPI, with webhook deliveries (the ingestion hot path) answered ahead of all of it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if webhooks.is_delivery(scope):
            scope["app"] = self
            await webhooks.serve_delivery(self.state.services.receiver, receive, send, scope)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    run_scheduler: bool = True,
) -> FastAPI:
    """The application; settings are read here (from the environment) unless given."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(
            settings, clock=clock, transport=transport, run_scheduler=run_scheduler
        ) as services:
            app.state.services = services
            yield

    app = ModelsyncAPI(
        title="modelsync",
        version=__version__,
        summary="A catalog of AI models, kept current across inference gateways.",
        lifespan=lifespan,
        # modelsync reports through Prometheus, structlog and Sentry; FastAPI's OpenTelemetry
        # hooks would otherwise look for a provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.include_router(api.router)
    app.include_router(webhooks.router)

    @app.exception_handler(StoreError)
    async def store_unavailable(request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"database unavailable: {exc}"}, status_code=503)

    return app


def app_from_environment() -> FastAPI:
    """The uvicorn factory (``uvicorn --factory modelsync.web.app:app_from_environment``)."""
    settings = load_settings()
    configure_logging(settings.log_level or "INFO")
    return create_app(settings)
