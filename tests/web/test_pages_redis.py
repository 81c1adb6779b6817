"""The pages on the Redis backend (issue 10 item 1, issue 8 item 1): with ``MODELSYNC_REDIS_URL``
a page rendered by one process is served from Redis by another, and an invalidation made through
either process makes the page fresh in both (real Redis, real app, one SQLite database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelsync.cache.redis import RedisResponseCache
from modelsync.simulator.mutations import mutate
from web.harness import Service, open_redis_pair

REPRICED = "anthropic/claude-haiku-4.5"
PAGE = "/models/" + REPRICED


def builds(service: Service) -> int:
    """Pages and answers this process has rendered (a Redis hit renders nothing)."""
    return service.services.cache.builds


@pytest.mark.redis
async def test_a_page_is_shared_through_redis_and_fresh_in_both_processes_after_invalidation(
    tmp_path: Path,
) -> None:
    async with open_redis_pair(tmp_path) as (one, other):
        backend = other.services.cache.backend
        assert isinstance(backend, RedisResponseCache)
        await one.sync("openrouter")
        first = await one.client.get(PAGE)
        assert first.status_code == 200, first.text
        assert ">1 USD<" in first.text
        assert f"model:{REPRICED}" in first.headers["surrogate-key"].split()

        # rendered by one, answered from Redis by the other: same bytes and headers
        rendered, hits = builds(other), backend.hits
        shared = await other.client.get(PAGE)
        assert builds(other) == rendered
        assert backend.hits == hits + 1
        assert shared.content == first.content
        for name in ("etag", "surrogate-key", "cache-tag", "x-catalog-version"):
            assert shared.headers[name] == first.headers[name], name
        assert "script-src 'self'" in shared.headers["content-security-policy"]
        conditional = await other.client.get(PAGE, headers={"if-none-match": first.headers["etag"]})
        assert conditional.status_code == 304

        # a reprice synced by one: the page is fresh in both
        mutate(one.simulator, {"gateway": "openrouter", "op": "reprice",
                               "model_id": REPRICED, "factor": 3})  # fmt: skip
        report = await one.sync("openrouter")
        assert report["gateways"][0]["updated"] == 1
        for service in (other, one):
            after = await service.client.get(PAGE)
            assert after.status_code == 200
            assert ">3 USD<" in after.text, service
            assert int(after.headers["x-catalog-version"]) == report["catalog_version"]
            assert after.headers["etag"] != first.headers["etag"]

        # a path invalidated through the other process: one renders the page again
        rendered = builds(one)
        answer = await other.admin("POST", "/api/cache/invalidate", json={"paths": [PAGE]})
        assert answer.status_code == 200, answer.text
        again = await one.client.get(PAGE)
        assert builds(one) == rendered + 1
        assert ">3 USD<" in again.text
