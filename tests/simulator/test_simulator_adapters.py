"""Every gateway's full (paged) listing from the simulator, parsed by its real adapter."""

from __future__ import annotations

import importlib.util
from typing import Any
from urllib.parse import urlsplit

import pytest
from simulator_helpers import BASE, builtin_config, fixtures_dir, simulator

from modelsync.gateways.base import GatewayConfig, Page
from modelsync.gateways.registry import ADAPTERS, BUILTIN, build_adapter
from modelsync.simulator import SimulatorConfig
from modelsync.simulator.shapes import get_path


def _adapter_missing(kind: str) -> bool:
    return importlib.util.find_spec(ADAPTERS[kind].partition(":")[0]) is None


def _to_simulator(url: str, gateway: str) -> str:
    if url.startswith(BASE):
        return url
    parts = urlsplit(url)
    return f"{BASE}/{gateway}{parts.path}" + (f"?{parts.query}" if parts.query else "")


async def _pages(client: Any, gateway: str) -> tuple[Any, list[Page]]:
    spec = next(spec for spec in BUILTIN if spec.name == gateway)
    adapter = build_adapter(spec.adapter, gateway)
    config = GatewayConfig(
        name=gateway, base_url=spec.base_url, api_key="test-key", options=spec.options
    )
    request: Any = adapter.first_request(config)
    pages: list[Page] = []
    while request is not None and len(pages) < 50:
        response = await client.get(
            _to_simulator(request.url, gateway),
            params=dict(request.params) or None,
            headers=dict(request.headers),
        )
        assert response.status_code == 200, response.text
        page = Page(response.json(), {k.lower(): v for k, v in response.headers.items()})
        pages.append(page)
        request = adapter.next_request(config, request, page)
    return adapter, pages


def _expected(gateway: str, entries: list[Any]) -> int:
    if gateway == "fireworks":  # add-on fine-tunes of other accounts are private
        return sum(
            1
            for entry in entries
            if str(entry["id"]).startswith("accounts/fireworks/")
            or not str(entry.get("kind", "")).endswith("_ADDON")
        )
    if gateway == "fal":
        return sum(
            1
            for entry in entries
            if "training" not in (entry["metadata"].get("kind"), entry["metadata"].get("category"))
        )
    if gateway == "aimo":
        return len({get_path(entry, "name") for entry in entries})
    if gateway == "xai":  # each alias is an offer of its own (issue 9 item 3)
        ids = {entry["id"] for entry in entries}
        aliases = {alias for entry in entries for alias in entry.get("aliases") or ()}
        return len(ids | aliases)
    return len(entries)


@pytest.mark.parametrize("seeded", ["builtin", "fixtures"])
@pytest.mark.parametrize("spec", BUILTIN, ids=[spec.name for spec in BUILTIN])
async def test_adapter_parses_the_whole_listing(spec: Any, seeded: str) -> None:
    """The real adapter walks the simulator's pages and gets every model."""
    if _adapter_missing(spec.adapter):
        pytest.skip(f"adapter module for {spec.adapter} not written yet")
    config = (
        builtin_config() if seeded == "builtin" else SimulatorConfig(fixtures_dir=fixtures_dir())
    )
    async with simulator(config) as (client, state):
        adapter, pages = await _pages(client, spec.name)
        entries = state.gateways[spec.name].entries
    models = adapter.parse(pages)
    assert len(models) == _expected(spec.name, entries)
    assert len({model.gateway_model_id for model in models}) == len(models)
    if spec.name in ("google", "fal") and seeded == "fixtures":
        assert len(pages) > 1


async def test_adapters_see_mutations() -> None:
    """A repriced and a renamed model come out of the adapter changed."""
    if _adapter_missing("openrouter"):
        pytest.skip("adapter module for openrouter not written yet")
    async with simulator() as (client, _):
        before = {m.gateway_model_id: m for m in (await _parse(client, "openrouter"))}
        await client.post(
            "/_admin/mutate",
            json={
                "gateway": "openrouter",
                "op": "reprice",
                "model_id": "openai/gpt-5",
                "factor": 2,
            },
        )
        await client.post(
            "/_admin/mutate",
            json={
                "gateway": "openrouter",
                "op": "rename",
                "model_id": "openai/gpt-5",
                "name": "GPT-5 X",
            },
        )
        after = {m.gateway_model_id: m for m in (await _parse(client, "openrouter"))}
    old, new = before["openai/gpt-5"], after["openai/gpt-5"]
    assert old.pricing.prompt is not None
    assert new.pricing.prompt == old.pricing.prompt * 2
    assert new.name == "GPT-5 X"


async def _parse(client: Any, gateway: str) -> list[Any]:
    adapter, pages = await _pages(client, gateway)
    return list(adapter.parse(pages))
