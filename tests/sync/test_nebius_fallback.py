"""Nebius' verbose listing, and the plain one when it is refused (issue 9 item 3), through the
runner, a real HTTP server (uvicorn on port 0) and a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from upstream import run_gateway, upstream

from modelsync.config import GatewaySettings
from modelsync.domain import RunOutcome
from modelsync.store.base import StoredModel
from modelsync.sync.runner import RunSummary

SEEN: list[dict[str, str]] = []
VERBOSE = {
    "data": [
        {
            "id": "meta-llama/Llama-3.3-70B-Instruct",
            "object": "model",
            "owned_by": "system",
            "name": "Llama 3.3 70B",
            "context_length": 131072,
            "pricing": {"prompt": "0.00000013", "completion": "0.0000004"},
        }
    ]
}
PLAIN = {"data": [{"id": "meta-llama/Llama-3.3-70B-Instruct", "object": "model"}]}


def listing(refusal: int | None) -> Any:
    async def route(request: Request) -> Response:
        SEEN.append(dict(request.query_params))
        if request.query_params.get("verbose") == "true":
            if refusal is not None:
                return JSONResponse({"detail": "unknown parameter verbose"}, status_code=refusal)
            return JSONResponse(VERBOSE)
        return JSONResponse(PLAIN)

    return route


APP = Starlette(
    routes=[
        Route("/rich/v1/models", listing(None)),
        *(Route(f"/r{code}/v1/models", listing(code)) for code in (400, 404, 422, 500)),
    ]
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with upstream(APP) as base:
        yield base


async def run_nebius(tmp_path: Path, base_url: str) -> tuple[RunSummary, dict[str, StoredModel]]:
    """Run the shipped nebius gateway (``?verbose=true``) at ``base_url``."""
    return await run_gateway(tmp_path, "nebius", GatewaySettings(base_url=base_url), key="key")


async def test_the_verbose_listing_gives_prices(tmp_path: Path, server: str) -> None:
    """``?verbose=true`` is asked first; its per-token prices become USD per 1M."""
    summary, stored = await run_nebius(tmp_path, server + "/rich/v1/models")
    assert (summary.outcome, summary.added) == (RunOutcome.CHANGED, 1)
    [model] = stored.values()
    assert model.model.pricing.prompt == Decimal("0.13")
    assert model.model.context_length == 131072
    assert SEEN[-1] == {"verbose": "true"}


@pytest.mark.parametrize("refusal", [400, 404, 422])
async def test_a_refused_verbose_listing_falls_back_to_the_plain_one(
    tmp_path: Path, server: str, refusal: int
) -> None:
    """A server that refuses ``verbose`` is asked once more without it: models, no prices."""
    SEEN.clear()
    summary, stored = await run_nebius(tmp_path, f"{server}/r{refusal}/v1/models")
    assert (summary.outcome, summary.added) == (RunOutcome.CHANGED, 1)
    assert SEEN == [{"verbose": "true"}, {}]
    [model] = stored.values()
    assert model.model.pricing.prompt is None


async def test_a_server_error_is_not_a_refusal(tmp_path: Path, server: str) -> None:
    """A 500 is a failed run (retried by the schedule), never a silent plain listing."""
    summary, stored = await run_nebius(tmp_path, server + "/r500/v1/models")
    assert summary.outcome is RunOutcome.FAILED
    assert stored == {}
