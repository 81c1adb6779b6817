"""Nebius' verbose listing, and the plain one when it is refused (issue 9 item 3), through the
runner, a real HTTP server (uvicorn on port 0) and a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from runner_harness import POLICY, models_of
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conftest import serving
from modelsync.clock import SystemClock
from modelsync.config import GatewaySettings, Settings, resolve_gateways
from modelsync.domain import RunOutcome
from modelsync.fetch import Fetcher, build_client
from modelsync.guard import GuardPolicy
from modelsync.runtime import registrations
from modelsync.store.sql import SqlStore
from modelsync.sync.runner import RunSummary, SyncRunner

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
    config = uvicorn.Config(APP, lifespan="off", log_level="warning", access_log=False)
    with serving(uvicorn.Server(config)) as base:
        yield base


async def run_nebius(tmp_path: Path, base_url: str) -> tuple[RunSummary, dict[str, Any]]:
    """Run the shipped nebius gateway (``?verbose=true``) at ``base_url``."""
    settings = Settings(
        database_url="sqlite://",
        gateways={"nebius": GatewaySettings(base_url=base_url)},
        api_keys={"nebius": "key"},
    )
    gateways = {"nebius": resolve_gateways(settings)["nebius"]}
    store = SqlStore(f"sqlite+aiosqlite:///{tmp_path / 'nebius.db'}")
    await store.open()
    try:
        await store.register_gateways(registrations(gateways))
        async with build_client(POLICY) as client:
            runner = SyncRunner(
                store=store,
                fetcher=Fetcher(client, POLICY),
                gateways=gateways,
                guard=GuardPolicy(),
                clock=SystemClock(),
                owner="test",
            )
            summary = await runner.run("nebius")
        return summary, await models_of(store, "nebius")
    finally:
        await store.close()


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
