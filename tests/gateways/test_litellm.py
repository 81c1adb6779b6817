"""The LiteLLM catalog adapter: both recorded files, key rules, modes, bad input."""

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
from modelsync.gateways.litellm import LiteLLMAdapter, litellm_model_id
from modelsync.gateways.registry import build_adapter

FILES = {
    day: f"catalogs/litellm_model_prices_and_context_window_{day}_via_RoCry-llm-api-price.json"
    for day in ("2026-07-22", "2026-07-24")
}


def adapter() -> LiteLLMAdapter:
    built = build_adapter("litellm", "litellm")
    assert isinstance(built, LiteLLMAdapter)
    return built


@cache
def catalog(day: str) -> dict[str, Model]:
    document = orjson.loads(shared_fixture(FILES[day]).read_bytes())
    return {m.gateway_model_id: m for m in adapter().parse([Page(document)])}


@pytest.mark.parametrize(("day", "count"), [("2026-07-22", 2972), ("2026-07-24", 2982)])
def test_counts_and_sanity(day: str, count: int) -> None:
    """Every key but sample_spec, last_updated, fallback_generalizations; prices sane."""
    models = catalog(day)
    assert len(models) == count
    assert not {"sample_spec", "last_updated", "fallback_generalizations"} & models.keys()
    for model in models.values():
        for value in model.pricing.as_text().values():
            assert value is None or Decimal(value) >= 0
        assert model.id == model.id.lower()
        assert "/" in model.id
        assert list(model.supported_parameters) == sorted(model.supported_parameters)


def test_consecutive_syncs_differ_by_the_added_family() -> None:
    """The 07-22 -> 07-24 sync added ten claude-opus-5 keys and removed none."""
    added = catalog("2026-07-24").keys() - catalog("2026-07-22").keys()
    assert len(added) == 10
    assert all("claude-opus-5" in key for key in added)
    assert not catalog("2026-07-22").keys() - catalog("2026-07-24").keys()


@pytest.mark.parametrize(
    ("key", "canonical", "prices", "context", "max_output"),
    [
        ("gpt-4o", "openai/gpt-4o", {"prompt": "2.5", "completion": "10", "cache_read": "1.25"},
         128000, 16384),
        ("claude-sonnet-4-5", "anthropic/claude-sonnet-4.5",
         {"prompt": "3", "completion": "15", "cache_read": "0.3", "cache_write": "3.75"},
         200000, 64000),
        ("bedrock/us-east-1/anthropic.claude-v2:1", "bedrock/us-east-1/anthropic.claude-v2-1",
         {"prompt": "8", "completion": "24"}, 100000, 8191),
        ("fireworks_ai/accounts/fireworks/models/qwen2p5-7b-instruct",
         "fireworks/qwen2p5-7b-instruct", {"prompt": "0.2", "completion": "0.2"}, 32768, 32768),
        ("dall-e-3", "openai/dall-e-3", {"image": "0.04"}, None, None),
        ("text-embedding-3-small", "openai/text-embedding-3-small",
         {"prompt": "0.02", "completion": "0"}, 8191, None),
        ("whisper-1", "openai/whisper-1", {}, None, None),
    ],
)  # fmt: skip
def test_spot_values(
    key: str, canonical: str, prices: dict[str, str], context: int | None, max_output: int | None
) -> None:
    """Exact USD per 1M prices (from per-token floats like 1.25e-06), limits, canonical ids."""
    model = catalog("2026-07-24")[key]
    assert model.id == canonical
    assert {k: v for k, v in model.pricing.as_text().items() if v is not None} == prices
    assert (model.context_length, model.max_output_tokens) == (context, max_output)
    if not prices:
        assert model.pricing is NO_PRICING


def test_flags_modes_and_deprecation() -> None:
    """supports_* flags become parameters; mode and flags give modalities; dates deprecate."""
    models = catalog("2026-07-24")
    gpt = models["gpt-4o"]
    assert gpt.provider_slug == "openai"
    assert "function_calling" in gpt.supported_parameters
    assert "vision" in gpt.supported_parameters
    assert not any(name.startswith("supports_") for name in gpt.extra)
    assert gpt.extra["max_tokens"] == 16384
    assert (gpt.input_modalities, gpt.output_modalities) == (("file", "image", "text"), ("text",))
    assert models["dall-e-3"].output_modalities == ("image",)
    assert models["text-embedding-3-small"].output_modalities == ("embeddings",)
    assert models["whisper-1"].input_modalities == ("audio",)
    old = models["azure/eu/gpt-4o-2024-08-06"]
    assert (old.status, old.deprecation_date) == (ModelStatus.DEPRECATED, "2026-02-27")
    assert old.id == "azure/eu/gpt-4o-2024-08-06"
    assert gpt.status is ModelStatus.ACTIVE


