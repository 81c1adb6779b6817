"""The NEAR AI Cloud adapter: the nano-USD price rule, offset paging, bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from conftest import PROJECT_FIXTURES, shared_fixture
from modelsync.domain import Model, ModelStatus
from modelsync.errors import ConfigError, PayloadError
from modelsync.gateways.base import MAX_PAGES, GatewayConfig, Page, PageRequest
from modelsync.gateways.near import NearAdapter, near_cost
from modelsync.gateways.registry import build_adapter, builtin_specs

SPEC = builtin_specs()["near"]
CONFIG = GatewayConfig(name="near", base_url=SPEC.base_url)
PAGE_1 = PROJECT_FIXTURES / "gateways" / "near_v1_model_list_page1.json"
PAGE_2 = PROJECT_FIXTURES / "gateways" / "near_v1_model_list_page2.json"


def adapter() -> NearAdapter:
    built = build_adapter(SPEC.adapter, SPEC.name)
    assert isinstance(built, NearAdapter)
    return built


def pages() -> list[Page]:
    return [Page(orjson.loads(PAGE_1.read_bytes())), Page(orjson.loads(PAGE_2.read_bytes()))]


def by_id(models: list[Model]) -> dict[str, Model]:
    return {model.gateway_model_id: model for model in models}


@pytest.mark.parametrize(
    ("cost", "per_token", "expected"),
    [
        ({"amount": 150, "scale": 9, "currency": "USD"}, True, "0.15"),
        ({"amount": 3100, "scale": 9}, True, "3.1"),
        ({"amount": 150}, True, "0.15"),
        ({"amount": 150, "scale": None}, True, "0.15"),
        ({"amount": 1, "scale": -6}, True, "1"),
        ({"amount": 2.5, "scale": -6}, True, "2.5"),
        ({"amount": 0, "scale": 9}, True, "0"),
        ({"amount": 3000000, "scale": 9}, False, "0.003"),
        ({"amount": 40000, "scale": 6}, False, "0.04"),
        (None, True, None),
        ({"amount": None, "scale": 9}, True, None),
    ],
)
def test_price_rule(cost: Any, per_token: bool, expected: str | None) -> None:
    """amount x 10^-|scale| USD per token (or per image), to USD per 1M tokens."""
    value = near_cost(cost, "cost", per_token=per_token)
    assert value == (None if expected is None else Decimal(expected))


def test_multi_page_listing() -> None:
    """Five models over two pages in the real scale-9 shape, unique, prices sane."""
    models = adapter().parse(pages())
    assert len(models) == 5
    assert len({m.gateway_model_id for m in models}) == 5
    for model in models:
        for value in model.pricing.as_text().values():
            assert value is None or Decimal(value) >= 0


@pytest.mark.parametrize(
    ("model_id", "canonical", "prompt", "completion", "cache_read", "context", "max_output"),
    [
        ("deepseek-ai/DeepSeek-V3.1", "deepseek/deepseek-v3.1", "1.05", "3.1", None, 128000,
         32768),
        ("openai/gpt-oss-120b", "openai/gpt-oss-120b", "0.15", "0.55", "0.015", 131000, 131000),
        ("Qwen/Qwen3-30B-A3B-Instruct-2507", "qwen/qwen-3-30b-a3b-instruct-2507", "0.15", "0.45",
         None, 262144, None),
        ("zai-org/GLM-4.6", "z-ai/glm-4.6", "0.75", "2", None, 200000, None),
        ("near-flux-schnell", "black-forest-labs/near-flux-schnell", "0", "0", None, None, None),
    ],
)  # fmt: skip
def test_spot_values(
    model_id: str,
    canonical: str,
    prompt: str,
    completion: str,
    cache_read: str | None,
    context: int | None,
    max_output: int | None,
) -> None:
    """Exact prices after the nano-USD conversion, limits and canonical ids."""
    model = by_id(adapter().parse(pages()))[model_id]
    assert model.id == canonical
    assert model.pricing.prompt == Decimal(prompt)
    assert model.pricing.completion == Decimal(completion)
    assert model.pricing.cache_read == (None if cache_read is None else Decimal(cache_read))
    assert model.context_length == context
    assert model.max_output_tokens == max_output


def test_metadata_mapping() -> None:
    """Names, modalities, parameters, deprecation and the remaining metadata in extra."""
    models = by_id(adapter().parse(pages()))
    gpt = models["openai/gpt-oss-120b"]
    assert gpt.name == "GPT OSS 120B"
    assert gpt.provider_slug == "openai"
    assert gpt.supported_parameters == (
        "max_tokens", "reasoning", "structured_outputs", "temperature", "tools", "top_p"
    )  # fmt: skip
    assert gpt.status is ModelStatus.ACTIVE
    glm = models["zai-org/GLM-4.6"]
    assert (glm.status, glm.deprecation_date) == (ModelStatus.DEPRECATED, "2026-03-01")
    flux = models["near-flux-schnell"]
    assert flux.output_modalities == ("image",)
    assert flux.pricing.image == Decimal("0.003")
    assert flux.extra["metadata"]["isReady"] is False
    assert models["deepseek-ai/DeepSeek-V3.1"].extra["metadata"]["aliases"] == ["deepseek-v3.1"]


def test_gatewayz_mock() -> None:
    """The gatewayz mock (scale -6, amounts in $/1M, displayName/description) fits the rule."""
    document = orjson.loads(
        shared_fixture("providers/near/near_v1_model_list_mock_gatewayz-backend.json").read_bytes()
    )
    near = adapter()
    models = by_id(near.parse([Page(document)]))
    assert len(models) == 4
    deepseek = models["deepseek-ai/DeepSeek-V3.1"]
    assert (deepseek.pricing.prompt, deepseek.pricing.completion) == (Decimal(1), Decimal("2.5"))
    assert deepseek.name == "DeepSeek V3.1"
    assert deepseek.description == "Advanced reasoning model with hybrid thinking mode"
    assert deepseek.context_length == 128000
    assert models["openai/gpt-oss-120b"].pricing.prompt == Decimal("0.2")
    assert models["zai-org/GLM-4.6"].pricing.completion == Decimal(2)
    assert near.next_request(CONFIG, near.first_request(CONFIG), Page(document)) is None


def test_offset_paging() -> None:
    """offset + len(models) until total; headers and limit kept; the last page ends it."""
    near = adapter()
    config = GatewayConfig(name="near", base_url=SPEC.base_url, api_key="k",
                           options={"page_size": 3})  # fmt: skip
    first = near.first_request(config)
    assert first.url == "https://cloud-api.near.ai/v1/model/list"
    assert first.params == {"limit": "3", "offset": "0"}
    assert first.headers == {"Authorization": "Bearer k"}
    one, two = pages()
    second = near.next_request(config, first, one)
    assert second is not None
    assert (second.params, second.headers, second.page) == (
        {"limit": "3", "offset": "3"}, first.headers, 2
    )  # fmt: skip
    assert near.next_request(config, second, two) is None
    assert near.first_request(CONFIG).params == {"limit": "100", "offset": "0"}


@pytest.mark.parametrize(
    ("document", "params", "next_offset"),
    [
        ({"models": []}, {"limit": "2", "offset": "4"}, None),
        ({"models": [{}, {}]}, {"limit": "2", "offset": "4"}, "6"),
        ({"models": [{}]}, {"limit": "2", "offset": "4"}, None),
        ({"models": [{}, {}], "offset": 4, "limit": 2, "total": 7}, {}, "6"),
        ({"models": [{}, {}], "offset": 4, "limit": 2, "total": 6}, {}, None),
    ],
)
def test_offset_paging_edges(
    document: dict[str, Any], params: dict[str, str], next_offset: str | None
) -> None:
    """An empty page ends; without total a short page ends; otherwise total decides."""
    previous = PageRequest(url=SPEC.base_url, params=params)
    following = adapter().next_request(CONFIG, previous, Page(document))
    assert (following.params["offset"] if following else None) == next_offset


@pytest.mark.parametrize("size", [0, -5, "100", None])
def test_bad_page_size_is_a_config_error(size: object) -> None:
    """page_size must be a positive integer."""
    config = GatewayConfig(name="near", base_url=SPEC.base_url, options={"page_size": size})
    with pytest.raises(ConfigError, match="page_size"):
        adapter().first_request(config)


def test_paging_past_max_pages_fails() -> None:
    """A server that never reaches total cannot loop the run forever."""
    previous = PageRequest(url=SPEC.base_url, params={"limit": "1", "offset": "0"}, page=MAX_PAGES)
    with pytest.raises(PayloadError, match="pages"):
        adapter().next_request(CONFIG, previous, Page({"models": [{}], "total": 10**6}))


@pytest.mark.parametrize(
    ("model_id", "owned_by", "canonical"),
    [
        ("deepseek-ai/DeepSeek-V3.1", "someone-else", "deepseek/deepseek-v3.1"),
        ("llama-3.3-70b", "Meta", "meta-llama/llama-3.3-70b-instruct"),
        ("llama-3.3-70b", None, "meta-llama/llama-3.3-70b-instruct"),
        ("acme-1", None, "near/acme-1"),
        ("acme-1", "Acme Labs", "acme-labs/acme-1"),
    ],
)
def test_canonical_ids(model_id: str, owned_by: str | None, canonical: str) -> None:
    """The id's org first, then metadata.ownedBy, then the gateway."""
    raw = {"modelId": model_id, "metadata": {"ownedBy": owned_by}}
    assert adapter().normalize(model_id, raw).id == canonical


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([{"modelId": "a"}], "expected an object, got a list"),
        ({"models": {"modelId": "a"}}, "models: expected a list"),
        ({"models": [{"metadata": {}}]}, "modelId must be a non-empty string"),
        ({"models": [{"modelId": "a", "inputCostPerToken": {"amount": "abc", "scale": 9}}]},
         "'a': inputCostPerToken.amount must be a number"),
        ({"models": [{"modelId": "a", "inputCostPerToken": {"amount": 1, "scale": "9"}}]},
         "inputCostPerToken.scale must be an integer"),
        ({"models": [{"modelId": "a", "outputCostPerToken": {"amount": 1, "currency": "EUR"}}]},
         "outputCostPerToken.currency must be USD"),
        ({"models": [{"modelId": "a", "outputCostPerToken": [1, 9]}]},
         "outputCostPerToken must be an object"),
        ({"models": [{"modelId": "a", "metadata": []}]}, "metadata: expected an object"),
        ({"models": [{"modelId": "a", "metadata": {"contextLength": "lots"}}]},
         "metadata.contextLength must be a whole number"),
        ({"models": [{"modelId": "a", "metadata": {"deprecationDate": "soon"}}]},
         "metadata.deprecationDate must be an ISO date"),
    ],
)  # fmt: skip
def test_bad_input_is_a_payload_error(document: Any, message: str) -> None:
    """Wrong shapes and bad values raise PayloadError naming the entry and field."""
    with pytest.raises(PayloadError, match=message):
        adapter().parse([Page(document)])


def test_bad_page_fails_paging() -> None:
    """next_request refuses a page that is not the list shape."""
    with pytest.raises(PayloadError, match="models: expected a list"):
        adapter().next_request(CONFIG, adapter().first_request(CONFIG), Page({"models": None}))
