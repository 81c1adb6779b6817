"""The Vercel AI Gateway adapter: the 2025 capture, the 2026 keys, bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from conftest import PROJECT_FIXTURES, shared_fixture
from modelsync.domain import NO_PRICING, Model, ModelStatus
from modelsync.errors import PayloadError
from modelsync.gateways.base import GatewayConfig, Page
from modelsync.gateways.registry import build_adapter, builtin_specs
from modelsync.gateways.vercel import VercelAdapter, type_modalities

SPEC = builtin_specs()["vercel-ai-gateway"]
CAPTURE = "providers/vercel/vercel_ai_gateway_v1_models_2025-07-25_rajashekar-lc.json"
SHAPE_2026 = PROJECT_FIXTURES / "gateways" / "vercel_ai_gateway_v1_models_2026_shape.json"


def adapter() -> VercelAdapter:
    built = build_adapter(SPEC.adapter, SPEC.name)
    assert isinstance(built, VercelAdapter)
    return built


def capture() -> dict[str, Model]:
    document = orjson.loads(shared_fixture(CAPTURE).read_bytes())
    return {m.gateway_model_id: m for m in adapter().parse([Page(document)])}


def shape_2026() -> dict[str, Model]:
    document = orjson.loads(SHAPE_2026.read_bytes())
    return {m.gateway_model_id: m for m in adapter().parse([Page(document)])}


def test_first_request() -> None:
    """One public GET; a configured key is sent as Bearer."""
    vercel = adapter()
    plain = vercel.first_request(GatewayConfig(name=SPEC.name, base_url=SPEC.base_url))
    assert (plain.url, plain.headers) == ("https://ai-gateway.vercel.sh/v1/models", {})
    keyed = vercel.first_request(GatewayConfig(name=SPEC.name, base_url=SPEC.base_url,
                                               api_key="vk"))  # fmt: skip
    assert keyed.headers == {"Authorization": "Bearer vk"}
    assert vercel.next_request(GatewayConfig(name=SPEC.name, base_url=SPEC.base_url), plain,
                               Page({"data": []})) is None  # fmt: skip


def test_capture_counts_and_sanity() -> None:
    """78 models, unique, priced, canonical author/slug ids, created only in extra."""
    models = capture()
    assert len(models) == 78
    for model in models.values():
        assert model.id.count("/") == 1
        assert model.id.partition("/")[0] == model.provider_slug
        assert model.pricing.prompt is not None
        assert model.pricing.prompt >= 0
        assert model.pricing.completion is not None
        assert model.pricing.completion >= 0
        assert model.status is ModelStatus.ACTIVE
        assert "created" in model.extra
        assert "created" not in model.fields()


@pytest.mark.parametrize(
    ("model_id", "prompt", "completion", "context", "max_output", "name"),
    [
        ("alibaba/qwen-3-14b", "0.08", "0.24", 40960, 8192, "Qwen3-14B"),
        ("anthropic/claude-4-opus", "15", "75", 200000, 1024, None),
        ("amazon/nova-micro", "0.035", "0.14", 128000, 4096, None),
        ("google/gemini-2.0-flash-lite", "0.075", "0.3", 1048576, 4096, None),
        ("mistral/mixtral-8x22b-instruct", "1.2", "1.2", 2048, 256, None),
    ],
)
def test_capture_spot_values(
    model_id: str,
    prompt: str,
    completion: str,
    context: int,
    max_output: int,
    name: str | None,
) -> None:
    """USD per token strings become exact USD per 1M Decimals."""
    model = capture()[model_id]
    assert model.pricing.prompt == Decimal(prompt)
    assert model.pricing.completion == Decimal(completion)
    assert (model.context_length, model.max_output_tokens) == (context, max_output)
    assert model.provider_slug == model.id.partition("/")[0]
    if name is not None:
        assert model.name == name


def test_2026_language_model() -> None:
    """Cache prices, given modalities, parameters plus tag-derived ones, leftover pricing."""
    model = shape_2026()["anthropic/claude-sonnet-4.5"]
    assert model.pricing.cache_read == Decimal("0.3")
    assert model.pricing.cache_write == Decimal("3.75")
    assert model.input_modalities == ("file", "image", "text")
    assert model.supported_parameters == (
        "max_tokens", "reasoning", "stop", "temperature", "tool_choice", "tools"
    )  # fmt: skip
    assert model.extra["pricing"] == {
        "input_tiers": [{"cost": "0.000003", "min": 0, "max": 200000},
                        {"cost": "0.000006", "min": 200000}]
    }  # fmt: skip
    assert model.extra["released"] == 1758844800
    assert model.extra["tags"] == ["file-input", "reasoning", "tool-use", "vision"]


@pytest.mark.parametrize(
    ("model_id", "inputs", "outputs", "context", "status", "deprecation"),
    [
        ("openai/text-embedding-3-small", ("text",), ("embeddings",), None, "active", None),
        ("google/imagen-4.0-generate-001", ("text",), ("image",), 480, "active", None),
        ("mistral/mistral-large", ("text",), ("text",), 32000, "deprecated", "2026-02-28"),
        ("openai/gpt-4o-transcribe", ("audio",), ("text",), 16000, "deprecated", "2026-12-31"),
    ],
)
def test_2026_types_and_deprecation(
    model_id: str,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    context: int | None,
    status: str,
    deprecation: str | None,
) -> None:
    """type -> modalities; a 0 limit is unknown; deprecated_at (date or Unix) -> deprecated."""
    model = shape_2026()[model_id]
    assert (model.input_modalities, model.output_modalities) == (inputs, outputs)
    assert model.context_length == context
    assert (model.status.value, model.deprecation_date) == (status, deprecation)


def test_2026_prices_without_token_keys() -> None:
    """Only per-image pricing: token prices stay unknown, the rest is kept; null pricing too."""
    models = shape_2026()
    imagen = models["google/imagen-4.0-generate-001"]
    assert imagen.pricing.prompt is None
    assert imagen.extra["pricing"] == {"image": "0.04"}
    assert models["openai/gpt-4o-transcribe"].pricing is NO_PRICING
    assert models["openai/text-embedding-3-small"].pricing.completion == Decimal(0)


@pytest.mark.parametrize(
    ("deprecated_at", "expected"),
    [
        ("2026-02-28", "2026-02-28"),
        ("2026-02-28T23:30:00-05:00", "2026-02-28"),
        ("2026-02-28T10:00:00Z", "2026-02-28"),
        (1798675200, "2026-12-31"),
        (1798675200000, "2026-12-31"),
        (1798675200.5, "2026-12-31"),
        (None, None),
        ("", None),
    ],
)
def test_deprecated_at_formats(deprecated_at: object, expected: str | None) -> None:
    """ISO dates and datetimes keep their calendar date; Unix seconds or ms are UTC dates."""
    model = adapter().normalize("a/b", {"id": "a/b", "deprecated_at": deprecated_at})
    assert model.deprecation_date == expected


@pytest.mark.parametrize("deprecated_at", [True, -5, 0, "2026-13-01", "tomorrow", 1e300, [2026]])
def test_bad_deprecated_at(deprecated_at: object) -> None:
    """Anything else is a PayloadError naming the field."""
    with pytest.raises(PayloadError, match="deprecated_at must be an ISO date"):
        adapter().normalize("a/b", {"id": "a/b", "deprecated_at": deprecated_at})


@pytest.mark.parametrize(
    ("model_type", "tags", "inputs", "outputs"),
    [
        ("language", (), ("text",), ("text",)),
        ("language", ("vision", "file-input"), ("file", "image", "text"), ("text",)),
        ("language", ("image-generation",), ("text",), ("image", "text")),
        ("video", (), ("text",), ("video",)),
        ("speech", (), ("text",), ("audio",)),
        ("reranking", (), (), ()),
        (None, (), (), ()),
    ],
)
def test_type_modalities(
    model_type: str | None,
    tags: tuple[str, ...],
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
) -> None:
    """The model type and tags imply sorted modalities; unclear types imply none."""
    assert type_modalities(model_type, tags) == (inputs, outputs)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ({"id": "openai/GPT-4o"}, "openai/gpt-4o"),
        ({"id": "v0-1.5-md", "owned_by": "vercel"}, "vercel/v0-1.5-md"),
        ({"id": "v0-1.5-md"}, "vercel-ai-gateway/v0-1.5-md"),
    ],
)
def test_canonical_ids(raw: dict[str, Any], canonical: str) -> None:
    """creator/model lower-cased; owned_by, then the gateway name, without a creator."""
    assert adapter().normalize(raw["id"], raw).id == canonical


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([{"id": "a/b"}], "expected an object, got a list"),
        ({"data": {"id": "a/b"}}, "data: expected a list"),
        ({"data": [{"name": "x"}]}, "id must be a non-empty string"),
        ({"data": [{"id": "a/b", "pricing": {"input": "free"}}]},
         "'a/b': pricing.input must be a number"),
        ({"data": [{"id": "a/b", "pricing": ["0.1"]}]}, "pricing: expected an object"),
        ({"data": [{"id": "a/b", "context_window": "128k"}]},
         "context_window must be a whole number"),
        ({"data": [{"id": "a/b", "tags": "vision"}]}, "tags must be a list of strings"),
        ({"data": [{"id": "a/b", "modalities": {"input": "text"}}]},
         "modalities.input must be a list of strings"),
        ({"data": [{"id": "a/b", "deprecated_at": "someday"}]},
         "deprecated_at must be an ISO date"),
    ],
)  # fmt: skip
def test_bad_input_is_a_payload_error(document: Any, message: str) -> None:
    """Wrong shapes and bad values raise PayloadError naming the entry and field."""
    with pytest.raises(PayloadError, match=message):
        adapter().parse([Page(document)])