@pytest.mark.parametrize(
    ("key", "provider", "canonical"),
    [
        ("gpt-4o", "openai", "openai/gpt-4o"),
        ("openrouter/anthropic/claude-3-opus", "openrouter", "anthropic/claude-3-opus"),
        ("together_ai/meta-llama/Llama-3-70B", "together_ai", "meta-llama/Llama-3-70B"),
        ("groq/llama-3.1-8b-instant", "groq", "groq/llama-3.1-8b-instant"),
        ("gemini/gemini-2.0-flash", "gemini", "gemini/gemini-2.0-flash"),
        ("vertex_ai/meta/llama-3.1-8b-instruct-maas", "vertex_ai-llama_models",
         "meta/llama-3.1-8b-instruct-maas"),
        ("vertex_ai/jamba-1.5-mini", "vertex_ai-ai21_models",
         "vertex_ai-ai21_models/jamba-1.5-mini"),
        ("fireworks_ai/accounts/fireworks/models/x-7b", "fireworks_ai", "fireworks/x-7b"),
        ("azure/eu/gpt-4o", "azure", "azure/eu/gpt-4o"),
        ("bedrock/us-east-1/anthropic.claude-v2:1", "bedrock",
         "bedrock/us-east-1/anthropic.claude-v2:1"),
        ("1024-x-1024/dall-e-2", "openai", "openai/1024-x-1024/dall-e-2"),
        ("cloudflare/@cf/meta/llama-3-8b", "cloudflare", "cloudflare/@cf/meta/llama-3-8b"),
        ("anthropic.claude-opus-5", "bedrock", "bedrock/anthropic.claude-opus-5"),
    ],
)  # fmt: skip
def test_canonical_ids(key: str, provider: str, canonical: str) -> None:
    """Routing prefix and accounts/<a>/models/ stripped; author/model kept; else provider."""
    assert litellm_model_id(key, provider) == canonical


@pytest.mark.parametrize(
    ("key", "provider", "canonical"),
    [
        ("gemini/gemini-2.0-flash", "gemini", "google/gemini-2.0-flash"),
        ("together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo", "together_ai",
         "meta-llama/llama-3.3-70b-instruct-turbo"),
        ("bedrock/us-east-1/anthropic.claude-v2:1", "bedrock",
         "bedrock/us-east-1/anthropic.claude-v2-1"),
        ("cloudflare/@cf/meta/llama-3-8b", "cloudflare", "cloudflare/cf/meta/llama-3-8b"),
    ],
)  # fmt: skip
def test_identity_of_keys(key: str, provider: str, canonical: str) -> None:
    """The named model under the identity rules (generic dialect: no serving variants)."""
    identity = LiteLLMAdapter("litellm").identify(key, {"litellm_provider": provider})
    assert identity.id == canonical


@pytest.mark.parametrize(
    ("entry", "inputs", "outputs"),
    [
        ({"mode": "chat"}, ("text",), ("text",)),
        ({"mode": "chat", "supports_audio_input": True, "supports_video_input": True},
         ("audio", "text", "video"), ("text",)),
        ({"mode": "image_edit"}, ("image", "text"), ("image",)),
        ({"mode": "audio_speech"}, ("text",), ("audio",)),
        ({"mode": "video_generation"}, ("text",), ("video",)),
        ({"mode": "rerank", "supports_vision": True}, (), ()),
        ({}, (), ()),
        ({"mode": "chat", "supported_modalities": ["text", "audio"],
          "supported_output_modalities": ["text", "audio"]}, ("audio", "text"), ("audio", "text")),
    ],
)  # fmt: skip
def test_mode_modalities(
    entry: dict[str, Any], inputs: tuple[str, ...], outputs: tuple[str, ...]
) -> None:
    """Explicit modality lists win; else the mode (and input flags) where clear."""
    model = adapter().normalize("m", {"litellm_provider": "p", **entry})
    assert (model.input_modalities, model.output_modalities) == (inputs, outputs)


def test_same_prices_typed_apart() -> None:
    """The price memo never confuses 1 with 1.0 or True: True is refused."""
    litellm = adapter()
    one = litellm.normalize("a", {"litellm_provider": "p", "input_cost_per_token": 1})
    assert one.pricing.prompt == Decimal(1000000)
    with pytest.raises(PayloadError, match="input_cost_per_token must be a number"):
        litellm.normalize("b", {"litellm_provider": "p", "input_cost_per_token": True})


def test_first_request() -> None:
    """The catalog file in one GET."""
    url = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices.json"
    assert adapter().first_request(GatewayConfig(name="litellm", base_url=url)).url == url


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (["openai"], "'m': expected an object, got a list"),
        ({"mode": "chat"}, "litellm_provider must be a non-empty string"),
        ({"litellm_provider": "p", "input_cost_per_token": "cheap"},
         "input_cost_per_token must be a number"),
        ({"litellm_provider": "p", "output_cost_per_token": [1e-6]},
         "output_cost_per_token must be a number"),
        ({"litellm_provider": "p", "max_input_tokens": "128k"}, "max_input_tokens must be a whole"),
        ({"litellm_provider": "p", "supports_vision": "yes"}, "supports_vision must be true or"),
        ({"litellm_provider": "p", "supported_modalities": {"text": True}},
         "supported_modalities must be a list of strings"),
        ({"litellm_provider": "p", "deprecation_date": "next year"},
         "deprecation_date must be an ISO date"),
        ({"litellm_provider": "p", "mode": 3}, "mode must be a string"),
    ],
)  # fmt: skip
def test_bad_entry_is_a_payload_error(entry: Any, message: str) -> None:
    """Bad values raise PayloadError naming the key and field."""
    with pytest.raises(PayloadError, match=message):
        adapter().normalize("m", entry)


def test_wrong_top_level_type() -> None:
    """A catalog that is not an object is refused."""
    with pytest.raises(PayloadError, match="litellm page 1: expected an object, got a list"):
        list(adapter().entries([Page([{"litellm_provider": "p"}])]))
