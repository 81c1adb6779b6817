"""The pages in a real browser (issue 10, items 2-4): an open /status page shows a gateway going
from ok to failing, hostile names stay text, phones get no horizontal scroll, light and dark
differ, the keyboard reaches everything; screenshots of every page at desktop and phone width
land in build/screenshots/. (The stream-driven updates: ``test_live_browser.py``.)"""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import SCREENSHOTS, Site

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

MODEL = "anthropic/claude-haiku-4.5"
ROW = "o-openrouter:anthropic/claude-haiku-4.5"


def prompt_cell(page: Any) -> Any:
    return page.locator(f'[id="{ROW}"] [data-k="prompt"]')


def test_status_shows_a_gateway_going_from_ok_to_failing(site: Site, page: Any) -> None:
    """An injected fault fails groq's next sync: the open /status page turns its row failing."""
    page.goto(f"{site.base}/status")
    health = page.locator('[id="s-groq"] [data-k="health"]')
    assert health.inner_text().startswith("ok")
    site.fault(gateway="groq", kind="http_500", times=1)
    report = site.sync("groq")
    assert report["gateways"][0]["outcome"] == "failed"
    start = time.monotonic()
    health.filter(has_text="failing").wait_for(timeout=15_000)
    assert time.monotonic() - start < 10
    page.reload()
    assert health.inner_text().startswith("failing")
    site.sync("groq")  # the fault was for one request: recovers
    health.filter(has_text="ok").wait_for(timeout=15_000)


def test_hostile_names_stay_text_in_the_browser(site: Site, page: Any) -> None:
    """A model named <script>alert(1)</script> shows its name as text and runs nothing."""
    hostile = "<script>alert(1)</script>"
    site.mutate(gateway="openrouter", op="add", model_id="evil/xss-model", name=hostile)
    site.sync("openrouter")
    page.goto(f"{site.base}/models/evil/xss-model")
    assert page.locator("h1").inner_text() == hostile
    page.goto(f"{site.base}/models?q=xss")
    assert hostile in page.locator("table.offers").inner_text()


PAGES = [
    ("overview", "/"),
    ("models", "/models?sort=prompt"),
    ("model", f"/models/{MODEL}"),
    ("changes", "/changes"),
    ("rankings", "/rankings"),
    ("status", "/status"),
]


@pytest.mark.parametrize(
    ("width", "height", "label"), [(1280, 900, "desktop"), (390, 844, "phone")]
)
def test_every_page_fits_and_is_screenshot(
    site: Site, browser: Any, width: int, height: int, label: str
) -> None:
    """No horizontal scroll of the page at 390 px (tables scroll inside their region), light and
    dark colour schemes differ; each page saved to build/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=scheme
        )
        opened = context.new_page()
        backgrounds = set()
        for name, url in PAGES:
            opened.goto(site.base + url)
            assert opened.evaluate("document.documentElement.scrollWidth") <= width, name
            backgrounds.add(opened.evaluate("getComputedStyle(document.body).backgroundColor"))
            suffix = "" if scheme == "light" else "-dark"
            opened.screenshot(path=str(SCREENSHOTS / f"{name}-{label}{suffix}.png"))
        assert len(backgrounds) == 1
        context.close()
    assert len(list(SCREENSHOTS.glob(f"*-{label}.png"))) == len(PAGES)


def test_the_keyboard_reaches_the_content_and_the_filters(site: Site, page: Any) -> None:
    """Tab first reaches "Skip to content"; the filters are labelled controls that submit with
    Enter; every table has headers."""
    page.goto(f"{site.base}/models")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_label("Search").fill("llama")
    page.get_by_label("Sort").select_option("prompt")
    page.get_by_label("Search").press("Enter")
    page.wait_for_url("**/models?q=llama**")
    assert "sort=prompt" in page.url
    assert page.locator("table th[scope=col]").count() > 5
