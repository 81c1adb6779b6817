"""The read API's tagged response cache (issue 8 item 1) and what invalidates it (item 2), on the
real app (its lifespan, SQLite, the simulator upstream)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from modelsync.cache.lru import MemoryResponseCache
from modelsync.cache.redis import RedisResponseCache
from modelsync.simulator.faults import parse_fault
from modelsync.simulator.mutations import mutate
from modelsync.sync.runner import AppliedRun
from web.harness import Service, body_of, event, open_redis_pair, open_service, seed_headers

SHARED_MODEL = "openai/gpt-oss-120b"
CACHED = [
    ("/api/models", {}),
    ("/api/models", {"gateway": "groq", "q": "llama"}),
    (f"/api/models/{SHARED_MODEL}", {}),
    ("/api/changes", {"limit": "5"}),
    ("/api/sync/status", {}),
]


def memory_cache(service: Service) -> MemoryResponseCache:
    backend = service.services.cache.backend
    assert isinstance(backend, MemoryResponseCache)
    return backend


def surrogate_keys(response: httpx.Response) -> set[str]:
    """The tags of an answer, checked to agree between the Fastly and Cloudflare headers."""
    keys = set(response.headers["surrogate-key"].split(" "))
    assert set(response.headers["cache-tag"].split(",")) == keys
    return keys


@pytest.mark.parametrize(("path", "params"), CACHED)
async def test_cached_answers_carry_their_headers_and_answer_304(
    synced: Service, path: str, params: dict[str, str]
) -> None:
    """Built once, then served from the cache (no statement): same bytes, ETag, Cache-Control,
    Surrogate-Key and Cache-Tag, X-Catalog-Version; If-None-Match answers 304."""
    first = await synced.client.get(path, params=params)
    assert first.status_code == 200, first.text
    hits = memory_cache(synced).hits
    again = await synced.client.get(path, params=params)
    assert memory_cache(synced).hits == hits + 1
    assert again.content == first.content
    for name in ("etag", "cache-control", "surrogate-key", "cache-tag", "x-catalog-version"):
        assert again.headers[name] == first.headers[name], name
    assert first.headers["cache-control"] == "public, max-age=0, must-revalidate"
    assert "stale-while-revalidate" not in first.headers["cache-control"]
    assert int(first.headers["x-catalog-version"]) >= 1
    assert first.headers["content-type"] == "application/json"
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    conditional = await synced.client.get(path, params=params, headers={"if-none-match": etag})
    assert conditional.status_code == 304
    assert conditional.content == b""
    assert conditional.headers["etag"] == etag
    assert surrogate_keys(conditional) == surrogate_keys(first)
    other = await synced.client.get(path, params=params, headers={"if-none-match": '"nope"'})
    assert other.status_code == 200
    head = await synced.client.head(path, params=params)
    assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", etag)


async def test_each_answer_carries_the_tags_of_what_it_shows(synced: Service) -> None:
    """A model: its tag and every offering gateway's; lists: models:all and their gateways'
    (search also models:search); changes and status: their own tags."""
    model = await synced.client.get(f"/api/models/{SHARED_MODEL}")
    gateways = {offer["gateway"] for offer in model.json()["offers"]}
    assert len(gateways) > 1
    assert surrogate_keys(model) == {f"model:{SHARED_MODEL}"} | {
        f"models:gateway:{name}" for name in gateways
    }
    listed = await synced.client.get("/api/models", params={"gateway": "groq", "q": "llama"})
    assert surrogate_keys(listed) == {"models:all", "models:gateway:groq", "models:search"}
    everything = surrogate_keys(await synced.client.get("/api/models"))
    assert {"models:all", "models:gateway:groq", "models:gateway:openrouter"} <= everything
    assert "models:search" not in everything
    changes = await synced.client.get("/api/changes", params={"gateway": "groq"})
    assert surrogate_keys(changes) == {"changes", "models:gateway:groq"}
    assert surrogate_keys(await synced.client.get("/api/sync/status")) == {"sync:status"}


async def test_cache_control_is_configurable(tmp_path: Path) -> None:
    """``MODELSYNC_CACHE__*`` set Cache-Control; stale-while-revalidate only when asked."""
    cache = {"max_age_s": 5, "s_maxage_s": 600, "stale_while_revalidate_s": 30}
    async with open_service(tmp_path, run_scheduler=False, cache=cache) as service:
        await service.sync("groq")
        response = await service.client.get("/api/models")
    assert response.headers["cache-control"] == (
        "public, max-age=5, s-maxage=600, stale-while-revalidate=30"
    )


async def test_disabled_cache_builds_every_answer(tmp_path: Path) -> None:
    """``MODELSYNC_CACHE__ENABLED=false``: nothing stored, every read from the database."""
    async with open_service(tmp_path, run_scheduler=False, cache={"enabled": False}) as service:
        await service.sync("groq")
        await service.client.get("/api/models")
        await service.client.get("/api/models")
        assert memory_cache(service).stores == 0


async def test_a_sync_makes_the_next_read_fresh(synced: Service) -> None:
    """A repriced model: its cached answer, the lists and the history are rebuilt at once."""
    model_path = f"/api/models/{SHARED_MODEL}"
    assert (await synced.client.get(model_path)).status_code == 200
    listed = await synced.client.get("/api/models", params={"gateway": "openrouter"})
    history = await synced.client.get("/api/changes", params={"limit": "1000"})
    mutate(synced.simulator, {"gateway": "openrouter", "op": "reprice", "factor": 3})
    report = await synced.sync("openrouter")
    assert report["gateways"][0]["updated"] == 1
    after_list = await synced.client.get("/api/models", params={"gateway": "openrouter"})
    assert after_list.content != listed.content
    assert int(after_list.headers["x-catalog-version"]) == report["catalog_version"]
    after_history = await synced.client.get("/api/changes", params={"limit": "1000"})
    assert len(after_history.json()["changes"]) == len(history.json()["changes"]) + 1
    changed = after_history.json()["changes"][-1]["id"]
    fresh = await synced.client.get(f"/api/models/{changed}")
    database = await synced.services.runtime.store.served_offers(changed)
    assert fresh.json()["offers"] == orjson.loads(orjson.dumps(database.rows))


async def test_a_run_that_marks_models_missing_invalidates_them(synced: Service) -> None:
    """No change is recorded for a model gone missing, but its served status changes: its
    cached answer is dropped (and so is it when it comes back unchanged)."""
    removed = mutate(synced.simulator, {"gateway": "groq", "op": "remove"})["model_id"]
    listing = (await synced.client.get("/api/models", params={"gateway": "groq"})).json()
    canonical = next(m["id"] for m in listing["models"] if m["gateway_model_id"] == removed)
    path = f"/api/models/{canonical}"

    def groq_status(answer: httpx.Response) -> str:
        offers = answer.json()["offers"]
        return str(next(o["status"] for o in offers if o["gateway"] == "groq"))

    assert groq_status(await synced.client.get(path)) == "active"
    report = await synced.sync("groq")
    assert report["gateways"][0]["missing"] == 1
    assert groq_status(await synced.client.get(path)) == "missing"
    mutate(synced.simulator, {"gateway": "groq", "op": "restore", "model_id": removed})
    await synced.sync("groq")
    assert groq_status(await synced.client.get(path)) == "active"


async def test_invalidate_api_drops_entries_and_says_what_it_did(synced: Service) -> None:
    """``POST /api/cache/invalidate``: the covered entries are rebuilt, the others kept."""
    await synced.client.get(f"/api/models/{SHARED_MODEL}")
    await synced.client.get("/api/models", params={"gateway": "groq"})
    cache = memory_cache(synced)
    body = {"type": "model-detail", "model_id": SHARED_MODEL}
    answer = await synced.admin("POST", "/api/cache/invalidate", json=body)
    assert answer.status_code == 200
    assert answer.json()["invalidated"]["tags"] == [f"model:{SHARED_MODEL}"]
    assert answer.json()["purgers"] == []
    assert cache.lookup(f"/api/models/{SHARED_MODEL}") is None
    assert cache.lookup("/api/models?gateway=groq") is not None


async def test_purgers_are_offered_every_invalidation(synced: Service) -> None:
    """A registered purger is offered each invalidation and named in the answer."""
    queued: list[tuple[set[str], str]] = []

    def enqueue(invalidation: Any, reason: str) -> bool:
        queued.append((set(invalidation.tags), reason))
        return True

    synced.services.invalidations.add_purger("recorder", enqueue)
    answer = await synced.admin("POST", "/api/cache/invalidate", json={"tags": ["rankings"]})
    assert answer.json()["purgers"] == ["recorder"]
    assert queued == [({"rankings"}, "api")]


async def test_a_webhook_invalidates_the_canonical_ids_of_raw_gateway_ids(
    synced: Service,
) -> None:
    """``accounts/fireworks/models/x`` invalidates ``model:fireworks/x``, as the adapter maps it."""
    raw = "accounts/fireworks/models/deepseek-v3p1"
    listing = (await synced.client.get("/api/models", params={"gateway": "fireworks"})).json()
    canonical = next(m["id"] for m in listing["models"] if m["gateway_model_id"] == raw)
    assert canonical != raw
    await synced.client.get(f"/api/models/{canonical}")
    cache = memory_cache(synced)
    assert cache.lookup(f"/api/models/{canonical}") is not None
    document = event(synced.clock, gateway="fireworks", models=(raw, "accounts/fireworks/models/x"))
    body = body_of(document)
    response = await synced.post_webhook(body, seed_headers(body))
    assert response.status_code == 202, response.text
    tags = response.json()["cache"]["tags"]
    assert f"model:{canonical}" in tags
    assert "model:fireworks/x" in tags
    assert f"model:{raw}" not in tags
    assert cache.lookup(f"/api/models/{canonical}") is None
    await synced.idle()


async def test_health_changes_invalidate_the_gateway_status(synced: Service) -> None:
    """ok -> degraded -> failing with the breaker open -> recovered: each move drops the
    gateway-status tags (lists, search, rankings, the gateway's pages); every run drops the
    status answer, which is rebuilt at once."""
    manifest = synced.services.manifest
    groq = synced.simulator.gateway("groq")
    for failures in range(1, 4):
        groq.faults.append(parse_fault({"kind": "http_500", "times": 1}, gateway="groq"))
        await synced.admin("POST", "/api/sync/models", json={"gateway": "groq"})
        await synced.services.health.drain()
        status = (await synced.client.get("/api/sync/status", params={"gateway": "groq"})).json()
        assert status["gateways"][0]["consecutive_failures"] == failures
    assert status["gateways"][0]["status"] == "failing"
    await synced.sync("groq")
    await synced.services.health.drain()
    reasons = [record.reason for record in reversed(manifest.recent())]
    moves = [reason for reason in reasons if reason.startswith("health groq")]
    assert moves == [
        "health groq pending -> ok",  # the first sync: never synced before (issue 7: 7)
        "health groq ok -> degraded",
        "health groq degraded -> failing+open-breaker",
        "health groq failing+open-breaker -> ok",
    ], reasons
    assert "run groq ended" in reasons
    status = (await synced.client.get("/api/sync/status", params={"gateway": "groq"})).json()
    assert status["gateways"][0]["status"] == "ok"


async def test_concurrent_readers_during_invalidations_never_get_stale_answers(
    synced: Service,
) -> None:
    """Readers hammer one model and a list while syncs reprice that model: every answer shows
    at least the catalog version whose invalidation finished before its request began (each
    sync here changes the model, so an older version is an entry the invalidation covers)."""
    invalidated = {"version": 0}

    async def after_invalidation(applied: AppliedRun) -> None:
        invalidated["version"] = applied.result.catalog_version

    # listeners run in order: this one after the cache's, once its invalidation is done
    synced.services.runtime.runner.add_listener(after_invalidation)
    first = mutate(synced.simulator, {"gateway": "openrouter", "op": "reprice", "factor": 2})
    raw = first["model_id"]
    await synced.sync("openrouter")
    listing = (await synced.client.get("/api/models", params={"gateway": "openrouter"})).json()
    target = next(m["id"] for m in listing["models"] if m["gateway_model_id"] == raw)
    paths = [(f"/api/models/{target}", {}), ("/api/models", {"gateway": "openrouter"})]
    stale: list[tuple[str, int, int]] = []
    reads = 0
    done = asyncio.Event()

    async def reader(path: str, params: dict[str, str]) -> None:
        nonlocal reads
        while not done.is_set():
            committed = invalidated["version"]
            answer = await synced.client.get(path, params=params)
            shown = answer.json()["catalog_version"]
            if shown < committed:
                stale.append((path, shown, committed))
            reads += 1
            await asyncio.sleep(0)  # a hit does no I/O in process: let the writer run

    async def writer() -> None:
        for _ in range(8):
            mutate(
                synced.simulator,
                {"gateway": "openrouter", "op": "reprice", "factor": 2, "model_id": raw},
            )
            report = await synced.sync("openrouter")
            assert report["gateways"][0]["updated"] == 1
        done.set()

    async with asyncio.timeout(50):
        await asyncio.gather(writer(), *(reader(*paths[n % 2]) for n in range(6)))
    assert stale == []
    assert reads > 16


async def test_a_read_that_began_before_an_invalidation_is_not_cached_as_fresh(
    synced: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read holds the old data while a sync commits and invalidates: it answers what it read
    (it began first), but the next read is fresh, not that answer from the cache."""
    store = synced.services.runtime.store
    raw = mutate(synced.simulator, {"gateway": "openrouter", "op": "reprice", "factor": 2})[
        "model_id"
    ]
    await synced.sync("openrouter")
    listing = (await synced.client.get("/api/models", params={"gateway": "openrouter"})).json()
    target = next(m["id"] for m in listing["models"] if m["gateway_model_id"] == raw)
    path = f"/api/models/{target}"
    read_done, release = asyncio.Event(), asyncio.Event()
    original = store.served_offers

    async def held(model_id: str) -> Any:
        rows = await original(model_id)
        read_done.set()
        await release.wait()
        return rows

    monkeypatch.setattr(store, "served_offers", held)
    slow = asyncio.create_task(synced.client.get(path))
    await read_done.wait()
    monkeypatch.setattr(store, "served_offers", original)
    mutate(
        synced.simulator, {"gateway": "openrouter", "op": "reprice", "factor": 2, "model_id": raw}
    )
    report = await synced.sync("openrouter")
    release.set()
    old = (await slow).json()
    assert old["catalog_version"] < report["catalog_version"]
    fresh = (await synced.client.get(path)).json()
    assert fresh["catalog_version"] == report["catalog_version"]


@pytest.mark.redis
async def test_processes_sharing_redis_share_the_cache_and_its_invalidations(
    tmp_path: Path,
) -> None:
    """Two services on one database and one Redis (``MODELSYNC_REDIS_URL``): what one caches
    the other answers from Redis; what one invalidates the other rebuilds."""
    async with open_redis_pair(tmp_path) as (one, other):
        backend = other.services.cache.backend
        assert isinstance(backend, RedisResponseCache)
        await one.sync("openrouter")
        path = f"/api/models/{SHARED_MODEL}"
        first = await one.client.get(path)
        hits = backend.hits
        shared = await other.client.get(path)
        assert backend.hits == hits + 1
        assert shared.content == first.content
        assert shared.headers["etag"] == first.headers["etag"]
        assert shared.headers["surrogate-key"] == first.headers["surrogate-key"]
        body = {"type": "model-detail", "model_id": SHARED_MODEL}
        assert (await one.admin("POST", "/api/cache/invalidate", json=body)).is_success
        misses = backend.misses
        await other.client.get(path)
        assert backend.misses == misses + 1
