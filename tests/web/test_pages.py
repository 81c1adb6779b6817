"""The HTML pages (issue 10, item 1 and 3) against the real app, store and simulator: every page
answers with its tags, ETag and 304; sorting, filters and paging; prices as people read them;
hostile names as text; fresh right after the invalidation that covers it (by tag and by path);
bad query strings answered with one line."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any

import pytest

from modelsync.cache.responses import ResponseCache
from modelsync.simulator.faults import parse_fault
from modelsync.simulator.mutations import mutate
from web.harness import Service

HOSTILE = "<script>alert(1)</script>"
REPRICED = "anthropic/claude-haiku-4.5"
PAGES = [
    ("/", {"models:all", "models:gateway:groq"}),
    ("/models", {"models:all", "models:gateway:groq", "models:gateway:openrouter"}),
    ("/models?q=llama&sort=prompt", {"models:all", "models:search"}),
    ("/models?gateway=groq&sort=context", {"models:all", "models:gateway:groq"}),
    ("/models/groq/compound", {"model:groq/compound", "models:gateway:groq"}),
    ("/gateways/groq", {"models:gateway:groq"}),
    ("/changes", {"models:all", "models:gateway:fal"}),
    ("/changes?gateway=groq&kind=added", {"models:gateway:groq"}),
    ("/rankings", {"rankings", "models:gateway:groq"}),
    ("/status", {"models:all", "models:gateway:groq"}),
]


def cells(html: str, key: str) -> list[str]:
    """The text of every ``data-k=key`` cell, in order."""
    return re.findall(rf'data-k="{key}">([^<]*)<', html)


def cache_of(service: Service) -> ResponseCache:
    """The shared response cache the pages are stored in (``builds`` counts renders)."""
    return service.services.cache


@pytest.mark.parametrize(("url", "tags"), PAGES)
async def test_every_page_carries_its_tags_an_etag_and_answers_304(
    synced: Service, url: str, tags: set[str]
) -> None:
    """200 HTML with Surrogate-Key and Cache-Tag holding the DESIGN section 7 tags, an ETag that
    If-None-Match turns into a 304 without a body, and the catalog version."""
    response = await synced.client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    surrogate = set(response.headers["surrogate-key"].split())
    assert tags <= surrogate
    assert set(response.headers["cache-tag"].split(",")) == surrogate
    assert int(response.headers["x-catalog-version"]) > 0
    again = await synced.client.get(url, headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == response.headers["etag"]


async def test_a_page_is_served_from_the_cache_until_an_invalidation_covers_it(
    synced: Service,
) -> None:
    """The second request is a cache hit; a tag or a path invalidation makes the next one a
    render again (POST /api/cache/invalidate, as the front end calls it)."""
    synced.clock.advance(1)  # past the sync's invalidations (staleness is inclusive)
    await synced.client.get("/rankings")
    cache = cache_of(synced)  # made by the first page served

    async def a_repeat_is_a_hit() -> bool:
        """A read, then the same read: a hit. The service's own scheduler and change feed may
        invalidate in between under load (a miss only ever added), so a few tries."""
        for _ in range(5):
            await synced.client.get("/rankings")
            builds = cache.builds
            await synced.client.get("/rankings")
            if cache.builds == builds:
                return True
            await asyncio.sleep(0.5)
        return False

    assert await a_repeat_is_a_hit()
    for body in ({"tags": ["rankings"]}, {"paths": ["/rankings"]}, {"type": "rankings"}):
        builds = cache.builds
        answer = await synced.admin("POST", "/api/cache/invalidate", json=body)
        assert answer.status_code == 200, answer.text
        synced.clock.advance(1)
        await synced.client.get("/rankings")
        assert cache.builds >= builds + 1, body  # rendered again, never the old entry
        assert await a_repeat_is_a_hit()


async def test_a_reprice_shows_on_the_model_page_and_lists_right_after_its_sync(
    synced: Service,
) -> None:
    """A cached model page, /models and /gateways/g show the new price right after the sync that
    applied it (the run's invalidation covers them); a reload is never the old page."""
    model = "/models/" + REPRICED
    urls = (model, "/models?gateway=openrouter", "/models", "/gateways/openrouter", "/changes")
    before = {url: (await synced.client.get(url)).text for url in urls}
    assert ">1 USD<" in before[model]
    mutate(synced.simulator, {"gateway": "openrouter", "op": "reprice", "model_id": REPRICED,
                              "factor": 3})  # fmt: skip
    report = await synced.sync("openrouter")
    assert report["gateways"][0]["updated"] == 1
    for url in urls:
        after = (await synced.client.get(url)).text
        assert after != before[url], url
    page = (await synced.client.get(model)).text
    assert ">3 USD<" in page
    assert "pricing.prompt" in page  # the history shows the change, old -> new, with its source
    assert "<del>1 USD</del> → <ins>3 USD</ins>" in page


async def test_hostile_names_render_as_text_everywhere(synced: Service) -> None:
    """A model named <script>alert(1)</script> (and described so) is escaped on every page."""
    mutate(synced.simulator, {"gateway": "openrouter", "op": "add", "model_id": "evil/xss-1",
                              "name": HOSTILE})  # fmt: skip
    mutate(synced.simulator, {"gateway": "openrouter", "op": "set_field", "model_id": "evil/xss-1",
                              "field": "description", "value": HOSTILE})  # fmt: skip
    synced.clock.advance(1)  # the newest model of the week
    await synced.sync("openrouter")
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    pages = ["/models?q=xss", "/models/evil/xss-1", "/gateways/openrouter", "/changes", "/rankings"]
    for url in pages:
        response = await synced.client.get(url)
        assert response.status_code == 200, url
        assert HOSTILE not in response.text, url
        assert escaped in response.text, url
        assert "script-src 'self'" in response.headers["content-security-policy"]


def price_number(text: str) -> Decimal | None:
    if text == "free":
        return Decimal(0)
    if text == "-":
        return None
    value, currency = text.split()
    assert currency == "USD"
    return Decimal(value)


@pytest.mark.parametrize(("sort", "key", "descending"), [
    ("prompt", "prompt", False), ("completion", "completion", False),
])  # fmt: skip
async def test_models_sort_by_price_cheapest_first_unknown_last(
    synced: Service, sort: str, key: str, descending: bool
) -> None:
    """Prices are per 1M tokens with the currency, "free" for 0 and "-" for unknown (never 0),
    sorted cheapest first with the unknown ones after every known price."""
    html = (await synced.client.get(f"/models?sort={sort}")).text
    shown = [price_number(text) for text in cells(html, key)]
    assert len(shown) == 100
    known = [value for value in shown if value is not None]
    assert known == sorted(known)
    first_unknown = shown.index(None) if None in shown else len(shown)
    assert all(value is None for value in shown[first_unknown:])
    assert "free" in cells(html, key) or known[0] > 0


async def test_models_filters_search_and_pages(synced: Service) -> None:
    """gateway, provider, modality and q narrow the rows; pages follow each other without a
    repeat; sort by context puts the largest first."""
    groq = (await synced.client.get("/models?gateway=groq")).text
    gateways = re.findall(r'data-k="gateway"><a href="/gateways/([^"]+)"', groq)
    assert gateways
    assert set(gateways) == {"groq"}
    image = (await synced.client.get("/models?modality=image")).text
    modalities = cells(image, "modalities")
    assert modalities
    assert all("image" in text for text in modalities)
    searched = (await synced.client.get("/models?q=llama")).text
    found = re.findall(r'<small class="id">([^<]*)</small>', searched)
    assert found
    assert all("llama" in model_id for model_id in found)
    first = (await synced.client.get("/models")).text
    assert 'rel="next"' in first
    second = (await synced.client.get("/models?page=2")).text
    rows_1 = set(re.findall(r'<tr id="(o-[^"]*)"', first))
    rows_2 = set(re.findall(r'<tr id="(o-[^"]*)"', second))
    assert len(rows_1) == 100
    assert rows_2
    assert not rows_1 & rows_2
    context = (await synced.client.get("/models?sort=context")).text
    sizes = [text for text in cells(context, "context") if text != "-"]
    assert sizes[0].endswith("M") or sizes[0].endswith("k")


async def test_model_page_marks_the_cheapest_offer_and_shows_history(synced: Service) -> None:
    """A model offered by several gateways: its offers side by side, the cheapest marked (by a
    word, not only a colour), the history of its additions with their source."""
    html = (await synced.client.get("/models?q=llama-3.1-8b")).text
    ids = re.findall(r'<small class="id">([^<]*)</small>', html)
    shared = max(set(ids), key=ids.count)
    page = (await synced.client.get(f"/models/{shared}")).text
    if ids.count(shared) > 1:
        assert page.count('class="cheapest"') == 1
        assert "cheapest</strong>" in page
    assert "added" in page
    assert "manual" in page


@pytest.mark.parametrize(("url", "status", "says"), [
    ("/models?sort=cheap", 400, "sort: one of"),
    ("/models?page=0", 400, "page: a whole number"),
    ("/models?modality=smell", 400, "modality: one of"),
    ("/models?gateway=nope", 404, "unknown gateway"),
    ("/models/nobody/nothing", 404, "unknown model"),
    ("/gateways/nope", 404, "unknown gateway"),
    ("/changes?kind=exploded", 400, "kind: one of"),
    ("/changes?before=-1", 400, "before: a whole number"),
    ("/models?q=" + "x" * 300, 400, "q: at most 200"),
])  # fmt: skip
async def test_bad_query_strings_get_one_line(
    synced: Service, url: str, status: int, says: str
) -> None:
    """What is wrong, where, and how to fix it, in one line of an HTML page; never a trace."""
    response = await synced.client.get(url)
    assert response.status_code == status
    message = re.findall(r'<p class="error">([^<]*)</p>', response.text)
    assert len(message) == 1
    assert says in message[0].replace("&#39;", "'")
    assert "Traceback" not in response.text


async def test_a_live_refresh_never_gets_a_page_older_than_its_event(synced: Service) -> None:
    """The live script asks for at least the event's catalog version: a cached page of an older
    version is rendered again (X-Catalog-Min), an up-to-date one is served from the cache."""
    synced.clock.advance(1)
    first = await synced.client.get("/models/groq/compound")
    version = int(first.headers["x-catalog-version"])
    cache = cache_of(synced)
    builds = cache.builds
    await synced.client.get("/models/groq/compound", headers={"x-catalog-min": str(version)})
    assert cache.builds == builds
    await synced.client.get("/models/groq/compound", headers={"x-catalog-min": str(version + 1)})
    assert cache.builds == builds + 1


async def test_status_shows_health_breaker_and_charts(synced: Service) -> None:
    """/status: every gateway's tier, interval, health, breaker, failures and model count, with
    SVG charts of its runs; a gateway failing after an injected fault shows it."""
    synced.simulator.gateway("groq").faults.append(_fault("groq"))
    await synced.sync("groq")
    html = (await synced.client.get("/status")).text
    row = re.search(r'<tr id="s-groq".*?</tr>', html, re.S)
    assert row is not None
    assert "st-ok" not in row.group(0)
    assert re.search(r'data-k="failures">1<', row.group(0))
    assert "<svg" in row.group(0)
    assert html.count('<tr id="s-') == len(synced.services.runtime.gateways)
    assert 'circle class="fail"' in row.group(0)


def _fault(gateway: str) -> Any:
    return parse_fault({"kind": "http_500", "times": 1}, gateway=gateway)
