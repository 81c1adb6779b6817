"""The models.dev catalog adapter: both recorded snapshots, id rules, bad input."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import orjson
import pytest

from conftest import shared_fixture
from modelsync.domain import NO_PRICING, Model, ModelStatus
from modelsync.errors import PayloadError
from modelsync.gateways.base import GatewayConfig, Page
from modelsync.gateways.modelsdev import ModelsDevAdapter
from modelsync.gateways.registry import build_adapter

FILES = {
    day: f"catalogs/models.dev_api.json_{day}_via_symfony-models-dev.json"
    for day in ("2026-06-12", "2026-06-13")
}


def adapter() -> ModelsDevAdapter:
    built = build_adapter("modelsdev", "models.dev")
    assert isinstance(built, ModelsDevAdapter)
    return built


@cache
def catalog(day: str) -> dict[str, Model]:
    document = orjson.loads(shared_fixture(FILES[day]).read_bytes())
    return {m.gateway_model_id: m for m in adapter().parse([Page(document)])}


@pytest.mark.parametrize(("day", "count"), [("2026-06-12", 5244), ("2026-06-13", 5258)])
def test_counts_and_sanity(day: str, count: int) -> None:
    """One model per provider/model pair; prices Decimal >= 0 or None; ids lower-case."""
    models = catalog(day)
    assert len(models) == count
    for model in models.values():
        for value in model.pricing.as_text().values():
            assert value is None or Decimal(value) >= 0
        assert model.id == model.id.lower()
        assert model.provider_slug == model.id.partition("/")[0]
        assert model.context_length is None or model.context_length > 0


@pytest.mark.parametrize(
    ("gateway_model_id", "canonical", "prices", "context", "max_output", "parameters"),
    [
        ("openai/gpt-4o", "openai/gpt-4o", {"prompt": "2.5", "completion": "10",
                                            "cache_read": "1.25"}, 128000, 16384,
         ("structured_outputs", "temperature", "tools")),
        ("anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4.5",
         {"prompt": "3", "completion": "15", "cache_read": "0.3", "cache_write": "3.75"},
         200000, 64000, ("reasoning", "temperature", "tools")),
        ("openrouter/ai21/jamba-large-1.7", "ai21/jamba-large-1.7",
         {"prompt": "2", "completion": "8"}, 256000, 4096, ("temperature", "tools")),
        ("fireworks-ai/accounts/fireworks/models/gpt-oss-120b", "fireworks/gpt-oss-120b",
         None, None, None, None),
    ],
)  # fmt: skip
def test_spot_values(
    gateway_model_id: str,
    canonical: str,
    prices: dict[str, str] | None,
    context: int | None,
    max_output: int | None,
    parameters: tuple[str, ...] | None,
) -> None:
    """USD per 1M prices kept exactly, limits, flags as parameters, canonical ids."""
    model = catalog("2026-06-13")[gateway_model_id]
    assert model.id == canonical
    if prices is not None:
        assert {k: v for k, v in model.pricing.as_text().items() if v is not None} == prices
        assert (model.context_length, model.max_output_tokens) == (context, max_output)
        assert model.supported_parameters == parameters


def test_status_extra_and_modalities() -> None:
    """deprecated -> deprecated, beta stays active; volatile and unmapped fields in extra."""
    models = catalog("2026-06-13")
    haiku = models["anthropic/claude-3-5-haiku-20241022"]
    assert haiku.status is ModelStatus.DEPRECATED
    assert haiku.deprecation_date is None
    beta = models["azure/grok-4-1-fast-reasoning"]
    assert beta.status is ModelStatus.ACTIVE
    assert beta.extra["status"] == "beta"
    gpt = models["openai/gpt-4o"]
    assert gpt.name == "GPT-4o"
    assert gpt.input_modalities == ("image", "pdf", "text")
    assert gpt.extra["last_updated"] == "2024-08-06"
    assert gpt.extra["family"] == "gpt"
    assert "cost" not in gpt.extra
    assert "last_updated" not in gpt.fields()
    assert models["anyapi/anthropic/claude-haiku-4-5"].pricing is NO_PRICING


def test_extra_keeps_unmapped_cost_and_limit_keys() -> None:
    """Tiered and long-context costs and limit.input stay in extra."""
    tiered = [m for m in catalog("2026-06-13").values() if "cost" in m.extra]
    assert tiered
    assert all(not {"input", "output"} & m.extra["cost"].keys() for m in tiered)
    with_input = [m for m in catalog("2026-06-13").values() if "limit" in m.extra]
    assert with_input
    assert all(set(m.extra["limit"]) == {"input"} for m in with_input)


def test_daily_diff_is_small() -> None:
    """Consecutive daily snapshots share most models."""
    before, after = catalog("2026-06-12"), catalog("2026-06-13")
    common = before.keys() & after.keys()
    assert len(common) > 5000
    changed = [key for key in common if before[key].fields() != after[key].fields()]
    assert len(changed) < 500


@pytest.mark.parametrize(
    ("provider_id", "model_id", "canonical"),
    [
        ("openai", "gpt-4o", "openai/gpt-4o"),
        ("openrouter", "anthropic/claude-sonnet-4", "anthropic/claude-sonnet-4"),
        ("fireworks-ai", "accounts/fireworks/models/glm-5p1", "fireworks/glm-5p1"),
        ("clarifai", "deepseek-ai/deepseek-ocr/models/DeepSeek-OCR",
         "deepseek/deepseek-ocr/models/deepseek-ocr"),
        ("groq", "llama-3.3-70b-versatile", "groq/llama-3.3-70b-versatile"),
        ("amazon-bedrock", "anthropic.claude-3-haiku", "amazon-bedrock/anthropic.claude-3-haiku"),
    ],
)  # fmt: skip
def test_canonical_ids(provider_id: str, model_id: str, canonical: str) -> None:
    """author/model kept, accounts/<a>/models/ stripped, bare ids take the provider."""
    adapter = ModelsDevAdapter("models.dev")
    assert adapter.identify(f"{provider_id}/{model_id}", {}).id == canonical


def test_first_request() -> None:
    """The catalog in one GET."""
    config = GatewayConfig(name="models.dev", base_url="https://models.dev/api.json")
    assert adapter().first_request(config).url == "https://models.dev/api.json"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([{"id": "openai"}], "page 1: expected an object, got a list"),
        ({"openai": {"models": [{"id": "gpt-4o"}]}}, "models must be an object, got a list"),
        ({"openai": ["gpt-4o"]}, "provider 'openai': expected an object"),
        ({"openai": {"models": {"gpt-4o": ["x"]}}}, "'openai/gpt-4o': expected an object"),
        ({"openai": {"models": {"gpt-4o": {"cost": {"input": "abc"}}}}},
         "'openai/gpt-4o': cost.input must be a number"),
        ({"openai": {"models": {"gpt-4o": {"cost": {"input": [1]}}}}},
         "cost.input must be a number"),
        ({"openai": {"models": {"gpt-4o": {"cost": [2.5, 10]}}}}, "cost must be an object"),
        ({"openai": {"models": {"gpt-4o": {"limit": []}}}}, "limit: expected an object"),
        ({"openai": {"models": {"gpt-4o": {"limit": {"context": "big"}}}}},
         "limit.context must be a whole number"),
        ({"openai": {"models": {"gpt-4o": {"modalities": {"input": {"text": 1}}}}}},
         "modalities.input must be a list of strings"),
        ({"openai": {"models": {"gpt-4o": {"name": 4}}}}, "name must be a string"),
        ({"openai": {"models": {"gpt-4o": {"modalities": {"input": [{"text": 1}]}}}}},
         "modalities.input must be a list of strings"),
        ({"openai": {"models": {"gpt-4o": {"modalities": {"output": ["text", 1]}}}}},
         "modalities.output must be a list of strings"),
    ],
)  # fmt: skip
def test_bad_input_is_a_payload_error(document: Any, message: str) -> None:
    """Wrong shapes and bad values raise PayloadError naming the entry and field."""
    with pytest.raises(PayloadError, match=message):
        adapter().parse([Page(document)])
