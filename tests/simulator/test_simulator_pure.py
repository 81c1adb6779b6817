"""The simulator's pure helpers: paths, prices, names, ETags, keys, envelopes."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import orjson
import pytest

from modelsync.gateways.registry import BUILTIN
from modelsync.simulator.naming import display_name, invent_id, renamed
from modelsync.simulator.pages import Listing
from modelsync.simulator.responses import error_body, etag_matches, key_problem, strong_etag
from modelsync.simulator.shapes import (
    SHAPES,
    PathError,
    PriceUnit,
    as_decimal,
    expand,
    get_path,
    scale_price,
    set_path,
)


def test_every_gateway_has_a_shape() -> None:
    """The registry and the shapes name the same gateways."""
    assert set(SHAPES) == {spec.name for spec in BUILTIN}


@pytest.mark.parametrize(
    ("value", "factor", "unit", "expected"),
    [
        ("0.000003", "2", PriceUnit.DECIMAL_STRING, "0.000006"),
        ("0.00000015", "0.5", PriceUnit.DECIMAL_STRING, "0.000000075"),
        ("0.000001", "0", PriceUnit.DECIMAL_STRING, "0"),
        (3, "1.1", PriceUnit.NUMBER, 3.3),
        (0.88, "2", PriceUnit.NUMBER, 1.76),
        (2, "2", PriceUnit.NUMBER, 4),
        (30000, "1.1", PriceUnit.INTEGER, 33000),
        (150, "0.9", PriceUnit.INTEGER, 135),
    ],
)
def test_scale_price(value: Any, factor: str, unit: PriceUnit, expected: Any) -> None:
    """A reprice keeps the gateway's unit and type."""
    result = scale_price(value, Decimal(factor), unit)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.5", Decimal("0.5")),
        (1, Decimal(1)),
        (5e-07, Decimal("5E-7")),
        ("N/A", None),
        (None, None),
        (True, None),
        ("NaN", None),
        ({"usd": 1}, None),
    ],
)
def test_as_decimal(value: Any, expected: Decimal | None) -> None:
    """Only finite numbers and numeric text are prices."""
    assert as_decimal(value) == expected


def test_scale_price_refuses_text() -> None:
    """A price that is not a number cannot be scaled."""
    with pytest.raises(PathError):
        scale_price("free", Decimal(2), PriceUnit.DECIMAL_STRING)


ENTRY = {"pricing": {"prompt": "1"}, "providers": [{"pricing": {"input": 1}}, {"status": "x"}]}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("pricing.prompt", "1"),
        ("providers.0.pricing.input", 1),
        ("providers.1.pricing", None),
        ("providers.9.status", None),
        ("missing.deeper", None),
        ("pricing.prompt.x", None),
    ],
)
def test_get_path(path: str, expected: Any) -> None:
    """Dotted paths read objects and list items; a missing step reads as None."""
    assert get_path(ENTRY, path) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("providers.*.pricing.input", ["providers.0.pricing.input"]),
        ("pricing.prompt", ["pricing.prompt"]),
        ("pricing.other", ["pricing.other"]),
        ("nothing.*.x", []),
    ],
)
def test_expand(pattern: str, expected: list[str]) -> None:
    """``*`` stands for each list item whose parent path exists."""
    assert list(expand(ENTRY, pattern)) == expected


@pytest.mark.parametrize(
    ("path", "value", "previous", "after"),
    [
        ("a.b", 1, None, {"a": {"b": 1}}),
        ("list.0", "x", 1, {"list": ["x"]}),
        ("top", None, 5, {"top": None}),
    ],
)
def test_set_path(path: str, value: Any, previous: Any, after: dict[str, Any]) -> None:
    """set_path creates missing objects and returns the previous value."""
    entry: dict[str, Any] = {"list": [1], "top": 5}
    assert set_path(entry, path, value) == previous
    assert {key: entry[key] for key in after} == after


