"""The simulated gateways: paths, shapes, keys, pagination, and seeding with or without fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from simulator_helpers import (
    builtin_config,
    fetch,
    fixtures_dir,
    ids_of,
    items_of,
    key_headers,
    simulator,
    walk,
)

from modelsync.errors import ConfigError
from modelsync.gateways.registry import BUILTIN
from modelsync.simulator import SimulatorConfig, gateway_paths
from modelsync.simulator.catalogs import FIXTURES_ENV, find_fixtures_dir

EXPECTED_PATHS = {
    "openrouter": "/openrouter/api/v1/models",
    "groq": "/groq/openai/v1/models",
    "together": "/together/v1/models",
    "fireworks": "/fireworks/inference/v1/models",
    "google": "/google/v1beta/models",
    "cerebras": "/cerebras/v1/models",
    "nebius": "/nebius/v1/models",
    "xai": "/xai/v1/language-models",
    "huggingface": "/huggingface/v1/models",
    "aimo": "/aimo/api/v1/models",
    "near": "/near/v1/model/list",
    "fal": "/fal/v1/models",
    "vercel-ai-gateway": "/vercel-ai-gateway/v1/models",
}

Check = Callable[[Any], bool]

SHAPE_CHECKS: dict[str, Check] = {
    "openrouter": lambda m: isinstance(m["id"], str) and isinstance(m["pricing"]["prompt"], str),
    "groq": lambda m: m["object"] == "model" and isinstance(m["id"], str),
    "together": lambda m: isinstance(m["pricing"]["input"], (int, float)) and "display_name" in m,
    "fireworks": lambda m: m["id"].startswith("accounts/") and "owned_by" in m,
    "google": lambda m: m["name"].startswith("models/") and "supportedGenerationMethods" in m,
    "cerebras": lambda m: isinstance(m["id"], str) and "owned_by" in m,
    "nebius": lambda m: isinstance(m["pricing"]["prompt"], str) and "name" in m,
    "xai": lambda m: isinstance(m["prompt_text_token_price"], int) and "aliases" in m,
    "huggingface": lambda m: isinstance(m["providers"], list) and "architecture" in m,
    "aimo": lambda m: isinstance(m["name"], str) and isinstance(m["providers"], list),
    "near": lambda m: (
        isinstance(m["inputCostPerToken"]["amount"], (int, float)) and "metadata" in m
    ),
    "fal": lambda m: isinstance(m["endpoint_id"], str) and "display_name" in m["metadata"],
    "vercel-ai-gateway": lambda m: isinstance(m["pricing"]["input"], str) and "name" in m,
}
ENVELOPES = {
    "together": list,
    "google": ("models",),
    "near": ("models", "limit", "offset", "total"),
    "fal": ("models", "next_cursor", "has_more"),
    "xai": ("models",),
}


def test_paths_follow_the_registry() -> None:
    """Every registry gateway is served at /<name> + its base URL's path."""
    assert gateway_paths() == EXPECTED_PATHS
    assert set(EXPECTED_PATHS) == {spec.name for spec in BUILTIN}


@pytest.mark.parametrize("seeded", ["builtin", "fixtures"])
@pytest.mark.parametrize("gateway", sorted(EXPECTED_PATHS))
async def test_each_gateway_answers_in_its_shape(gateway: str, seeded: str) -> None:
    """Each list path answers 200 in the real API's shape, every item passing its check."""
    config = (
        builtin_config() if seeded == "builtin" else SimulatorConfig(fixtures_dir=fixtures_dir())
    )
    params = {"verbose": "true"} if gateway == "nebius" else {}
    async with simulator(config) as (client, _):
        response = await fetch(client, gateway, **params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    envelope = ENVELOPES.get(gateway, ("data",))
    if envelope is list:
        assert isinstance(document, list)
    else:
        assert isinstance(document, dict)
        assert set(envelope) <= set(document)
    items = items_of(gateway, document)
    assert items
    assert all(SHAPE_CHECKS[gateway](item) for item in items)


async def test_minimal_variants() -> None:
    """xAI's /v1/models and Nebius without verbose=true answer the minimal OpenAI shape."""
    async with simulator() as (client, _):
        xai = await client.get("/xai/v1/models", headers=key_headers("xai"))
        nebius = await fetch(client, "nebius")
    for response in (xai, nebius):
        assert response.json()["object"] == "list"
        for item in response.json()["data"]:
            assert set(item) <= {"id", "object", "created", "owned_by"}


KEYED = sorted(spec.name for spec in BUILTIN if spec.key_required)
OPEN = sorted(spec.name for spec in BUILTIN if not spec.key_required)


@pytest.mark.parametrize("gateway", KEYED)
async def test_key_required_gateways_refuse_without_a_key(gateway: str) -> None:
    """A gateway that needs a key answers 401 without one, in its error shape."""
    async with simulator() as (client, _):
        response = await client.get(gateway_paths()[gateway])
    assert response.status_code == 401
    assert "error" in response.json()


@pytest.mark.parametrize("gateway", OPEN)
async def test_open_gateways_answer_without_a_key(gateway: str) -> None:
    """A gateway whose list is public answers without credentials."""
    async with simulator() as (client, _):
        response = await client.get(gateway_paths()[gateway])
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("gateway", "headers", "params", "status"),
    [
        ("google", {"Authorization": "Bearer k"}, {}, 401),
        ("google", {}, {"key": "k"}, 200),
        ("fal", {"Authorization": "Bearer k"}, {}, 401),
        ("fal", {"Authorization": "Key k"}, {}, 200),
        ("groq", {"Authorization": "Bearer "}, {}, 401),
        ("groq", {"Authorization": "Basic abc"}, {}, 401),
        ("openrouter", {"Authorization": "Token x"}, {}, 401),
    ],
)
async def test_key_formats(
    gateway: str, headers: dict[str, str], params: dict[str, str], status: int
) -> None:
    """Each gateway's own key header is checked; any non-empty key is accepted."""
    async with simulator() as (client, _):
        response = await client.get(gateway_paths()[gateway], headers=headers, params=params)
    assert response.status_code == status


