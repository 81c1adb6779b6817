"""The AIMO adapter: one model per name across providers, cheapest offer, bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from conftest import PROJECT_FIXTURES
from modelsync.domain import NO_PRICING, Model
from modelsync.errors import PayloadError
from modelsync.gateways.aimo import AimoAdapter
from modelsync.gateways.base import GatewayConfig, Page
from modelsync.gateways.registry import build_adapter, builtin_specs

SPEC = builtin_specs()["aimo"]
FIXTURE = PROJECT_FIXTURES / "gateways" / "aimo_api_v1_models.json"


def adapter() -> AimoAdapter:
    built = build_adapter(SPEC.adapter, SPEC.name)
    assert isinstance(built, AimoAdapter)
    return built


def models() -> dict[str, Model]:
    parsed = adapter().parse([Page(orjson.loads(FIXTURE.read_bytes()))])
    assert len(parsed) == len({m.gateway_model_id for m in parsed})
    return {m.gateway_model_id: m for m in parsed}


def test_first_request() -> None:
    """One GET with the Bearer key."""
    request = adapter().first_request(
        GatewayConfig(name="aimo", base_url=SPEC.base_url, api_key="ak")
    )
    assert request.url == "https://beta.aimo.network/api/v1/models"
    assert request.headers == {"Authorization": "Bearer ak"}


def test_duplicates_are_merged() -> None:
    """Five items, one name listed twice: four models, the repeat's providers merged."""
    parsed = models()
    assert list(parsed) == [
        "deepseek/deepseek-v3.1", "qwen/qwen3-32b", "llama-3.1-8b-instruct",
        "mistralai/mistral-small-3.2",
    ]  # fmt: skip
    providers = parsed["deepseek/deepseek-v3.1"].extra["providers"]
    assert [p["name"] for p in providers] == ["Edge Node A", "Community C"]


@pytest.mark.parametrize(
    ("name", "canonical", "prompt", "completion", "context"),
    [
        ("deepseek/deepseek-v3.1", "deepseek/deepseek-chat-v3.1", "0.25", "1", 163840),
        ("qwen/qwen3-32b", "qwen/qwen-3-32b", "0.2", "0.6", 40960),
        ("llama-3.1-8b-instruct", "meta-llama/llama-3.1-8b-instruct", "0", "0", 131072),
        ("mistralai/mistral-small-3.2", "mistralai/mistral-small-3.2", None, None, None),
    ],
)
def test_spot_values(
    name: str, canonical: str, prompt: str | None, completion: str | None, context: int | None
) -> None:
    """Cheapest provider in USD per 1M; free is 0, no offer is unknown; 0 context unknown."""
    model = models()[name]
    assert model.id == canonical
    assert model.pricing.prompt == (None if prompt is None else Decimal(prompt))
    assert model.pricing.completion == (None if completion is None else Decimal(completion))
    assert model.context_length == context
    if prompt is None:
        assert model.pricing is NO_PRICING


def test_names_and_extra() -> None:
    """display_name is the name; created and providers stay in extra."""
    model = models()["qwen/qwen3-32b"]
    assert model.name == "Qwen3 32B"
    assert model.provider_slug == "qwen"
    assert model.extra["created"] == 1745884800
    assert models()["mistralai/mistral-small-3.2"].input_modalities == ("image", "text")


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ({"name": "openai/GPT-4o"}, "openai/gpt-4o"),
        ({"name": "gpt-4o", "canonical_slug": "openai/gpt-4o-2024-08-06"},
         "openai/gpt-4o-2024-08-06"),
        ({"name": "openai/gpt-4o", "canonical_slug": "gpt-4o"}, "openai/gpt-4o"),
        ({"name": "gpt-4o"}, "openai/gpt-4o"),
    ],
)  # fmt: skip
def test_canonical_ids(raw: dict[str, Any], canonical: str) -> None:
    """canonical_slug with an author first, then name with an author, then aimo/<name>."""
    assert adapter().normalize(raw["name"], raw).id == canonical


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([{"name": "a"}], "expected an object, got a list"),
        ({"data": {"name": "a"}}, "data: expected a list"),
        ({"data": [{"display_name": "A"}]}, "name must be a non-empty string"),
        ({"data": [{"name": "a", "providers": {"id": "p"}}]}, "providers: expected a list"),
        ({"data": [{"name": "a", "providers": [{"id": "p", "pricing": {"prompt": "x",
                                                                      "completion": "1"}}]}]},
         r"'a': providers\[0\].pricing.prompt must be a number"),
        ({"data": [{"name": "a", "providers": [{"id": "p", "pricing": "free"}]}]},
         r"providers\[0\].pricing: expected an object"),
        ({"data": [{"name": "a", "providers": []}, {"name": "a", "providers": "p"}]},
         "providers: expected a list"),
        ({"data": [{"name": "a", "context_length": [1]}]}, "context_length must be a whole"),
    ],
)  # fmt: skip
def test_bad_input_is_a_payload_error(document: Any, message: str) -> None:
    """Wrong shapes and bad values raise PayloadError naming the entry and field."""
    with pytest.raises(PayloadError, match=message):
        adapter().parse([Page(document)])
