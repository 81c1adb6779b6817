"""Injected faults, their ``times`` count, and ETag / 304 behaviour."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from simulator_helpers import fetch, ids_of, items_of, key_headers, simulator

from modelsync.simulator import gateway_paths
from modelsync.simulator.faults import BAD_PRICE


async def _fault(client: Any, **payload: Any) -> Any:
    response = await client.post("/_admin/fault", json=payload)
    assert response.status_code == 200, response.text
    return response.json()


async def test_http_500_expires_after_times() -> None:
    """A fault with times=2 answers 500 twice, then the list again; state shows it gone."""
    async with simulator() as (client, _):
        await _fault(client, gateway="groq", kind="http_500", times=2)
        statuses = [(await fetch(client, "groq")).status_code for _ in range(3)]
        state = (await client.get("/_admin/state?gateway=groq")).json()["gateways"]["groq"]
    assert statuses == [500, 500, 200]
    assert state["faults"] == []
    assert state["requests"] == 3


async def test_http_429_carries_retry_after() -> None:
    """A 429 says when to come back."""
    async with simulator() as (client, _):
        await _fault(client, gateway="openrouter", kind="http_429", retry_after=7, times=1)
        response = await fetch(client, "openrouter")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert "error" in response.json()


async def test_slow_answers_late_but_whole() -> None:
    """``slow`` sleeps before answering normally."""
    async with simulator() as (client, state):
        await _fault(client, gateway="cerebras", kind="slow", seconds=0.3, times=1)
        started = time.monotonic()
        response = await fetch(client, "cerebras")
        elapsed = time.monotonic() - started
        count = len(state.gateways["cerebras"].entries)
    assert elapsed >= 0.3
    assert len(response.json()["data"]) == count


@pytest.mark.parametrize("kind", ["malformed_json", "truncated_body"])
@pytest.mark.parametrize("gateway", ["together", "openrouter", "google"])
async def test_broken_bodies_do_not_parse(kind: str, gateway: str) -> None:
    """Malformed and cut bodies answer 200 as JSON but do not parse."""
    async with simulator() as (client, _):
        good = await fetch(client, gateway)
        await _fault(client, gateway=gateway, kind=kind, times=1)
        bad = await fetch(client, gateway)
    assert bad.status_code == 200
    assert bad.headers["content-type"] == "application/json"
    assert "etag" not in bad.headers
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(bad.content)
    if kind == "truncated_body":
        assert good.content.startswith(bad.content)
        assert len(bad.content) < len(good.content)


async def test_html_error_page() -> None:
    """``html_error`` answers an HTML page with status 200."""
    async with simulator() as (client, _):
        await _fault(client, gateway="vercel-ai-gateway", kind="html_error", times=1)
        response = await fetch(client, "vercel-ai-gateway")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert b"<title>502 Bad Gateway</title>" in response.content


@pytest.mark.parametrize(
    ("gateway", "kind", "extra", "expected_count"),
    [
        ("groq", "empty_list", {}, lambda n: 0),
        ("together", "empty_list", {}, lambda n: 0),
        ("openrouter", "truncated", {"percent": 50}, lambda n: n // 2),
        ("near", "truncated", {"percent": 10}, lambda n: n // 10),
        ("fireworks", "duplicate_ids", {}, lambda n: n + 2),
    ],
)
async def test_catalog_faults_keep_a_valid_shape(
    gateway: str, kind: str, extra: dict[str, Any], expected_count: Any
) -> None:
    """Empty, truncated and duplicated catalogs are valid documents of the gateway's shape."""
    async with simulator() as (client, state):
        count = len(state.gateways[gateway].entries)
        await _fault(client, gateway=gateway, kind=kind, times=1, **extra)
        items = items_of(gateway, (await fetch(client, gateway)).json())
    assert len(items) == expected_count(count)
    if kind == "duplicate_ids":
        ids = ids_of(gateway, items)
        assert len(set(ids)) == count


@pytest.mark.parametrize("gateway", ["openrouter", "together", "xai", "huggingface", "near"])
async def test_bad_price(gateway: str) -> None:
    """``bad_price`` puts a price that is not a number into one entry."""
    async with simulator() as (client, _):
        await _fault(client, gateway=gateway, kind="bad_price", times=1)
        response = await fetch(client, gateway)
    assert BAD_PRICE.encode() in response.content
    assert response.json()


@pytest.mark.parametrize(("gateway", "outer"), [("groq", dict), ("together", dict)])
async def test_dict_for_list(gateway: str, outer: type) -> None:
    """``dict_for_list`` puts an object keyed by id where the list belongs."""
    async with simulator() as (client, state):
        await _fault(client, gateway=gateway, kind="dict_for_list", times=1)
        document = (await fetch(client, gateway)).json()
        ids = state.gateways[gateway].ids()
    mapping = document if gateway == "together" else document["data"]
    assert isinstance(document, outer)
    assert sorted(mapping) == sorted(ids)


@pytest.mark.parametrize("gateway", ["together", "google", "near"])
async def test_huge_body_is_valid_and_big(gateway: str) -> None:
    """``huge_body`` streams a valid document of at least the asked size."""
    async with simulator() as (client, _):
        await _fault(client, gateway=gateway, kind="huge_body", mib=1.5, times=1)
        async with client.stream(
            "GET", gateway_paths()[gateway], headers=key_headers(gateway)
        ) as response:
            body = await response.aread()
    assert response.status_code == 200
    assert len(body) >= 1.5 * 1024 * 1024
    items = items_of(gateway, orjson.loads(body))
    assert len(set(ids_of(gateway, items))) == len(items)


