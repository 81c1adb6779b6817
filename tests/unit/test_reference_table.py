"""The pure enrichment core (issue 9 item 3): which offer gets which reference price."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from modelsync.domain import NO_PRICING, ChangeKind, Model, ModelChange, Pricing
from modelsync.reference.table import (
    PRICE_SOURCE,
    ReferenceTable,
    build_table,
    catalog_offer,
    changed_gateways,
    enrich,
    price_source_changes,
    reference_price,
)

AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def offer(
    gateway: str,
    raw: str,
    canonical: str,
    pricing: Pricing = NO_PRICING,
    variants: tuple[str, ...] = (),
) -> Model:
    return Model(
        gateway=gateway, gateway_model_id=raw, id=canonical, pricing=pricing, variants=variants
    )


def p(prompt: str, completion: str | None = None) -> Pricing:
    return Pricing(prompt=Decimal(prompt), completion=Decimal(completion) if completion else None)


def identify(gateway: str, raw: str) -> tuple[str, tuple[str, ...]] | None:
    """A stand-in for the gateways' identity rules: lower case, ``-fast`` a variant."""
    if gateway == "unknown":
        return None
    base = raw.lower()
    if base.endswith("-fast"):
        return base.removesuffix("-fast"), ("fast",)
    return base, ()


def catalog_model(kind: str, key: str, pricing: Pricing, **extra: str) -> Model:
    return Model(gateway=kind, gateway_model_id=key, id=key, pricing=pricing, extra=extra)


@pytest.mark.parametrize(
    ("kind", "model", "expected"),
    [
        ("modelsdev", catalog_model("modelsdev", "groq/llama-3.3-70b-versatile", p("1")),
         ("groq", "llama-3.3-70b-versatile")),
        ("modelsdev",
         catalog_model("modelsdev", "fireworks-ai/accounts/fireworks/models/x", p("1")),
         ("fireworks", "accounts/fireworks/models/x")),
        ("modelsdev", catalog_model("modelsdev", "togetherai/meta-llama/Llama-3", p("1")),
         ("together", "meta-llama/Llama-3")),
        ("modelsdev", catalog_model("modelsdev", "anthropic/claude", p("1")), None),
        ("litellm", catalog_model("litellm", "gemini/gemini-2.0-flash", p("1"),
                                  litellm_provider="gemini"), ("google", "gemini-2.0-flash")),
        ("litellm", catalog_model("litellm", "nebius/Qwen/Qwen3-14B", p("1"),
                                  litellm_provider="nebius"), ("nebius", "Qwen/Qwen3-14B")),
        ("litellm", catalog_model("litellm", "gpt-4o", p("1"), litellm_provider="openai"), None),
        # gateways that price every offer they can are never filled (a router's "-1")
        ("litellm", catalog_model("litellm", "openrouter/openrouter/auto", p("0"),
                                  litellm_provider="openrouter"), None),
        ("modelsdev", catalog_model("modelsdev", "vercel/openai/gpt-4o", p("1")), None),
        ("litellm", catalog_model("litellm", "groq/x", p("1")), None),
        ("other", catalog_model("other", "groq/x", p("1")), None),
    ],
)  # fmt: skip
def test_catalog_offer(kind: str, model: Model, expected: tuple[str, str] | None) -> None:
    """A catalog's provider maps to the gateway it prices, and its id to that gateway's id."""
    assert catalog_offer(kind, model) == expected


TABLE = build_table(
    "models.dev",
    "modelsdev",
    AT,
    [
        catalog_model("modelsdev", "groq/Llama-3.3-70B", p("0.59", "0.79")),
        catalog_model("modelsdev", "nebius/Qwen-72B", p("0.13")),
        catalog_model("modelsdev", "nebius/Qwen-72B-fast", p("0.26")),
        catalog_model("modelsdev", "cerebras/a", p("1")),
        catalog_model("modelsdev", "cerebras/A", p("2")),  # two prices claim canonical "a"
        catalog_model("modelsdev", "cerebras/unpriced", Pricing()),
    ],
    identify,
)
SECOND = build_table(
    "litellm",
    "litellm",
    AT,
    [
        catalog_model("litellm", "groq/llama-3.3-70b", p("9"), litellm_provider="groq"),
        catalog_model("litellm", "groq/other", p("0.1"), litellm_provider="groq"),
    ],
    identify,
)


