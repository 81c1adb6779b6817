"""The bounds every stored value keeps: ids, numbers, texts (table-driven, pure)."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from modelsync.bounds import (
    canonical_id_problem,
    model_problem,
    price_problem,
    raw_entry_problem,
    raw_id_problem,
    shown_id,
)
from modelsync.domain import Model, Pricing
from modelsync.errors import PayloadError
from modelsync.gateways.base import positive_int, price, to_decimal
from modelsync.identity import IdentityInput, resolve


@pytest.mark.parametrize(
    ("model_id", "problem"),
    [
        ("meta-llama/llama-3.1-70b", None),
        ("fal-ai/flux-pro/v1.1-ultra", None),
        ("a/" + "b" * 198, None),
        ("a/" + "b" * 199, "longer than 200"),
        ("", "not author/name"),
        ("llama", "not author/name"),
        ("../../x", "not author/name"),
        ("a//b", "not author/name"),
        ("acme/.hidden", "not author/name"),
        ("acme/Llama", "not author/name"),
        ("acme/llama 3", "not author/name"),
        ("acme/llama\u202e", "not author/name"),
        ("acme/%2e%2e", "not author/name"),
    ],
)
def test_canonical_ids_are_safe_in_a_url_path_and_a_tag(model_id: str, problem: str | None) -> None:
    """author/name segments of [a-z0-9.-] starting with a letter or digit, 200 at most."""
    found = canonical_id_problem(model_id)
    assert (found is None) if problem is None else (problem in (found or ""))


@pytest.mark.parametrize(
    ("raw_id", "expected"),
    [
        ("../../x", "openrouter/x"),
        ("evil\u202e/exe", "evil/exe"),
        ("Meta-Llama/Llama-3.1-70B", "meta-llama/llama-3.1-70b"),
    ],
)
def test_canonical_ids_are_built_safe(raw_id: str, expected: str) -> None:
    """Dot segments never climb a path; characters outside the set are dropped."""
    built = resolve(IdentityInput(gateway="openrouter", raw_id=raw_id)).id
    assert built == expected
    assert canonical_id_problem(built) is None


@pytest.mark.parametrize(
    ("raw_id", "problem"),
    [
        ("anthropic/claude-sonnet-4.5", None),
        ("accounts/fireworks/models/llama-v3p1-8b-instruct", None),
        ("Ünïcödé/模型", None),
        ("x" * 256, None),
        ("x" * 257, "257 characters long"),
        ("x" * 10_000, "10000 characters long"),
        ("bad\x00id", "U+0000"),
        ("bad\nid", "U+000A"),
        ("bad\x7fid", "U+007F"),
        ("bad\u202eid", "U+202E"),
        ("bad\u200bid", "U+200B"),
        ("bad\ufeffid", "U+FEFF"),
    ],
)
def test_raw_ids_without_control_characters_and_not_too_long(
    raw_id: str, problem: str | None
) -> None:
    """A gateway model id is stored as given, so it must be printable and bounded."""
    found = raw_id_problem(raw_id)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_a_nul_anywhere_in_an_entry_is_a_problem() -> None:
    """PostgreSQL stores no NUL, in text or JSON: an entry with one is bad, wherever it is."""
    clean = orjson.dumps({"id": "a", "description": "fine"})
    dirty = orjson.dumps({"id": "a", "extra": {"deep": ["x\x00y"]}})
    assert raw_entry_problem("a", clean) is None
    assert "NUL" in (raw_entry_problem("a", dirty) or "")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (Decimal(0), None),
        (Decimal("0.000000001"), None),
        (Decimal("0.15"), None),
        (Decimal(1_000_000), None),
        (Decimal("1000000.01"), "outside"),
        (Decimal("1e308"), "outside"),
        (Decimal("1e-10"), "outside"),
        (Decimal("0.1234567890123456789012345"), "significant digits"),
        (None, None),
    ],
)
def test_prices_in_usd_per_million_tokens_are_bounded(
    value: Decimal | None, problem: str | None
) -> None:
    """0, or 1e-9 to 1,000,000 USD, with at most 24 significant digits."""
    found = price_problem("prompt", value)
    assert (found is None) if problem is None else (problem in (found or ""))


def model(**values: object) -> Model:
    """A model with a safe id (unless given) and whatever else is given."""
    fields: dict[str, object] = {"gateway": "g", "gateway_model_id": "acme/m", "id": "acme/m"}
    return Model(**(fields | values))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({}, None),
        ({"context_length": 10_000_000}, None),
        ({"context_length": 10**30}, "context_length"),
        ({"context_length": 100_000_001}, "context_length"),
        ({"max_output_tokens": 10**12}, "max_output_tokens"),
        ({"pricing": Pricing(prompt=Decimal("1e308"))}, "prompt price"),
        ({"pricing": Pricing(image=Decimal(2_000_000))}, "image price"),
        ({"name": "n" * 1_001}, "name"),
        ({"description": "d" * 100_001}, "description"),
        ({"supported_parameters": tuple(f"p{i}" for i in range(501))}, "supported_parameters"),
        ({"input_modalities": ("m" * 201,)}, "input_modalities"),
        ({"id": "../../x"}, "canonical id"),
    ],
)
def test_a_model_outside_the_bounds_says_why(
    values: dict[str, object], problem: str | None
) -> None:
    """Every number, text and list of a normalized model is checked in one place."""
    found = model_problem(model(**values))
    assert (found is None) if problem is None else (problem in (found or ""))


@pytest.mark.parametrize("text", ["1e999990", "1e308", "9" * 41, "1e-999999", "-1e400"])
def test_a_price_beyond_any_bound_is_refused_before_arithmetic(text: str) -> None:
    """``1e999990`` never becomes a megabyte of digits (nor an overflow): out of range."""
    with pytest.raises(PayloadError, match=r"out of range|not a price"):
        price(text, "prompt", scale=6)


def test_a_huge_whole_number_string_is_refused() -> None:
    """A thousand-digit context length is out of range, not a crash in int()."""
    with pytest.raises(PayloadError, match="out of range"):
        positive_int("9" * 1000, "context_length")
    assert positive_int("131072", "context_length") == 131072
    assert to_decimal("0.000003", "prompt") == Decimal("0.000003")


def test_shown_ids_are_escaped_and_cut() -> None:
    """A message never carries raw control characters or 10 KB of id."""
    assert shown_id("a\u202eb") == "'a\\u202eb'"
    assert shown_id("x" * 10_000).endswith("... (10,000 characters)")
    assert len(shown_id("x" * 10_000)) < 120