@pytest.mark.parametrize(
    ("gateway", "params", "min_pages"),
    [
        ("google", {}, 2),
        ("google", {"pageSize": "7"}, 4),
        ("google", {"pageSize": "1000"}, 2),
        ("near", {"limit": "4"}, 3),
        ("fal", {}, 2),
        ("fal", {"limit": "7"}, 5),
        ("huggingface", {"limit": "5"}, 3),
        ("huggingface", {}, 1),
    ],
)
async def test_pagination_returns_every_model_once(
    gateway: str, params: dict[str, str], min_pages: int
) -> None:
    """Walking the pages yields the whole catalog, each model exactly once, in order."""
    async with simulator() as (client, state):
        items, pages = await walk(client, gateway, params)
        expected = state.gateways[gateway].ids()
    assert ids_of(gateway, items) == expected
    assert pages >= min_pages


async def test_paging_over_the_recorded_catalogs() -> None:
    """Google's 44 and fal's 100 recorded models come back whole through the pages."""
    async with simulator(SimulatorConfig(fixtures_dir=fixtures_dir())) as (client, state):
        for gateway in ("google", "fal"):
            items, pages = await walk(client, gateway)
            assert ids_of(gateway, items) == state.gateways[gateway].ids()
            assert pages > 1


async def test_page_tokens_look_like_the_real_ones() -> None:
    """fal's cursor is the base64 page number; NEAR echoes limit, offset and total."""
    async with simulator() as (client, state):
        fal = (await fetch(client, "fal", limit="10")).json()
        near = (await fetch(client, "near", limit="2", offset="4")).json()
    assert fal["next_cursor"] == "Mg"
    assert fal["has_more"] is True
    total = len(state.gateways["near"].entries)
    assert (near["limit"], near["offset"], near["total"]) == (2, 4, total)


@pytest.mark.parametrize(
    ("gateway", "params"),
    [
        ("google", {"pageToken": "not-a-token"}),
        ("google", {"pageSize": "0"}),
        ("near", {"limit": "abc"}),
        ("fal", {"cursor": "%%%"}),
        ("fal", {"cursor": "MA"}),
        ("huggingface", {"limit": "5", "cursor": "bad"}),
    ],
)
async def test_bad_paging_parameters_are_a_400(gateway: str, params: dict[str, str]) -> None:
    """A bad page token or size answers 400 in the gateway's error shape."""
    async with simulator() as (client, _):
        response = await fetch(client, gateway, **params)
    assert response.status_code == 400


async def test_builtin_catalogs_when_fixtures_are_absent(tmp_path: Path) -> None:
    """An empty fixtures folder falls back to the built-in catalogs, 5-30 models each."""
    async with simulator(SimulatorConfig(fixtures_dir=tmp_path)) as (client, state):
        response = await client.get("/_admin/state")
    for name, gateway in response.json()["gateways"].items():
        assert gateway["source"] == f"builtin:data/{name}.json"
        assert 5 <= gateway["models"] <= 30
        assert len(set(state.gateways[name].ids())) == gateway["models"]


async def test_recorded_catalogs_when_fixtures_are_present() -> None:
    """With the fixtures folder, gateways start from their real recorded responses."""
    async with simulator(SimulatorConfig(fixtures_dir=fixtures_dir())) as (client, _):
        gateways = (await client.get("/_admin/state")).json()["gateways"]
    assert gateways["openrouter"]["models"] == 364
    assert gateways["google"]["models"] == 44
    assert gateways["fal"]["models"] == 100
    assert gateways["xai"]["source"].startswith("fixtures:providers/xai/")
    for name in ("aimo", "near", "huggingface"):
        assert gateways[name]["source"].startswith("builtin:")


def test_find_fixtures_dir(tmp_path: Path) -> None:
    """Explicit folder, then the environment variable, then shared/fixtures above the cwd."""
    found = tmp_path / "shared" / "fixtures"
    found.mkdir(parents=True)
    deep = tmp_path / "work" / "main"
    deep.mkdir(parents=True)
    assert find_fixtures_dir(None, {}, deep) == found
    assert find_fixtures_dir(tmp_path, {FIXTURES_ENV: str(found)}, deep) == tmp_path
    assert find_fixtures_dir(None, {FIXTURES_ENV: str(deep)}, Path("/")) == deep
    assert find_fixtures_dir(None, {FIXTURES_ENV: "none"}, deep) is None
    assert find_fixtures_dir(None, {}, Path("/")) is None
    with pytest.raises(ConfigError, match="does not exist"):
        find_fixtures_dir(tmp_path / "missing", {}, deep)
    with pytest.raises(ConfigError, match="is not a folder"):
        find_fixtures_dir(None, {FIXTURES_ENV: str(tmp_path / "missing")}, deep)
