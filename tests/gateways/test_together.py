"""Together adapter: the recorded bare array, price decisions, canonical ids, malformed input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from conftest import shared_fixture
from modelsync.domain import NO_PRICING, PRICE_FIELDS, Model
from modelsync.errors import PayloadError
from modelsync.gateways.base import GatewayConfig, Page
from modelsync.gateways.registry import build_adapter, builtin_specs
from modelsync.gateways.together import TogetherAdapter, denoised

RECORDED = "providers/together/together_v1_models_2025-07-25_rajashekar-lc.json"


def parse(*documents: Any) -> list[Model]:
    """Every model of the given pages."""
    return TogetherAdapter("together").parse([Page(document) for document in documents])


@pytest.fixture(scope="module")
def recorded() -> dict[str, Model]:
    """The recorded list, parsed, keyed by gateway id."""
    models = parse(orjson.loads(shared_fixture(RECORDED).read_bytes()))
    return {model.gateway_model_id: model for model in models}


@pytest.mark.shared_fixtures
def test_recorded_list_parses_whole(recorded: dict[str, Model]) -> None:
    """88 offers of 82 models (six are Turbo/Free/Lite/HF variants), sane prices."""
    assert len(recorded) == 88
    for model in recorded.values():
        assert model.id == model.id.lower()
        assert model.context_length is None or model.context_length > 0
        for name in PRICE_FIELDS:
            value = getattr(model.pricing, name)
            assert value is None or (isinstance(value, Decimal) and value >= 0)
    assert len({m.id for m in recorded.values()}) == 82


@pytest.mark.shared_fixtures
@pytest.mark.parametrize(
    ("model_id", "prompt", "completion"),
    [
        ("mistralai/Mistral-7B-Instruct-v0.3", Decimal("0.2"), Decimal("0.2")),
        ("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", Decimal("0.18"), Decimal("0.18")),
        ("meta-llama/Llama-4-Scout-17B-16E-Instruct", Decimal("0.18"), Decimal("0.59")),
        ("deepseek-ai/DeepSeek-R1", Decimal(3), Decimal(7)),
        ("togethercomputer/m2-bert-80M-32k-retrieval", Decimal("0.008"), Decimal("0.008")),
        ("Salesforce/Llama-Rank-V1", Decimal("0.1"), Decimal("0.1")),
        ("meta-llama/Llama-3.3-70B-Instruct-Turbo-Free", Decimal(0), Decimal(0)),
        ("deepseek-ai/DeepSeek-R1-Distill-Llama-70B-free", Decimal(0), Decimal(0)),
        ("togethercomputer/MoA-1", None, None),
        ("Qwen/Qwen3-32B-FP8", None, None),
        ("cartesia/sonic", None, None),
        ("openai/whisper-large-v3", None, None),
        ("black-forest-labs/FLUX.1-schnell-Free", None, None),
    ],
)
def test_recorded_prices(
    recorded: dict[str, Model], model_id: str, prompt: Decimal | None, completion: Decimal | None
) -> None:
    """USD per 1M as given, float noise dropped, 0/0 unpriced unless free, non-token unpriced."""
    pricing = recorded[model_id].pricing
    assert (pricing.prompt, pricing.completion) == (prompt, completion)


@pytest.mark.shared_fixtures
def test_recorded_spot_values(recorded: dict[str, Model]) -> None:
    """Names, authors, context lengths, modalities, and what stays in extra."""
    scout = recorded["meta-llama/Llama-4-Scout-17B-16E-Instruct"]
    assert scout.id == "meta-llama/llama-4-scout-17b-16e-instruct"
    assert scout.name == "Llama 4 Scout Instruct (17Bx16E)"
    assert scout.provider_slug == "meta-llama"
    assert scout.context_length == 1048576
    assert (scout.input_modalities, scout.output_modalities) == (("text",), ("text",))
    assert scout.extra["pricing"] == {"base": 0, "finetune": 0, "hourly": 0}
    assert scout.extra["organization"] == "Meta"
    sonic = recorded["cartesia/sonic"]
    assert sonic.provider_slug == "cartesia"
    assert sonic.context_length is None
    assert sonic.output_modalities == ("audio",)
    assert sonic.extra["pricing"]["input"] == 65
    whisper = recorded["openai/whisper-large-v3"]
    assert (whisper.input_modalities, whisper.output_modalities) == (("audio",), ("text",))
    assert whisper.extra["pricing"]["output"] == 0.85
    kontext = recorded["black-forest-labs/FLUX.1-kontext-max"]
    assert kontext.context_length is None
    assert kontext.output_modalities == ("image",)
    assert recorded["intfloat/multilingual-e5-large-instruct"].output_modalities == ("embeddings",)
    assert recorded["eddiehou/meta-llama/Llama-3.1-405B"].id == "eddiehou/meta-llama/llama-3.1-405b"
    assert recorded["Qwen/Qwen3-32B-FP8"].pricing is NO_PRICING


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.18000000000000002, 0.18),
        (0.5900000000000001, 0.59),
        (0.060000000000000005, 0.06),
        (1.2, 1.2),
        (65, 65),
        ("0.3", "0.3"),
        (None, None),
    ],
)
def test_denoised(value: Any, expected: Any) -> None:
    """Floats lose binary noise past 15 significant digits; other values pass through."""
    assert denoised(value) == expected


@pytest.mark.parametrize(
    ("raw_id", "organization", "expected"),
    [
        ("mistralai/Mistral-7B-Instruct-v0.3", "mistralai",
         ("mistralai/mistral-7b-instruct-v0.3", "mistralai")),
        ("cartesia/sonic", "Together", ("cartesia/sonic", "cartesia")),
        ("Qwen/QwQ-32B", None, ("qwen/qwq-32b", "qwen")),
        ("arcee_ai/arcee-spotlight", "Arcee AI", ("arcee-ai/arcee-spotlight", "arcee-ai")),
        ("solo-model", "Black Forest Labs", ("black-forest-labs/solo-model", "black-forest-labs")),
        ("solo-model", None, ("together/solo-model", "together")),
        ("meta-llama/Llama-3.3-70B-Instruct-Turbo-Free", None,
         ("meta-llama/llama-3.3-70b-instruct", "meta-llama")),
    ],
)  # fmt: skip
def test_canonical_ids(
    raw_id: str, organization: str | None, expected: tuple[str, str | None]
) -> None:
    """Together's dialect; ``organization`` names the author of an id without one."""
    identity = TogetherAdapter("together").identify(raw_id, {"organization": organization})
    assert (identity.id, identity.author) == expected


