"""``/docs`` works offline (issue 7: 9): Debian's chromium, driven by Playwright, loads it from a
real server with every request to any other host refused; Swagger UI renders the API's
operations from assets the installed ``swagger-ui-py`` ships."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from conftest import service_unavailable, serving
from modelsync.web.app import create_app
from web.harness import service_settings

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _chromium() -> None:
    """Skip locally, fail in CI (MODELSYNC_REQUIRE_SERVICES=1), without Debian's chromium."""
    if not CHROMIUM.exists():
        service_unavailable("chromium", FileNotFoundError(str(CHROMIUM)))


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    """The app under uvicorn on a free loopback port (no scheduler)."""
    app = create_app(service_settings(tmp_path), run_scheduler=False)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    with serving(uvicorn.Server(config)) as base:
        yield base


def test_docs_assets_come_from_the_server(base_url: str) -> None:
    """The page names only its own server's assets; they are served; ReDoc's CDN page is gone."""
    page = httpx.get(base_url + "/docs", timeout=10)
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert httpx.get(f"{base_url}/docs/assets/{asset}", timeout=10).status_code == 200
    assert httpx.get(base_url + "/redoc", timeout=10).status_code == 404


def test_docs_render_with_the_network_blocked(base_url: str) -> None:
    """Chromium with every other host refused: the UI renders the API's title and operations,
    and it never asked another host for anything."""
    sync_api = pytest.importorskip("playwright.sync_api")
    origin = urlsplit(base_url).netloc
    refused: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page()

            def route(handle: object) -> None:
                request = handle.request  # type: ignore[attr-defined]
                if urlsplit(request.url).netloc == origin:
                    handle.continue_()  # type: ignore[attr-defined]
                else:
                    refused.append(request.url)
                    handle.abort()  # type: ignore[attr-defined]

            page.route("**/*", route)
            page.goto(base_url + "/docs", wait_until="load", timeout=30_000)
            page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            title = page.inner_text(".swagger-ui .info .title")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    assert title.startswith("modelsync")
    assert any("/api/changes" in path for path in paths), paths
    assert refused == []
