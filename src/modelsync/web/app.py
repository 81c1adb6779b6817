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
from starlette.types import ASGIApp

from modelsync import __version__
from modelsync.clock import Clock
from modelsync.config import Settings, load_settings
from modelsync.errors import StoreError
from modelsync.observability import configure_logging
from modelsync.web import api, webhooks
from modelsync.web.services import open_services


class ModelsyncAPI(FastAPI):
    """FastAPI, with the webhook ingress in front of every middleware layer (its hot path)."""

    def build_middleware_stack(self) -> ASGIApp:
        return webhooks.WebhookIngress(super().build_middleware_stack())


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
