"""Whole listings: every page of a paginated gateway, and pages only from the gateway's origin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from runner_harness import Harness, models_of, open_harness
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route
from upstream import run_gateway, upstream

from modelsync.config import GatewaySettings, Settings, resolve_gateways
from modelsync.domain import RunOutcome
from modelsync.fetch import FetchResponse, Validators
from modelsync.gateways.registry import build_adapter
from modelsync.sync.listing import fetch_listing, one_page


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """The simulator (ETags on: every page has one) and a database of this test's own."""
    async with open_harness(tmp_path) as opened:
        yield opened


@pytest.mark.parametrize("gateway", ["google", "fal"])
async def test_a_model_added_past_the_first_page_is_found(harness: Harness, gateway: str) -> None:
    """Page 1 unchanged (same ETag, same bytes) says nothing of page 2: the addition is seen."""
    runner = await harness.runner()
    first = await runner.run(gateway)
    added = await harness.mutate(gateway=gateway, op="add")
    second = await runner.run(gateway)
    third = await runner.run(gateway)
    store = harness.stores[0]
    assert first.outcome is RunOutcome.CHANGED
    assert (second.outcome, second.added, second.total_models) == (
        RunOutcome.CHANGED,
        1,
        first.total_models + 1,
    )
    assert any(key.endswith(added["model_id"]) for key in await models_of(store, gateway))
    assert third.outcome is RunOutcome.UNCHANGED  # every page fetched again, hashed as a whole
    [state] = await store.gateway_states([gateway])
    assert (state.etag, state.last_modified) == (None, None)  # nothing stands for the listing
    assert state.body_hash is not None
    assert not one_page(state.body_hash)


async def test_a_one_page_listing_keeps_its_conditional_get(harness: Harness) -> None:
    """A gateway answering in one page still gets its 304 (the ETag covers the listing)."""
    runner = await harness.runner()
    await runner.run("groq")
    again = await runner.run("groq")
    [state] = await harness.stores[0].gateway_states(["groq"])
    assert again.outcome is RunOutcome.NOT_MODIFIED
    assert one_page(state.body_hash)
    assert state.etag is not None


class Recording:
    """A fetcher that answers one page and records the validators each call carried."""

    def __init__(self) -> None:
        self.sent: list[Validators | None] = []

    async def get(self, url: str, **options: Any) -> FetchResponse:
        self.sent.append(options.get("validators"))
        return FetchResponse(
            url=url,
            status=304,
            body=b"",
            headers={"etag": '"v1"'},
            not_modified=True,
            attempts=1,
            elapsed_s=0.0,
        )


@pytest.mark.parametrize(
    ("previous", "conditional"),
    [
        ("xxh3-128:" + "0" * 32, False),  # a hash from before pages were counted
        ("xxh3-128/3p:" + "0" * 32, False),
        ("xxh3-128/1p:" + "0" * 32, True),
        (None, False),
    ],
)
async def test_validators_are_sent_only_for_a_listing_that_was_one_page(
    previous: str | None, conditional: bool
) -> None:
    """An ETag of page 1 is only asked about when page 1 was the whole listing."""
    fetcher = Recording()
    config = resolve_gateways(Settings(database_url="sqlite://"))["huggingface"].config
    adapter = build_adapter("huggingface", "huggingface")
    validators = Validators(etag='"v1"')
    await fetch_listing(
        fetcher, adapter, config, upstream=None, previous_hash=previous, validators=validators
    )
    assert fetcher.sent == [validators if conditional else None]


# -- keys stay home ------------------------------------------------------------------------------

STOLEN: list[Mapping[str, str]] = []
"""The headers of every request that reached the other origin."""


async def listing(request: Request) -> JSONResponse:
    port = request.url.port
    model = {"id": "acme/model-one", "name": "One", "pricing": {"prompt": "0", "completion": "0"}}
    links = {"next": f"http://localhost:{port}/elsewhere?cursor=2"}
    return JSONResponse({"data": [model], "links": links})


async def moved(request: Request) -> RedirectResponse:
    return RedirectResponse(f"http://localhost:{request.url.port}/elsewhere", status_code=302)


async def elsewhere(request: Request) -> JSONResponse:
    STOLEN.append(dict(request.headers))
    model = {"id": "evil/model", "name": "Evil", "pricing": {"prompt": "0", "completion": "0"}}
    return JSONResponse({"data": [model], "links": {"next": None}})


HOSTILE = Starlette(
    routes=[
        Route("/api/v1/models", listing),
        Route("/moved/api/v1/models", moved),
        Route("/elsewhere", elsewhere),
    ]
)


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    """A gateway whose next-page link and redirect point at another origin (same server,
    reached as ``localhost`` instead of ``127.0.0.1``)."""
    with upstream(HOSTILE) as base:
        yield base


async def hostile_run(tmp_path: Path, base_url: str, **options: Any) -> tuple[Any, set[str]]:
    """Run one OpenRouter-shaped gateway at ``base_url``, with a key; its summary and the ids
    stored."""
    gateway = GatewaySettings(
        adapter="openrouter", base_url=base_url, key_env="HOSTILE_KEY", options=options
    )
    summary, stored = await run_gateway(tmp_path, "hostile", gateway, key="sk-secret")
    return summary, set(stored)


@pytest.mark.parametrize("path", ["/api/v1/models", "/moved/api/v1/models"])
async def test_a_page_on_another_origin_gets_no_key_and_is_not_stored(
    tmp_path: Path, hostile: str, path: str
) -> None:
    """A next link or a redirect to another origin fails the run: no key sent, nothing stored."""
    before = len(STOLEN)
    summary, stored = await hostile_run(tmp_path, hostile + path)
    assert summary.outcome is RunOutcome.FAILED
    assert summary.error is not None
    assert "another origin (http://localhost:" in summary.error
    assert "options.allowed_origins" in summary.error
    assert len(STOLEN) == before
    assert stored == set()


async def test_an_allowed_origin_is_fetched_without_the_key(tmp_path: Path, hostile: str) -> None:
    """``options.allowed_origins`` lets the next page come from there, never with the key."""
    port = hostile.rsplit(":", 1)[1]
    summary, stored = await hostile_run(
        tmp_path, hostile + "/api/v1/models", allowed_origins=[f"http://localhost:{port}"]
    )
    assert (summary.outcome, summary.added) == (RunOutcome.CHANGED, 2)
    assert stored == {"acme/model-one", "evil/model"}
    assert "authorization" not in STOLEN[-1]
