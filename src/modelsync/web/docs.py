"""``/docs``: Swagger UI from an installed package, so the API's docs work without internet.

FastAPI's own ``/docs`` page loads Swagger UI's script and stylesheet from a CDN (blank when
offline) and ReDoc likewise; both are turned off, and this page serves the Swagger UI 5 assets
that ``swagger-ui-py`` (pinned in ``pyproject.toml``) ships, under ``/docs/assets``. The page asks
nothing of any other host: no validator badge either.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.requests import Request
from starlette.staticfiles import StaticFiles

ASSETS = "/docs/assets"


def swagger_ui_assets() -> Path | None:
    """The folder of Swagger UI's files in the installed ``swagger_ui`` package (found without
    importing it: only its files are used); ``None`` when the package is not installed."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return folder if folder.is_dir() else None


def install_docs(app: FastAPI) -> None:
    """``GET /docs`` (the page) and ``/docs/assets/*`` (its script, stylesheet and icon)."""
    assets = swagger_ui_assets()
    if assets is not None:
        app.mount(ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        if assets is None:  # an environment installed before the dependency was added
            return HTMLResponse(
                "API docs need the swagger-ui-py package: pip install -e . installs it",
                status_code=503,
            )
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
