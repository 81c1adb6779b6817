"""The read API: one statement a request whatever the catalog's size, and every answer exactly in
its documented schema (the answers are written by orjson, not validated by FastAPI)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from jsonschema_rs import Draft202012Validator

from modelsync.simulator.mutations import mutate
from modelsync.store.base import GatewayRegistration
from modelsync.store.sql import SqlStore
from web.harness import Service

SHARED_MODEL = "openai/gpt-oss-120b"
READS = [
    ("/api/models", {}, "ModelsOut"),
    ("/api/models", {"include_removed": "true", "limit": "5000"}, "ModelsOut"),
    ("/api/models", {"q": "gpt", "gateway": "groq"}, "ModelsOut"),
    ("/api/models", {"q": "zz"}, "ModelsOut"),
    ("/api/models", {"provider": "nobody"}, "ModelsOut"),
    (f"/api/models/{SHARED_MODEL}", {}, "OffersOut"),
    ("/api/changes", {"limit": "1000"}, "ChangesOut"),
    ("/api/changes", {"since": "5", "gateway": "groq"}, "ChangesOut"),
    ("/api/sync/status", {}, "StatusOut"),
    ("/api/sync/status", {"gateway": "groq"}, "StatusOut"),
    ("/api/sync/models", {}, "StatusOut"),
]


@pytest.fixture
async def lived(synced: Service) -> Service:
    """A synced service whose history holds every kind of change and every model status."""
    removed = mutate(synced.simulator, {"gateway": "groq", "op": "remove"})["model_id"]
    mutate(synced.simulator, {"gateway": "groq", "op": "remove"})
    mutate(synced.simulator, {"gateway": "openrouter", "op": "reprice", "factor": 2})
    await synced.sync("groq")  # missing
    await synced.sync("openrouter")  # updated
    await synced.sync("groq")  # both removed
    mutate(synced.simulator, {"gateway": "groq", "op": "restore", "model_id": removed})
    mutate(synced.simulator, {"gateway": "groq", "op": "remove"})
    await synced.sync("groq")  # one restored, another one missing
    return synced


def validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator of the named response schema of the app's OpenAPI document."""
    root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return Draft202012Validator(root)


async def test_every_read_answer_validates_against_the_openapi_schema(lived: Service) -> None:
    """Each read answer matches its schema, whose objects admit no undocumented key."""
    document = (await lived.client.get("/openapi.json")).json()
    assert document["components"]["schemas"]["ModelOut"]["additionalProperties"] is False
    statuses: set[str] = set()
    kinds: set[str] = set()
    for path, params, schema in READS:
        response = await lived.client.get(path, params=params)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        errors = [error.message for error in validator(document, schema).iter_errors(body)]
        assert errors == [], (path, params, errors[:3])
        statuses |= {model["status"] for model in body.get("models", [])}
        kinds |= {change["kind"] for change in body.get("changes", [])}
    assert statuses >= {"active", "missing", "removed"}
    assert kinds == {"added", "updated", "removed", "restored"}


@asynccontextmanager
async def counted_statements(service: Service) -> AsyncIterator[list[str]]:
    """Every statement the store runs meanwhile for the caller's task (the requests: the test
    client runs the app in it): on the read lane, and through SQLAlchemy (the store's ``_read``:
    its one way to a pooled connection). The service's own background work (the change feed's
    polls, the scheduler) runs in other tasks and is not counted."""
    caller = asyncio.current_task()
    store = service.services.runtime.store
    assert isinstance(store, SqlStore)
    database = store.database
    seen: list[str] = []
    fetch, read = database.fetch, store._read

    async def counting_fetch(statement: Any, params: Any, *, action: str) -> Any:
        if asyncio.current_task() is caller:
            seen.append(action)
        return await fetch(statement, params, action=action)

    @asynccontextmanager
    async def counting_read(action: str) -> AsyncIterator[Any]:
        if asyncio.current_task() is caller:
            seen.append(action)
        async with read(action) as connection:
            yield connection

    database.fetch = counting_fetch  # type: ignore[method-assign]
    store._read = counting_read
    try:
        yield seen
    finally:
        database.fetch = fetch  # type: ignore[method-assign]
        store._read = read


@pytest.mark.parametrize(("path", "params", "schema"), READS)
async def test_a_read_is_one_statement_whatever_the_number_of_gateways(
    lived: Service, path: str, params: dict[str, str], schema: str
) -> None:
    """Each read runs one statement, with 13 gateways and with 213 (never one per row or
    gateway); only an empty page adds one, for the catalog version, and a status one for the
    rows of gateways it has not read (or that changed since). Cached, it runs none."""
    async with counted_statements(lived) as seen:
        first = await lived.client.get(path, params=params)
        again = await lived.client.get(path, params=params)
    assert first.content == again.content
    assert again.headers["etag"] == first.headers["etag"]
    assert len(seen) in (1, 2), seen  # the second answer came from the cache
    lived.services.cache.enabled = False  # the uncached path from here on
    counts = []
    for extra in (0, 200):
        registrations = [
            GatewayRegistration(name=f"extra-{n:03d}", tier="low", interval_s=3600, enabled=True)
            for n in range(extra)
        ]
        await lived.services.runtime.store.register_gateways(registrations)
        async with counted_statements(lived) as seen:
            response = await lived.client.get(path, params=params)
        assert response.status_code == 200
        counts.append(len(seen))
    body = response.json()
    if path in ("/api/sync/status", "/api/sync/models"):
        # the gateways' keys, and the whole rows of those not read before (the 200 new ones)
        assert counts in ([1, 2], [2, 2]), counts
        async with counted_statements(lived) as seen:
            await lived.client.get(path, params=params)
        assert len(seen) == 1, seen  # nothing changed: the keys alone
        return
    empty = body.get("models", body.get("changes", [None])) == []
    assert counts == ([2, 2] if empty else [1, 1]), (counts, path, params)
