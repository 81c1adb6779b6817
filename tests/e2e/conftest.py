"""Browser tests (issue 10, item 4): Playwright driving Debian's chromium against a real
``modelsync serve`` process whose upstream is the simulator (in a thread of the test process).

The browser is ``/usr/bin/chromium`` (``.ci/run`` installs it with apt-get; no browser is ever
downloaded). Without it the tests skip locally and fail in CI (MODELSYNC_REQUIRE_SERVICES=1).
Screenshots go to ``build/screenshots/`` (a CI artifact, gitignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import service_unavailable
from service_process import ServeProcess, clean_environment, serve_process, simulator

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ADMIN_TOKEN = "browser-admin-token-0123456789abcdef"
SECRET = "browser-webhook-secret"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@dataclass
class Site:
    """The served pages, the admin API and the simulator behind them."""

    serve: ServeProcess
    upstream: str
    http: httpx.Client
    folder: Path
    env: dict[str, str]

    @property
    def base(self) -> str:
        return self.serve.base

    def sync(self, gateway: str) -> dict[str, Any]:
        """A manual sync, waited for; its report."""
        response = self.http.post(
            self.base + "/api/sync/models",
            json={"gateway": gateway},
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    def mutate(self, **payload: Any) -> dict[str, Any]:
        """A mutation of the simulator's catalog (``/_admin/mutate``)."""
        response = self.http.post(self.upstream + "/_admin/mutate", json=payload)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def fault(self, **payload: Any) -> None:
        """A fault injected into the simulator (``/_admin/fault``)."""
        response = self.http.post(self.upstream + "/_admin/fault", json=payload)
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One served catalog per module: every gateway synced once from the simulator."""
    folder = tmp_path_factory.mktemp("site")
    with simulator() as upstream:
        env = clean_environment(
            MODELSYNC_UPSTREAM=upstream,
            MODELSYNC_DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'site.db'}",
            MODELSYNC_ADMIN_TOKEN=ADMIN_TOKEN,
            MODEL_WEBHOOK_SECRET=SECRET,
            MODELSYNC_HTTP__ATTEMPTS="1",
            MODELSYNC_SCHEDULER__HINT_DEBOUNCE_S="0",
            MODELSYNC_SCHEDULER__HINT_MIN_INTERVAL_S="0",
            MODELSYNC_SCHEDULER__BREAKER_THRESHOLD="1",
        )
        with serve_process(folder, env) as serve, httpx.Client(timeout=60) as http:
            site = Site(serve, upstream, http, folder, env)
            site.sync("all")
            yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright."""
    if not CHROMIUM.exists():
        service_unavailable("chromium", FileNotFoundError(str(CHROMIUM)))
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only for browser tests

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop-sized page; dialogs (an injected script's alert) fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        yield opened
    finally:
        context.close()
    assert not dialogs, f"a page opened a dialog: {dialogs}"
