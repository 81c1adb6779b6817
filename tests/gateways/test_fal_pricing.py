"""fal's pricing API (issue 9 item 3), the pure part: units, batching, attaching, keeping."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from conftest import shared_fixture
from modelsync.domain import NO_PRICING, CatalogEntry, Model, Pricing
from modelsync.errors import PayloadError
from modelsync.gateways.base import GatewayConfig, Page
from modelsync.gateways.fal import PRICING_BATCH, FalAdapter, fal_unit, unit_pricing
from modelsync.gateways.registry import builtin_specs

SPEC = builtin_specs()["fal"]
CONFIG = GatewayConfig(name="fal", base_url=SPEC.base_url, api_key="fal-key")
PAGE_1 = "providers/fal/fal_platform_api_v1_models_page1_2026-04-18_ianscrivener-PromptProxy.json"


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("image", ("image", None)),
        ("images", ("image", None)),
        ("second", ("second", None)),
        ("seconds", ("second", None)),
        ("megapixels", ("megapixel", None)),
        ("Megapixel", ("megapixel", None)),
        ("video", ("video", None)),
        ("compute seconds", ("compute_second", None)),
        ("1M tokens", ("token", 0)),
        ("1m input tokens", ("token", 0)),
        ("million tokens", ("token", 0)),
        ("1K tokens", ("token", 3)),
        ("tokens", ("token", 6)),
        ("token", ("token", 6)),
    ],
)
def test_units(unit: str, expected: tuple[str, int | None]) -> None:
    """Each unit fal names: a unit price's per-unit word, or a token price's scale to 1M."""
    assert fal_unit(unit) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, NO_PRICING),
        (
            {"unit_price": 0.025, "unit": "image", "currency": "USD"},
            Pricing(unit_price=Decimal("0.025"), per_unit="image"),
        ),
        (
            {"unit_price": "0.4", "unit": "seconds"},
            Pricing(unit_price=Decimal("0.4"), per_unit="second"),
        ),
        ({"unit_price": 0.5, "unit": "1M tokens"}, Pricing(prompt=Decimal("0.5"))),
        ({"unit_price": 5e-7, "unit": "tokens"}, Pricing(prompt=Decimal("0.5"))),
        ({"unit_price": 0.025, "unit": "image", "currency": "EUR"}, NO_PRICING),
        ({"unit_price": None, "unit": "image"}, NO_PRICING),
        ({"unit_price": -1, "unit": "image"}, NO_PRICING),
    ],
)
def test_unit_pricing(raw: Any, expected: Pricing) -> None:
    """A unit price goes to unit_price + per_unit; only token prices to the per-1M field."""
    assert unit_pricing(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [[], {"unit_price": 1}, {"unit_price": 1, "unit": ""}, {"unit_price": "abc", "unit": "image"}],
)
def test_bad_prices_are_payload_errors(raw: Any) -> None:
    """A malformed attached price names the field (the entry is quarantined, not the run)."""
    with pytest.raises(PayloadError):
        unit_pricing(raw)


def listing(count: int) -> Page:
    models = [
        {"endpoint_id": f"fal-ai/m{i:03}", "metadata": {"category": "text-to-image"}}
        for i in range(count)
    ]
    return Page({"models": models, "has_more": False, "next_cursor": None})


def test_requests_are_batched() -> None:
    """Every listed endpoint is asked once, at most PRICING_BATCH per request, with the key."""
    adapter = FalAdapter("fal")
    requests = adapter.price_requests(CONFIG, [listing(PRICING_BATCH * 2 + 3)])
    assert len(requests) == 3
    asked: list[str] = []
    for request in requests:
        parts = urlsplit(request.url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == SPEC.base_url + "/pricing"
        ids = parse_qs(parts.query)["endpoint_id"]
        assert len(ids) <= PRICING_BATCH
        asked += ids
        assert request.headers == {"Authorization": "Key fal-key"}
    assert sorted(asked) == [f"fal-ai/m{i:03}" for i in range(PRICING_BATCH * 2 + 3)]
    off = GatewayConfig(name="fal", base_url=SPEC.base_url, options={"prices": False})
    assert adapter.price_requests(off, [listing(3)]) == []


def test_attach_read_and_keep() -> None:
    """Prices read from the answers land on the entries; keep_prices re-attaches stored ones."""
    adapter = FalAdapter("fal")
    page = listing(3)
    answer = {
        "prices": [
            {"endpoint_id": "fal-ai/m000", "unit_price": 0.03, "unit": "image", "currency": "USD"},
            {"endpoint_id": "fal-ai/m001", "unit_price": 0.2, "unit": "1M tokens"},
        ]
    }
    adapter.attach_prices([page], adapter.read_prices([answer]))
    models = {m.gateway_model_id: m for m in adapter.parse([page])}
    assert models["fal-ai/m000"].pricing == Pricing(unit_price=Decimal("0.03"), per_unit="image")
    assert models["fal-ai/m000"].pricing.to_json()["units"]["unit_price"] == "usd_per_image"
    assert models["fal-ai/m001"].pricing == Pricing(prompt=Decimal("0.2"))
    assert models["fal-ai/m002"].pricing == NO_PRICING
    stored = {key: CatalogEntry.of(model) for key, model in models.items()}
    fresh = listing(3)
    adapter.keep_prices([fresh], stored)
    kept = {m.gateway_model_id: m for m in adapter.parse([fresh])}
    assert {k: m.values() for k, m in kept.items()} == {k: m.values() for k, m in models.items()}
    with pytest.raises(PayloadError):
        adapter.read_prices([{"prices": [{"unit_price": 1}]}])
    with pytest.raises(PayloadError):
        adapter.read_prices([{"data": []}])


def test_recorded_first_page_priced() -> None:
    """The recorded first page: one request for its 100 endpoints (two batches), and every
    inference endpoint priced once a price is attached."""
    page = Page(orjson.loads(shared_fixture(PAGE_1).read_bytes()))
    adapter = FalAdapter("fal")
    requests = adapter.price_requests(CONFIG, [page])
    assert len(requests) == 2
    ids = [i for r in requests for i in parse_qs(urlsplit(r.url).query)["endpoint_id"]]
    prices = {i: {"unit_price": 0.01, "unit": "image", "currency": "USD"} for i in ids}
    adapter.attach_prices([page], prices)
    models: list[Model] = adapter.parse([page])
    assert len(models) == 99
    assert all(m.pricing.unit_price == Decimal("0.01") for m in models)
    assert all(m.pricing.prompt is None for m in models)