@pytest.mark.parametrize("path", ["", "a..b", "top.x", "list.5"])
def test_set_path_refuses(path: str) -> None:
    """A path that cannot be set is a PathError."""
    with pytest.raises(PathError):
        set_path({"list": [1], "top": 5}, path, 1)


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("acme/helix-3.2-70b-instruct", "Helix 3.2 70B Instruct"),
        ("grok-5", "Grok 5"),
        ("accounts/fireworks/models/nova_2", "Nova 2"),
        ("models/gemini-x-1.5m", "Gemini X 1.5M"),
    ],
)
def test_display_name(model_id: str, expected: str) -> None:
    """Display names are derived from the id's last segment."""
    assert display_name(model_id) == expected


@pytest.mark.parametrize(
    ("source", "check"),
    [
        (
            "meta-llama/Llama-3.3-70B-Instruct",
            lambda new: (
                new.startswith("meta-llama/") and any(c.isupper() for c in new.partition("/")[2])
            ),
        ),
        (
            "accounts/fireworks/models/glm-4p6",
            lambda new: new.startswith("accounts/fireworks/models/"),
        ),
        ("gemini-2.5-pro", lambda new: new.startswith("gemini-") and "/" not in new),
        ("grok-3", lambda new: new.startswith("grok-")),
    ],
)
def test_invent_id_keeps_the_style(source: str, check: Any) -> None:
    """An invented id keeps the prefix and letter case of the model it is cloned from."""
    new = invent_id(source, {source}, random.Random(1))
    assert check(new), new
    assert new != source


def test_invent_id_avoids_taken_ids() -> None:
    """An id already taken gets a numeric suffix."""
    taken = {invent_id("acme/x", set(), random.Random(3))}
    assert invent_id("acme/x", taken, random.Random(3)) == f"{next(iter(taken))}-2"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("GPT-5", "GPT-5 (Preview)"), ("GPT-5 (Preview)", "GPT-5"), ("", "Renamed model")],
)
def test_renamed(name: str, expected: str) -> None:
    """Renaming without a name toggles a preview suffix."""
    assert renamed(name) == expected


def test_strong_etag_and_matching() -> None:
    """ETags are strong, quoted and body-derived; If-None-Match compares weakly."""
    etag = strong_etag(b"{}")
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert etag != strong_etag(b"[]")
    assert etag_matches(etag, etag)
    assert etag_matches(f'"other", W/{etag}', etag)
    assert etag_matches("*", etag)
    assert not etag_matches(None, etag)
    assert not etag_matches('"other"', etag)


@pytest.mark.parametrize(
    ("gateway", "required", "headers", "query", "refused"),
    [
        ("groq", True, {}, {}, True),
        ("groq", True, {"authorization": "Bearer k"}, {}, False),
        ("openrouter", False, {}, {}, False),
        ("google", True, {"x-goog-api-key": "k"}, {}, False),
        ("google", True, {}, {"key": " "}, True),
        ("fal", False, {"authorization": "Key k"}, {}, False),
        ("fal", False, {"authorization": "Key"}, {}, True),
    ],
)
def test_key_problem(
    gateway: str, required: bool, headers: dict[str, str], query: dict[str, str], refused: bool
) -> None:
    """Each gateway's key rule."""
    assert (key_problem(gateway, required, headers, query) is not None) is refused


@pytest.mark.parametrize(
    ("gateway", "status", "expected"),
    [
        ("google", 429, {"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED"}}),
        ("fal", 400, {"detail": "m"}),
        (
            "groq",
            401,
            {"error": {"message": "m", "type": "invalid_request_error", "code": "invalid_api_key"}},
        ),
    ],
)
def test_error_body(gateway: str, status: int, expected: dict[str, Any]) -> None:
    """Errors are written in each gateway's style."""
    assert error_body(gateway, status, "m") == expected


@pytest.mark.parametrize(
    "listing",
    [
        Listing("together", [{"id": "a"}], None),
        Listing("openrouter", [{"id": "a"}], "data"),
        Listing("groq", [{"id": "a"}], "data", before={"object": "list"}),
        Listing("near", [{"modelId": "a"}], "models", after={"limit": 1, "offset": 0, "total": 1}),
    ],
)
def test_head_and_tail_wrap_items_into_the_document(listing: Listing) -> None:
    """The streamed head and tail around the items make the same document."""
    head, tail = listing.head_and_tail()
    body = head + b",".join(orjson.dumps(item) for item in listing.items) + tail
    assert orjson.loads(body) == listing.document()