@pytest.mark.parametrize(
    ("model", "expected", "source"),
    [
        # by the gateway's own id
        (offer("groq", "Llama-3.3-70B", "x"), p("0.59", "0.79"), "models.dev@2026-11-30T02:00:00Z"),
        # by canonical id (the gateway spells it differently), the first table first
        (offer("groq", "llama-3.3-70b-x", "llama-3.3-70b"), p("0.59", "0.79"), "models.dev@"),
        # serving variants are kept apart: -fast has its own price
        (offer("nebius", "n1", "qwen-72b", variants=("fast",)), p("0.26"), "models.dev@"),
        (offer("nebius", "n2", "qwen-72b"), p("0.13"), "models.dev@"),
        # an ambiguous canonical key is never guessed; exact ids still match
        (offer("cerebras", "other-a", "a"), None, None),
        (offer("cerebras", "A", "a"), p("2"), "models.dev@"),
        # an unpriced catalog entry gives nothing; neither does an unknown model
        (offer("cerebras", "unpriced", "unpriced"), None, None),
        (offer("groq", "nope", "nope"), None, None),
        # only the second table knows it
        (offer("groq", "other", "other"), p("0.1"), "litellm@"),
        # the gateway's own price wins, even a partial one
        (offer("groq", "Llama-3.3-70B", "x", Pricing(completion=Decimal(1))), None, None),
        (offer("groq", "Llama-3.3-70B", "x", Pricing(request=Decimal(0))), None, None),
        # another gateway's price is never borrowed
        (offer("together", "Llama-3.3-70B", "llama-3.3-70b"), None, None),
    ],
)  # fmt: skip
def test_reference_price(model: Model, expected: Pricing | None, source: str | None) -> None:
    """Which offer gets which price, with its source."""
    found = reference_price(model, (TABLE, SECOND))
    assert found == expected
    if source is None:
        assert found is None
        assert enrich(model, (TABLE, SECOND)) is model
    else:
        assert found is not None
        assert found.source is not None
        assert found.source.startswith(source)
        enriched = enrich(model, (TABLE, SECOND))
        assert enriched.pricing == expected
        assert enriched.pricing.to_json()["source"] == found.source
        assert enriched.fields()["pricing.prompt"] == str(expected.prompt) if expected else True


def test_no_tables_no_change() -> None:
    """Without tables every offer is left as it is."""
    model = offer("groq", "Llama-3.3-70B", "x")
    assert enrich(model, ()) is model


def test_table_round_trips_through_json() -> None:
    """What the store keeps reads back to an equal table."""
    again = ReferenceTable.from_json(TABLE.to_json())
    assert again == TABLE
    assert again.label == "models.dev@2026-11-30T02:00:00Z"


def test_changed_gateways() -> None:
    """Only the gateways whose prices moved between two fetches are re-priced."""
    moved = build_table(
        "models.dev",
        "modelsdev",
        LATER,
        [
            catalog_model("modelsdev", "groq/Llama-3.3-70B", p("0.5", "0.79")),
            catalog_model("modelsdev", "nebius/Qwen-72B", p("0.13")),
            catalog_model("modelsdev", "nebius/Qwen-72B-fast", p("0.26")),
            catalog_model("modelsdev", "cerebras/a", p("1")),
            catalog_model("modelsdev", "cerebras/A", p("2")),
        ],
        identify,
    )
    assert changed_gateways(TABLE, moved) == {"groq"}
    assert changed_gateways(None, moved) == {"groq", "nebius", "cerebras"}
    assert changed_gateways(TABLE, TABLE) == set()
    dropped = build_table("models.dev", "modelsdev", LATER, [], identify)
    assert changed_gateways(TABLE, dropped) == {"groq", "nebius", "cerebras"}


def test_price_source_on_added_changes() -> None:
    """An added or restored offer priced by a reference names the source in its change."""
    priced = enrich(offer("groq", "Llama-3.3-70B", "x"), (TABLE,))
    own = offer("groq", "own", "own", p("1"))
    changes = (
        ModelChange(ChangeKind.ADDED, "groq", "Llama-3.3-70B", "x", {"id": (None, "x")}),
        ModelChange(ChangeKind.ADDED, "groq", "own", "own", {"id": (None, "own")}),
        ModelChange(ChangeKind.UPDATED, "groq", "Llama-3.3-70B", "x", {"name": ("a", "b")}),
    )
    out = price_source_changes(changes, {"Llama-3.3-70B": priced, "own": own})
    assert out[0].fields[PRICE_SOURCE] == (None, "models.dev@2026-11-30T02:00:00Z")
    assert PRICE_SOURCE not in out[1].fields
    assert out[2] == changes[2]
