"""The default body limit admits the default model-count bound of an OpenRouter-shaped catalog
(issue 12, item 4): the arithmetic on every recorded catalog, and a real fetch past the old limit.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conftest import SHARED_FIXTURES, serving, shared_fixture
from modelsync.config import GuardSettings, HttpSettings
from modelsync.fetch import Fetcher, FetchPolicy, build_client

MODEL_COUNT_BOUND = GuardSettings().max_models
"""The configured default count bound of one gateway's snapshot (the hardening issue's)."""
OLD_LIMIT = 32 * 1024 * 1024
"""The limit before: an OpenRouter catalog above about 26,000 models failed."""
CATALOGS = sorted(
    path.name
    for path in (SHARED_FIXTURES / "providers" / "openrouter").glob("openrouter_api_v1_models_*")
    if "endpoints" not in path.name and "with_headers" not in path.name
) or ["openrouter_api_v1_models_2026-05-15_models.dev_root_models.json"]


def entries_of(name: str) -> tuple[bytes, list[object]]:
    """A recorded OpenRouter list answer, as served, and its entries."""
    body = shared_fixture(f"providers/openrouter/{name}").read_bytes()
    return body, orjson.loads(body)["data"]


@pytest.mark.shared_fixtures
@pytest.mark.parametrize("name", CATALOGS)
def test_the_default_limit_admits_the_count_bound_of_openrouter_models(name: str) -> None:
    """The count bound's worth of models, each the size of a recorded catalog's as served
    (envelope and formatting included), fits the default body limit."""
    body, entries = entries_of(name)
    per_model = len(body) / len(entries)
    assert per_model * MODEL_COUNT_BOUND <= HttpSettings().max_body_bytes, per_model


def openrouter_body(count: int) -> bytes:
    """An OpenRouter-shaped answer of ``count`` models: the newest recorded entries, repeated
    under fresh ids."""
    _, entries = entries_of(CATALOGS[-1])
    models = []
    for number in range(count):
        entry = dict(entries[number % len(entries)])  # type: ignore[call-overload]
        entry["id"] = f"{entry['id']}-{number}"
        models.append(entry)
    return orjson.dumps({"data": models})


@pytest.fixture(scope="module")
def big_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real server answering 30,000 OpenRouter-shaped models (over the old 32 MiB), gzipped."""
    body = openrouter_body(30_000)
    compressed = gzip.compress(body, compresslevel=1)
    headers = {"content-type": "application/json", "content-encoding": "gzip"}

    async def models(request: Request) -> Response:
        return Response(compressed, headers=headers)

    app = Starlette(routes=[Route("/api/v1/models", models)])
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    with serving(uvicorn.Server(config)) as base:
        yield base + "/api/v1/models", len(body)


@pytest.mark.slow
@pytest.mark.shared_fixtures
async def test_a_catalog_past_the_old_limit_is_fetched_whole(big_catalog: tuple[str, int]) -> None:
    """30,000 OpenRouter-shaped models, which the old limit refused, arrive whole under the
    default settings."""
    url, size = big_catalog
    assert size > OLD_LIMIT
    policy = FetchPolicy.from_settings(HttpSettings())
    async with build_client(policy) as client:
        response = await Fetcher(client, policy).get(url)
    assert len(response.body) == size
    assert len(orjson.loads(response.body)["data"]) == 30_000


def test_the_limit_and_the_count_bound_are_documented_together() -> None:
    """The README's settings table names the body limit beside the count bound it admits."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    row = next(line for line in readme.splitlines() if "MODELSYNC_HTTP__MAX_BODY_BYTES" in line)
    assert "100,000" in row
    assert "MODELSYNC_GUARD__MAX_MODELS" in row
