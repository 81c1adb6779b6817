"""The hot reads answered ahead of FastAPI's routing (web/fast_reads.py): the same answers as the
routes give, and everything the fast reader is unsure of answered by the routes as before."""

from __future__ import annotations

from typing import Any

import pytest

from modelsync.web import fast_reads
from web.harness import Service
from web.test_api_reads import READS

pytestmark = pytest.mark.timeout(120)


class Spy:
    """Whether each request went the fast way (True) or was handed on to FastAPI (False);
    ``off`` hands every request on (the routes' answers, to compare)."""

    def __init__(self) -> None:
        self.seen: list[bool] = []
        self.off = False


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    found = Spy()
    serve = fast_reads.serve

    async def spied(*args: Any) -> bool:
        fast = False if found.off else await serve(*args)
        found.seen.append(fast)
        return fast

    monkeypatch.setattr(fast_reads, "serve", spied)
    return found


def comparable(path: str, body: Any) -> Any:
    """The answer without what moves between two requests (the status' live sections)."""
    if path.startswith("/api/sync/"):
        return body["gateways"], body["catalog_version"]
    return body


async def test_a_fast_answer_is_the_routes_answer(synced: Service, spy: Spy) -> None:
    """Every read, uncached: the fast answer's bytes and headers are those FastAPI's route
    gives."""
    await synced.sync("groq")
    synced.services.cache.enabled = False
    for path, params, _ in READS:
        spy.seen.clear()
        spy.off = False
        fast = await synced.client.get(path, params=params)
        spy.off = True
        routed = await synced.client.get(path, params=params)
        assert spy.seen == [True, False], (path, params)
        assert fast.status_code == routed.status_code == 200, (path, fast.text)
        assert fast.headers == routed.headers
        assert comparable(path, fast.json()) == comparable(path, routed.json())
        if not path.startswith("/api/sync/"):
            assert fast.content == routed.content, path


async def test_cached_fast_answers_carry_the_cache_headers(synced: Service, spy: Spy) -> None:
    """With the cache on, a fast answer is cached like the route's: ETag, tags, a 304."""
    first = await synced.client.get("/api/models", params={"limit": "3"})
    assert spy.seen == [True]
    assert first.headers["surrogate-key"]
    again = await synced.client.get(
        "/api/models", params={"limit": "3"}, headers={"if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/models?limit=0", 422),
        ("/api/models?limit=abc", 422),
        ("/api/models?limit=%2B5", 200),
        ("/api/models?limit=5&limit=6", 200),
        ("/api/models?include_removed=yes", 200),
        ("/api/models?include_removed=maybe", 422),
        ("/api/models?q=", 200),
        ("/api/models?q=a%00b", 422),
        ("/api/models?gateway=nowhere", 404),
        ("/api/models/nobody/nothing", 404),
        ("/api/models/unmatched", 200),
        ("/api/changes?kind=bogus", 422),
        ("/api/changes?order=sideways", 422),
        ("/api/changes?since=-1", 422),
        ("/api/sync/status?gateway=nowhere", 404),
        ("/api/models?limit=5&unknown=1", 200),
    ],
)
async def test_what_the_fast_reader_is_unsure_of_the_route_answers(
    synced: Service, spy: Spy, path: str, status: int
) -> None:
    """Unknown, repeated, empty or unplain values, unknown gateways and models: handed on, and
    answered by FastAPI as before (its 404 and 422 included)."""
    response = await synced.client.get(path)
    assert response.status_code == status, response.text
    assert spy.seen == [False]


async def test_the_status_shows_a_changed_gateway_row_at_once(synced: Service) -> None:
    """The status keeps each gateway's JSON by its row: a run changes the row, so the next
    status (uncached) shows the new run while the other gateways' rows stay as they were."""
    synced.services.cache.enabled = False
    before = {
        row["gateway"]: row
        for row in (await synced.client.get("/api/sync/status")).json()["gateways"]
    }
    await synced.sync("groq")
    after = {
        row["gateway"]: row
        for row in (await synced.client.get("/api/sync/status")).json()["gateways"]
    }
    assert after["groq"]["last_run"]["id"] != before["groq"]["last_run"]["id"]
    assert {name: row for name, row in after.items() if name != "groq"} == {
        name: row for name, row in before.items() if name != "groq"
    }
