"""``GET /api/models/unmatched``: what identity could not join, over HTTP."""

from __future__ import annotations

from web.harness import Service


async def test_unmatched_lists_lonely_models_with_candidates(synced: Service) -> None:
    """After a sync of every gateway: lonely ids only, each with candidates on other gateways."""
    response = await synced.client.get("/api/models/unmatched", params={"limit": 1000})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["count"] == len(page["models"]) == page["total"] > 0
    offers = (await synced.client.get("/api/models", params={"limit": 5000})).json()["models"]
    gateways: dict[str, set[str]] = {}
    for offer in offers:
        gateways.setdefault(offer["id"], set()).add(offer["gateway"])
    lonely = {model_id for model_id, names in gateways.items() if len(names) == 1}
    assert {row["id"] for row in page["models"]} == lonely
    for row in page["models"]:
        assert gateways[row["id"]] == {row["gateway"]}
        for candidate in row["candidates"]:
            assert row["gateway"] not in candidate["gateways"]
            assert 0 < candidate["score"] <= 1


async def test_unmatched_filters_by_gateway_and_pages(synced: Service) -> None:
    """``gateway`` (name or alias) and ``limit``/``offset``; an unknown gateway is 404."""
    everything = (await synced.client.get("/api/models/unmatched", params={"gateway": "hf"})).json()
    assert {row["gateway"] for row in everything["models"]} == {"huggingface"}
    second = await synced.client.get(
        "/api/models/unmatched", params={"gateway": "huggingface", "limit": 1, "offset": 1}
    )
    assert second.json()["models"] == everything["models"][1:2]
    assert second.json()["total"] == everything["total"]
    unknown = await synced.client.get("/api/models/unmatched", params={"gateway": "nope"})
    assert unknown.status_code == 404
    bad = await synced.client.get("/api/models/unmatched", params={"limit": 0})
    assert bad.status_code == 422


async def test_unmatched_is_documented(service: Service) -> None:
    """The route is in ``/openapi.json`` ahead of ``/api/models/{model_id}``."""
    paths = (await service.client.get("/openapi.json")).json()["paths"]
    assert set(paths["/api/models/unmatched"]) == {"get"}
