"""Helpers shared by the simulator tests: clients on the ASGI app, keys, and listing walks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from conftest import shared_fixture
from modelsync.clock import ManualClock
from modelsync.simulator import SimulatorConfig, create_simulator_app, gateway_paths
from modelsync.simulator.shapes import SHAPES, entry_id
from modelsync.simulator.state import SimulatorState

BASE = "http://sim"


def key_headers(gateway: str) -> dict[str, str]:
    """Credentials the gateway accepts."""
    if gateway == "google":
        return {"x-goog-api-key": "test-key"}
    if gateway == "fal":
        return {"Authorization": "Key test-key"}
    return {"Authorization": "Bearer test-key"}


def builtin_config(**changes: Any) -> SimulatorConfig:
    """A config on the built-in catalogs, with a frozen clock."""
    return SimulatorConfig(use_fixtures=False, clock=ManualClock(), **changes)


def fixtures_dir() -> Path:
    """The recorded fixtures folder (skips the test when it is absent)."""
    return shared_fixture("providers").parent


@asynccontextmanager
async def simulator(
    config: SimulatorConfig | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, SimulatorState]]:
    """A client on a fresh simulator app, and the app's simulator state."""
    app = create_simulator_app(config or builtin_config())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client, app.state.simulator


def items_of(gateway: str, document: Any) -> Any:
    """The list (or, under a fault, whatever stands there) of a gateway's document."""
    key = SHAPES[gateway].list_key
    return document if key is None else document[key]


def ids_of(gateway: str, items: list[Any]) -> list[str]:
    """The model ids of raw items."""
    return [entry_id(SHAPES[gateway], item) for item in items]


async def fetch(client: httpx.AsyncClient, gateway: str, **params: str) -> httpx.Response:
    """One GET of the gateway's list path, with its key."""
    return await client.get(gateway_paths()[gateway], params=params, headers=key_headers(gateway))


async def walk(
    client: httpx.AsyncClient, gateway: str, params: dict[str, str] | None = None
) -> tuple[list[Any], int]:
    """Every item of the gateway's listing, following its pagination; and the page count."""
    url, query = gateway_paths()[gateway], dict(params or {})
    items: list[Any] = []
    for pages in range(1, 200):
        response = await client.get(url, params=query or None, headers=key_headers(gateway))
        assert response.status_code == 200, response.text
        document = response.json()
        page = items_of(gateway, document)
        items += page
        if gateway == "google" and document.get("nextPageToken"):
            query["pageToken"] = document["nextPageToken"]
        elif gateway == "near" and document["offset"] + len(page) < document["total"]:
            query["offset"] = str(document["offset"] + len(page))
        elif gateway == "fal" and document["has_more"]:
            query["cursor"] = document["next_cursor"]
        elif gateway == "huggingface" and "next" in response.links:
            url, query = response.links["next"]["url"], {}
        else:
            return items, pages
    raise AssertionError(f"{gateway}: the pagination never ended")
