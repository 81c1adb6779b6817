"""The simulator's Starlette app: every built-in gateway's list path, the admin API, and the
scripts running in the background.

Routing contract: with ``MODELSYNC_UPSTREAM=http://HOST:PORT`` a request that gateway ``G`` would
send to ``https://api.host/some/path?query`` goes to ``http://HOST:PORT/G/some/path?query``. The
paths are derived from the registry, so they cannot drift from it; xAI also answers its minimal
``/v1/models``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelsync.gateways.registry import BUILTIN
from modelsync.simulator.admin import admin_routes
from modelsync.simulator.catalogs import find_fixtures_dir, load_seeds
from modelsync.simulator.config import SimulatorConfig
from modelsync.simulator.extras import extra_routes
from modelsync.simulator.responses import json_response
from modelsync.simulator.script import demo_script, run_script
from modelsync.simulator.sender import WebhookSender
from modelsync.simulator.serving import list_endpoint
from modelsync.simulator.state import SimulatorState

EXTRA_MINIMAL_PATHS = {"xai": "/xai/v1/models"}
"""Extra paths serving a gateway's minimal OpenAI-style list."""


def gateway_paths() -> dict[str, str]:
    """Gateway name -> the simulator path of its list, from the registry's base URLs."""
    return {spec.name: f"/{spec.name}{urlsplit(spec.base_url).path}" for spec in BUILTIN}


def create_simulator_app(config: SimulatorConfig | None = None) -> Starlette:
    """A simulator of every built-in gateway, seeded as ``config`` says."""
    config = config or SimulatorConfig()
    fixtures = (
        find_fixtures_dir(config.fixtures_dir, os.environ, Path.cwd())
        if config.use_fixtures
        else None
    )
    state = SimulatorState(
        load_seeds(fixtures), clock=config.clock, seed=config.seed, etag=config.etag
    )
    paths = gateway_paths()
    specs = {spec.name: spec for spec in BUILTIN}
    served = [(path, name, False) for name, path in paths.items()]
    served += [(path, name, True) for name, path in EXTRA_MINIMAL_PATHS.items()]
    routes = [*extra_routes(state)]  # before the list paths: fal's pricing is under its list
    routes += [
        Route(path, list_endpoint(state.gateways[name], specs[name], config, minimal=minimal))
        for path, name, minimal in served
    ]

    async def index(request: Request) -> Response:
        return json_response(
            {
                "simulator": "modelsync",
                "fixtures": str(fixtures) if fixtures else None,
                "gateways": paths,
                "admin": "/_admin/state",
            }
        )

    routes += [*admin_routes(state), Route("/", index, methods=["GET"])]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            on_applied = None
            if config.webhook is not None:
                client = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0))
                on_applied = WebhookSender(config.webhook, client).send
            tasks = []
            if config.script:
                script = run_script(state, config.script, on_applied=on_applied)
                tasks.append(asyncio.create_task(script))
            if config.demo:
                demo = run_script(state, demo_script(config.seed), on_applied=on_applied)
                tasks.append(asyncio.create_task(demo))
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.simulator = state
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail: Any = exc.detail if isinstance(exc, HTTPException) else "error"
    return json_response({"error": detail, "path": request.url.path}, status)
