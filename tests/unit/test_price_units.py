"""Prices with their units and source (issue 7 item 5; issue 9 item 3): pure domain rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from modelsync.diff import field_diff
from modelsync.domain import PRICE_FIELDS, Model, Pricing
from modelsync.gateways.base import Page
from modelsync.gateways.registry import build_adapter
from modelsync.web.schemas import PricingOut


def offer(**prices: Any) -> Model:
    return Model(gateway="openrouter", gateway_model_id="a/b", id="a/b", pricing=Pricing(**prices))


def test_request_zero_and_null_are_the_same_price() -> None:
    """``pricing.request`` going from "0" to null is not a change; "0" is still served."""
    before = offer(prompt=Decimal(1), request=Decimal(0))
    after = offer(prompt=Decimal(1))
    assert field_diff(before.values(), after.values()) == {}
    assert before.to_json()["pricing"]["request"] == "0"
    paid = offer(prompt=Decimal(1), request=Decimal("0.01"))
    assert field_diff(after.values(), paid.values()) == {"pricing.request": (None, "0.01")}


@pytest.mark.parametrize(
    ("name", "value"),
    [("web_search", "0.01"), ("internal_reasoning", "3"), ("audio", "40"), ("unit_price", "2")],
)
def test_the_other_openrouter_prices_are_compared(name: str, value: str) -> None:
    """web_search, internal_reasoning and audio (and unit prices) changes are detected."""
    before = offer(prompt=Decimal(1), **{name: Decimal(1)})
    after = offer(prompt=Decimal(1), **{name: Decimal(value)})
    assert field_diff(before.values(), after.values()) == {f"pricing.{name}": ("1", value)}


def test_source_is_served_not_compared() -> None:
    """Where a price came from is served; the same prices from elsewhere are no change."""
    mine = offer(prompt=Decimal(1))
    theirs = offer(prompt=Decimal(1), source="models.dev@2026-06-13T00:00:00+00:00")
    assert field_diff(mine.values(), theirs.values()) == {}
    assert mine.to_json()["pricing"]["source"] == "gateway"
    assert theirs.to_json()["pricing"]["source"] == "models.dev@2026-06-13T00:00:00+00:00"
    assert offer().to_json()["pricing"]["source"] is None
    assert Model.from_json(theirs.to_json()).pricing.source == theirs.pricing.source


def test_every_price_states_its_unit_and_the_schema_takes_it() -> None:
    """Each price field has a unit; OpenRouter's image is per image, unit prices per unit."""
    served = offer(prompt=Decimal(1), image=Decimal("0.02")).to_json()["pricing"]
    assert served["unit"] == "usd_per_1m_tokens"
    assert set(served["units"]) == set(PRICE_FIELDS)
    assert served["units"]["image"] == "usd_per_image"
    assert served["units"]["request"] == "usd_per_request"
    assert served["units"]["unit_price"] is None
    PricingOut.model_validate(served)
    fal = offer(unit_price=Decimal("0.025"), per_unit="megapixel").to_json()["pricing"]
    assert fal["units"]["unit_price"] == "usd_per_megapixel"
    assert fal["prompt"] is None  # only token prices go into the per-1M fields
    PricingOut.model_validate(fal)
    schema = PricingOut.model_json_schema()
    assert "USD per 1M tokens" in schema["properties"]["prompt"]["description"]
    assert "per input image" in schema["properties"]["image"]["description"]


def test_openrouter_prices_keep_their_units() -> None:
    """Per-token strings -> USD per 1M; web_search per request and image per image unscaled."""
    raw = {
        "id": "x/y",
        "pricing": {
            "prompt": "0.000002",
            "completion": "0.000008",
            "image": "0.001445",
            "request": "0",
            "web_search": "0.005",
            "internal_reasoning": "0.000003",
            "audio": "0.00004",
        },
    }
    (model,) = build_adapter("openrouter", "openrouter").parse([Page({"data": [raw]})])
    text = model.pricing.as_text()
    assert (text["prompt"], text["completion"]) == ("2", "8")
    assert (text["image"], text["web_search"]) == ("0.001445", "0.005")
    assert (text["internal_reasoning"], text["audio"]) == ("3", "40")