def test_unknown_type_keeps_prices_in_extra() -> None:
    """A type not known to be token-priced gets no token prices and no modalities."""
    entry = {"id": "acme/vid", "type": "hologram", "pricing": {"input": 2, "output": 3}}
    (model,) = parse([entry])
    assert model.pricing is NO_PRICING
    assert model.extra["pricing"] == {"input": 2, "output": 3}
    assert (model.input_modalities, model.output_modalities) == ((), ())


def test_untyped_entry_is_a_chat_model() -> None:
    """An entry without a type is priced per token and reads text."""
    model, unpriced = parse(
        [{"id": "acme/chat", "pricing": {"input": 0.5, "output": 0}}, {"id": "acme/bare"}]
    )
    assert (model.pricing.prompt, model.pricing.completion) == (Decimal("0.5"), Decimal(0))
    assert model.input_modalities == ("text",)
    assert unpriced.pricing is NO_PRICING
    assert "pricing" not in unpriced.extra


def test_first_request() -> None:
    """The shipped endpoint, Bearer auth, configured params."""
    spec = builtin_specs()["together"]
    adapter = build_adapter(spec.adapter, spec.name)
    assert isinstance(adapter, TogetherAdapter)
    config = GatewayConfig(
        name="together",
        base_url=spec.base_url,
        api_key="tk",
        options={"params": {"dedicated": True}},
    )
    request = adapter.first_request(config)
    assert request.url == "https://api.together.xyz/v1/models"
    assert request.params == {"dedicated": "true"}
    assert request.headers == {"Authorization": "Bearer tk"}
    assert adapter.next_request(config, request, Page([])) is None


GOOD = {
    "id": "acme/m",
    "type": "chat",
    "context_length": 4096,
    "pricing": {"input": 1, "output": 2},
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pricing": {"input": "x", "output": 1}}, "pricing.input"),
        ({"pricing": {"input": 1, "output": [2]}}, "pricing.output"),
        ({"pricing": {"input": float("nan"), "output": 1}}, "pricing.input"),
        ({"pricing": [1, 2]}, "pricing"),
        ({"context_length": "big"}, "context_length"),
        ({"type": ["chat"]}, "type"),
        ({"display_name": 7}, "display_name"),
        ({"organization": {"name": "Meta"}}, "organization"),
    ],
)
def test_bad_values_name_entry_and_field(changes: dict[str, Any], field: str) -> None:
    """A bad value is a PayloadError naming the gateway, the model and the field."""
    with pytest.raises(PayloadError, match=field) as caught:
        TogetherAdapter("together").normalize("acme/m", {**GOOD, **changes})
    assert "together model 'acme/m'" in str(caught.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"data": [GOOD]}, "expected the bare list of models, got an object"),
        ("[]", "expected the bare list of models, got a string"),
        ([GOOD, {"type": "chat"}], r"\[1\]: id must be a non-empty string"),
        ([GOOD, [GOOD]], r"\[1\]: expected an object"),
    ],
)
def test_wrong_shapes_are_payload_errors(document: Any, message: str) -> None:
    """A dict instead of the array, a missing id or a non-object entry is a PayloadError."""
    with pytest.raises(PayloadError, match=message):
        parse(document)
