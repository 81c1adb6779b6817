"""The normalized model: flat fields, content hash, JSON round trip."""

from __future__ import annotations

from decimal import Decimal

import pytest

from modelsync.domain import (
    COMPARED_FIELDS,
    CatalogEntry,
    Model,
    ModelStatus,
    Presence,
    Pricing,
    decimal_text,
)


def model(**overrides: object) -> Model:
    base: dict[str, object] = {
        "gateway": "g",
        "gateway_model_id": "acme/m1",
        "id": "acme/m1",
        "name": "M1",
        "context_length": 8192,
        "pricing": Pricing(prompt=Decimal("0.5"), completion=Decimal("1.5")),
        "input_modalities": ("image", "text"),
        "output_modalities": ("text",),
        "supported_parameters": ("tools",),
        "extra": {"created": 1},
    }
    base.update(overrides)
    return Model(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (Decimal("1.50"), "1.5"),
        (Decimal("1E+1"), "10"),
        (Decimal("0.0000005"), "0.0000005"),
        (Decimal("5E-7"), "0.0000005"),
        (Decimal("0.000"), "0"),
        (Decimal("3"), "3"),
    ],
)
def test_decimal_text_is_canonical(value: Decimal | None, text: str | None) -> None:
    """Equal prices have one text, with no exponent and no trailing zeros."""
    assert decimal_text(value) == text


def test_fields_cover_every_compared_field_in_order() -> None:
    """The flat view has exactly the compared fields, prices as text, lists as lists."""
    flat = model().fields()
    assert tuple(flat) == COMPARED_FIELDS
    assert flat["pricing.prompt"] == "0.5"
    assert flat["input_modalities"] == ["image", "text"]


def test_content_hash_ignores_extra_and_equal_decimals() -> None:
    """Volatile extra fields and 1.5 vs 1.50 do not change the hash; a price does."""
    a = model()
    b = model(
        extra={"created": 2}, pricing=Pricing(prompt=Decimal("0.50"), completion=Decimal("1.5"))
    )
    c = model(pricing=Pricing(prompt=Decimal("0.4"), completion=Decimal("1.5")))
    assert a.content_hash == b.content_hash
    assert a.content_hash != c.content_hash
    assert len(a.content_hash) == 64


def test_json_round_trip_is_exact() -> None:
    """to_json/from_json keeps Decimals, tuples, status and extra."""
    original = model(status=ModelStatus.DEPRECATED, deprecation_date="2026-01-31")
    again = Model.from_json(original.to_json())
    assert again == original
    assert again.extra == original.extra
    assert again.pricing.prompt == Decimal("0.5")


@pytest.mark.parametrize(
    ("presence", "status", "served"),
    [
        (Presence.PRESENT, ModelStatus.ACTIVE, ModelStatus.ACTIVE),
        (Presence.PRESENT, ModelStatus.DEPRECATED, ModelStatus.DEPRECATED),
        (Presence.MISSING, ModelStatus.ACTIVE, ModelStatus.MISSING),
        (Presence.REMOVED, ModelStatus.DEPRECATED, ModelStatus.REMOVED),
    ],
)
def test_served_status(presence: Presence, status: ModelStatus, served: ModelStatus) -> None:
    """Sync's missing/removed win over the gateway's own status."""
    assert CatalogEntry.of(model(status=status), presence).served_status is served
