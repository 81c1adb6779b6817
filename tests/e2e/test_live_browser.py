"""Live pages in a real browser (issue 10, item 2 and 4): an open page follows the change
stream and updates in place (a reprice after a sync, the same after a signed webhook and its
verification sync, a new model on /models), within 2 s of the change being committed; a reload is
fresh; a dropped stream reconnects with Last-Event-ID and says so."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import orjson
import pytest

from conftest import free_port
from modelsync.webhooks.signing import sign_hex
from service_process import serve_process

from .conftest import SECRET, Site
from .test_pages_browser import MODEL, prompt_cell

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

LIVE_WITHIN_S = 2.0


def wait_live(page: Any) -> None:
    """Until the page's stream is open (the script says so)."""
    page.locator("#live").filter(has_text="Live:").wait_for(timeout=20_000)


def seconds_until(page: Any, locator: Any, text: str, *, timeout_s: float = 15.0) -> float:
    """How long until ``locator`` shows ``text`` (fails after ``timeout_s``)."""
    start = time.monotonic()
    locator.filter(has_text=text).wait_for(timeout=timeout_s * 1000)
    return time.monotonic() - start


def test_a_reprice_appears_on_an_open_model_page_without_a_reload(site: Site, page: Any) -> None:
    """Reprice in the simulator, sync: the open page shows the new price within 2 s, highlighted,
    and a reload serves the new price (not a cached old page)."""
    page.goto(f"{site.base}/models/{MODEL}")
    wait_live(page)
    before = prompt_cell(page).inner_text()
    site.mutate(gateway="openrouter", op="reprice", model_id=MODEL, factor=3)
    site.sync("openrouter")  # returns once the run is committed
    elapsed = seconds_until(page, prompt_cell(page), "3 USD")
    assert elapsed <= LIVE_WITHIN_S, f"the new price took {elapsed:.2f} s"
    assert before != prompt_cell(page).inner_text()
    assert "flash" in (prompt_cell(page).get_attribute("class") or "")
    assert page.locator("table.changes").inner_text().count("pricing.prompt") >= 1
    page.reload()
    assert prompt_cell(page).inner_text() == "3 USD"


def test_a_signed_webhook_and_its_verification_sync_update_the_open_page(
    site: Site, page: Any
) -> None:
    """A signed "models.updated" hint: its verification sync applies the reprice, and the open
    page shows it within 2 s of the change being committed; a reload is fresh."""
    page.goto(f"{site.base}/models/{MODEL}")
    wait_live(page)
    site.mutate(gateway="openrouter", op="reprice", model_id=MODEL, factor=0.5)
    seq = _last_seq(site)
    body = orjson.dumps(
        {
            "gateway": "openrouter",
            "event_type": "models.updated",
            "models": [{"id": MODEL}],
            "timestamp": int(time.time() * 1000),
        }
    )
    headers = {"content-type": "application/json", "x-webhook-signature": sign_hex(SECRET, body)}
    answer = site.http.post(site.base + "/api/webhooks/models-updated", content=body,
                            headers=headers)  # fmt: skip
    assert answer.status_code == 202, answer.text
    committed = _wait_for_change(site, after=seq)
    elapsed = seconds_until(page, prompt_cell(page), "1.5 USD")
    shown_after = time.monotonic() - committed
    assert shown_after <= LIVE_WITHIN_S + 0.5, f"shown {shown_after:.2f} s after the commit"
    assert elapsed < 30
    assert page.locator("table.changes").inner_text().count("webhook") >= 1
    page.reload()
    assert prompt_cell(page).inner_text() == "1.5 USD"


def _last_seq(site: Site) -> int:
    found = site.http.get(site.base + "/api/changes", params={"limit": 1000}).json()
    return int(found["next"])


def _wait_for_change(site: Site, *, after: int, timeout_s: float = 30) -> float:
    """Poll the change log until a change after ``after`` is there; when it was seen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = site.http.get(site.base + "/api/changes", params={"since": after}).json()
        if found["changes"]:
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError("the verification sync applied no change")


def test_a_new_model_appears_on_an_open_models_page(site: Site, page: Any) -> None:
    """An added model shows up as a new, highlighted row of the open /models page."""
    page.goto(f"{site.base}/models?gateway=openrouter")
    wait_live(page)
    row = page.locator('[id="o-openrouter:acme/brand-new-model"]')
    assert row.count() == 0
    site.mutate(gateway="openrouter", op="add", model_id="acme/brand-new-model",
                name="Brand New Model")  # fmt: skip
    site.sync("openrouter")
    start = time.monotonic()
    row.wait_for(timeout=15_000)
    elapsed = time.monotonic() - start
    assert elapsed <= LIVE_WITHIN_S, f"the new row took {elapsed:.2f} s"
    assert "Brand New Model" in row.inner_text()


def test_a_dropped_stream_reconnects_with_last_event_id_and_says_so(site: Site, page: Any) -> None:
    """The page follows a second server on the same database; that server stops (the stream
    drops: the page says it is reconnecting), a change is committed meanwhile through the first,
    the second comes back on its port: the page reconnects with Last-Event-ID, says so, and shows
    the change it missed."""
    port = free_port()
    with serve_process(site.folder, site.env, port=port) as second:
        page.goto(f"{second.base}/models/{MODEL}")
        wait_live(page)
        price = prompt_cell(page).inner_text()
        second.stop()
        page.locator("#live.warn").wait_for(timeout=20_000)
        site.mutate(gateway="openrouter", op="reprice", model_id=MODEL, factor=2)
        site.sync("openrouter")
    with serve_process(site.folder, site.env, port=port):
        page.locator("#live").filter(has_text="Reconnected").wait_for(timeout=30_000)
        prompt_cell(page).filter(has_text=f"{_doubled(price)} USD").wait_for(timeout=10_000)


def _doubled(price: str) -> str:
    value = Decimal(price.split(maxsplit=1)[0]) * 2
    return format(value.normalize(), "f")


def test_a_removed_model_is_marked_on_an_open_models_page(site: Site, page: Any) -> None:
    """A model that leaves its gateway: its row turns "missing" on the first sync without it,
    and is marked gone (struck through, "(gone)") once the second removes it."""
    page.goto(f"{site.base}/models?gateway=openrouter")
    wait_live(page)
    row = page.locator('[id="o-openrouter:acme/brand-new-model"]')
    row.wait_for(timeout=5_000)
    site.mutate(gateway="openrouter", op="remove", model_id="acme/brand-new-model")
    site.sync("openrouter")
    row.locator('[data-k="status"]').filter(has_text="missing").wait_for(timeout=5_000)
    site.sync("openrouter")
    page.locator('[id="o-openrouter:acme/brand-new-model"].gone').wait_for(timeout=5_000)