async def test_faults_queue_in_order_and_clear() -> None:
    """Faults apply one per request in the order given; DELETE clears them."""
    async with simulator() as (client, _):
        await _fault(client, gateway="aimo", kind="http_500", times=1)
        await _fault(client, gateway="aimo", kind="http_429", times=1)
        await _fault(client, gateway="aimo", kind="empty_list")
        first = await fetch(client, "aimo")
        second = await fetch(client, "aimo")
        third = await fetch(client, "aimo")
        fourth = await fetch(client, "aimo")
        cleared = await client.delete("/_admin/fault?gateway=aimo")
        fifth = await fetch(client, "aimo")
    assert [first.status_code, second.status_code] == [500, 429]
    assert third.json()["data"] == fourth.json()["data"] == []
    assert cleared.json()["cleared"] == 1
    assert fifth.json()["data"]


async def test_clear_by_kind_and_everywhere() -> None:
    """DELETE with kind clears only that kind; without a gateway it clears every gateway."""
    async with simulator() as (client, state):
        await _fault(client, gateway="groq", kind="http_500")
        await _fault(client, gateway="groq", kind="slow", seconds=1)
        await _fault(client, gateway="near", kind="http_500")
        by_kind = await client.delete("/_admin/fault?gateway=groq&kind=slow")
        kinds = [fault.kind for fault in state.gateways["groq"].faults]
        everywhere = await client.delete("/_admin/fault")
    assert by_kind.json()["cleared"] == 1
    assert kinds == ["http_500"]
    assert everywhere.json()["cleared"] == 2


BAD_FAULTS = [
    ({"gateway": "nope", "kind": "http_500"}, 404),
    ({"gateway": "groq", "kind": "explode"}, 422),
    ({"gateway": "groq", "kind": "http_500", "times": 0}, 422),
    ({"gateway": "groq", "kind": "http_500", "times": "2"}, 422),
    ({"gateway": "groq", "kind": "slow", "seconds": "x"}, 422),
    ({"gateway": "groq", "kind": "truncated", "percent": 150}, 422),
    ({"gateway": "groq", "kind": "bad_price"}, 400),
]


@pytest.mark.parametrize(("payload", "status"), BAD_FAULTS)
async def test_bad_fault_requests_change_nothing(payload: dict[str, Any], status: int) -> None:
    """Bad fault input answers with a JSON error and adds no fault."""
    async with simulator() as (client, state):
        response = await client.post("/_admin/fault", json=payload)
        faults = [g.faults for g in state.gateways.values()]
    assert response.status_code == status
    assert response.json()["error"]
    assert all(not items for items in faults)


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("GET", "/_admin/state?gateway=nope", None, 404),
        ("DELETE", "/_admin/fault?kind=explode", None, 422),
        ("DELETE", "/_admin/fault?gateway=nope", None, 404),
        ("POST", "/_admin/etag", {"gateway": "groq", "enabled": "yes"}, 422),
        ("POST", "/_admin/reset", {"gateway": "nope"}, 404),
        ("GET", "/_admin/nothing", None, 404),
        ("PUT", "/_admin/state", None, 405),
    ],
)
async def test_other_admin_errors(method: str, url: str, body: Any, status: int) -> None:
    """Other bad admin requests answer JSON errors."""
    async with simulator() as (client, _):
        response = await client.request(method, url, json=body)
    assert response.status_code == status
    assert response.json()["error"]


async def test_etag_and_304() -> None:
    """A list carries a strong ETag; If-None-Match answers 304 until the catalog changes."""
    async with simulator() as (client, _):
        first = await fetch(client, "openrouter")
        etag = first.headers["etag"]
        same = await client.get(gateway_paths()["openrouter"], headers={"If-None-Match": etag})
        weak = await client.get(
            gateway_paths()["openrouter"], headers={"If-None-Match": f"W/{etag}"}
        )
        await client.post("/_admin/mutate", json={"gateway": "openrouter", "op": "remove"})
        changed = await client.get(gateway_paths()["openrouter"], headers={"If-None-Match": etag})
    assert not etag.startswith("W/")
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
    assert weak.status_code == 304
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


async def test_etag_can_be_switched_off() -> None:
    """With ETags off a gateway sends none and ignores If-None-Match."""
    async with simulator() as (client, _):
        etag = (await fetch(client, "groq")).headers["etag"]
        switched = await client.post("/_admin/etag", json={"gateway": "groq", "enabled": False})
        response = await client.get(
            gateway_paths()["groq"], headers={**key_headers("groq"), "If-None-Match": etag}
        )
    assert switched.json() == {"gateway": "groq", "etag": False}
    assert response.status_code == 200
    assert "etag" not in response.headers


async def test_pages_have_their_own_etags() -> None:
    """Each page of a paged gateway has its own ETag."""
    async with simulator() as (client, _):
        first = await fetch(client, "google")
        token = first.json()["nextPageToken"]
        second = await fetch(client, "google", pageToken=token)
    assert first.headers["etag"] != second.headers["etag"]
