"""The Hugging Face router adapter: provider merge rules, Link paging, bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from catalog_checks import check_catalog

from conftest import PROJECT_FIXTURES, shared_fixture
from modelsync.domain import Model
from modelsync.errors import PayloadError
from modelsync.gateways.base import MAX_PAGES, GatewayConfig, Page, PageRequest, cheapest
from modelsync.gateways.huggingface import HuggingFaceAdapter, next_link
from modelsync.gateways.registry import build_adapter, builtin_specs

FIXTURE = PROJECT_FIXTURES / "gateways" / "huggingface_router_v1_models.json"
SPEC = builtin_specs()["huggingface"]
CONFIG = GatewayConfig(name="huggingface", base_url=SPEC.base_url)


def adapter() -> HuggingFaceAdapter:
    built = build_adapter(SPEC.adapter, SPEC.name)
    assert isinstance(built, HuggingFaceAdapter)
    return built


def parse(document: Any) -> list[Model]:
    return adapter().parse([Page(document)])


def by_id(models: list[Model]) -> dict[str, Model]:
    return {model.gateway_model_id: model for model in models}


def test_docs_extract_item() -> None:
    """The one real item (docs example): cheapest live priced provider, max live context."""
    item = orjson.loads(
        shared_fixture(
            "providers/huggingface/hf_router_v1_models_single_data_item_docs_example_extract.json"
        ).read_bytes()
    )
    [model] = parse({"object": "list", "data": [item]})
    assert model.id == "deepseek/deepseek-v4-pro"
    assert model.provider_slug == "deepseek"
    assert (model.pricing.prompt, model.pricing.completion) == (Decimal("1.69"), Decimal("3.38"))
    assert model.context_length == 1048576
    assert model.supported_parameters == ("structured_outputs", "tools")
    assert model.input_modalities == ("text",)
    assert all("throughput" not in p for p in model.extra["providers"])
    assert len(model.extra["providers"]) == 5


@pytest.mark.parametrize(
    ("model_id", "canonical", "prompt", "completion", "context", "parameters"),
    [
        ("deepseek-ai/DeepSeek-V4-Pro", "deepseek/deepseek-v4-pro", "1.69", "3.38", 1048576,
         ("structured_outputs", "tools")),
        ("meta-llama/Llama-3.3-70B-Instruct", "meta-llama/llama-3.3-70b-instruct", "0.59",
         "0.79", 131072, ("tools",)),
        ("Qwen/Qwen3-Coder-480B-A35B-Instruct", "qwen/qwen-3-coder-480b-a35b-instruct", "0.4",
         "1.8", 262144, ()),
        ("zai-org/GLM-4.6", "z-ai/glm-4.6", None, None, 204800, ("tools",)),
        ("google/gemma-3-27b-it", "google/gemma-3-27b-it", None, None, None, ()),
    ],
)  # fmt: skip
def test_full_list_spot_values(
    model_id: str,
    canonical: str,
    prompt: str | None,
    completion: str | None,
    context: int | None,
    parameters: tuple[str, ...],
) -> None:
    """Error/staging providers never count; unpriced models stay unknown, never 0."""
    model = by_id(parse(orjson.loads(FIXTURE.read_bytes())))[model_id]
    assert model.id == canonical
    assert model.pricing.prompt == (None if prompt is None else Decimal(prompt))
    assert model.pricing.completion == (None if completion is None else Decimal(completion))
    assert model.context_length == context
    assert model.supported_parameters == parameters


def test_full_list_counts_and_sanity() -> None:
    """Five models, unique ids, prices Decimal >= 0 or None, modalities sorted."""
    models = parse(orjson.loads(FIXTURE.read_bytes()))
    assert len(models) == 5
    check_catalog(models)
    assert by_id(models)["google/gemma-3-27b-it"].input_modalities == ("image", "text")


def test_volatile_probes_do_not_change_extra() -> None:
    """Two polls that differ only in throughput/latency give equal models and equal extra."""
    first = orjson.loads(FIXTURE.read_bytes())["data"][0]
    second = orjson.loads(FIXTURE.read_bytes())["data"][0]
    for provider in second["providers"]:
        provider["throughput"] = 1.0
        provider["first_token_latency_ms"] = 9999
    one, two = adapter().normalize(first["id"], first), adapter().normalize(second["id"], second)
    assert one.fields() == two.fields()
    assert one.extra == two.extra


@pytest.mark.parametrize(
    ("offers", "winner"),
    [
        ([("b", Decimal(1), Decimal(2)), ("a", Decimal(1), Decimal(2))], "a"),
        ([("a", Decimal(1), Decimal(2)), ("b", Decimal("0.5"), Decimal("2.5"))], "b"),
        ([("a", Decimal(3), Decimal(3)), ("b", Decimal(1), Decimal(4))], "b"),
        ([], None),
    ],
)
def test_cheapest_tie_rule(offers: list[tuple[str, Decimal, Decimal]], winner: str | None) -> None:
    """Lowest sum, then lowest input, then provider name: independent of list order."""
    best = cheapest(offers)
    assert (best[0] if best else None) == winner
    assert cheapest(reversed(offers)) == best


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ('<https://huggingface.co/api/models?cursor=abc>; rel="next"',
         "https://huggingface.co/api/models?cursor=abc"),
        ('<https://x/p1>; rel="prev", <https://x/p3>; rel="next"', "https://x/p3"),
        ("<https://x/p3>; rel=next", "https://x/p3"),
        ('<https://x/p3>; title="x"; rel="last next"', "https://x/p3"),
        ('<https://x/p1>; rel="prev"', None),
        ("", None),
        (None, None),
    ],
)  # fmt: skip
def test_next_link(header: str | None, target: str | None) -> None:
    """RFC 5988 Link headers: only rel=next is followed."""
    assert next_link(header) == target


def test_first_request_and_link_paging() -> None:
    """The first GET carries the token; a relative Link is resolved and keeps the headers."""
    hf = adapter()
    first = hf.first_request(GatewayConfig(name="huggingface", base_url=SPEC.base_url,
                                           api_key="hf_x"))  # fmt: skip
    assert first.url == "https://router.huggingface.co/v1/models"
    assert first.headers == {"Authorization": "Bearer hf_x"}
    assert hf.first_request(CONFIG).headers == {}
    page = Page({"data": []}, headers={"link": '</v1/models?cursor=2>; rel="next"'})
    second = hf.next_request(CONFIG, first, page)
    assert second is not None
    assert second.url == "https://router.huggingface.co/v1/models?cursor=2"
    assert second.headers == first.headers
    assert second.page == 2
    assert hf.next_request(CONFIG, second, Page({"data": []})) is None


def test_paged_listing_parses_every_page() -> None:
    """Models from every page are listed, in order."""
    data = orjson.loads(FIXTURE.read_bytes())["data"]
    pages = [Page({"data": data[:2]}), Page({"data": data[2:]})]
    assert [m.gateway_model_id for m in adapter().parse(pages)] == [item["id"] for item in data]


def test_looping_link_is_an_error() -> None:
    """A Link pointing at the page itself, or paging past MAX_PAGES, fails the run."""
    hf = adapter()
    here = PageRequest(url="https://x/v1/models?cursor=5")
    with pytest.raises(PayloadError, match="points back"):
        hf.next_request(CONFIG, here, Page({}, headers={"link": f'<{here.url}>; rel="next"'}))
    deep = PageRequest(url="https://x/a", page=MAX_PAGES)
    with pytest.raises(PayloadError, match="pages"):
        hf.next_request(CONFIG, deep, Page({}, headers={"link": '<https://x/b>; rel="next"'}))


def test_non_model_objects_are_dropped() -> None:
    """Items whose object is not "model" are not models."""
    models = parse({"data": [{"id": "a/b", "object": "model"}, {"id": "x", "object": "other"}]})
    assert [m.gateway_model_id for m in models] == ["a/b"]


@pytest.mark.parametrize(
    ("raw_id", "owned_by", "canonical"),
    [
        ("deepseek-ai/DeepSeek-V4-Pro", "deepseek-ai", "deepseek/deepseek-v4-pro"),
        ("Qwen/Qwen3-32B", None, "qwen/qwen-3-32b"),
        ("gpt2", "openai-community", "openai-community/gpt-2"),
        ("gpt2", None, "huggingface/gpt-2"),
    ],
)
def test_canonical_ids(raw_id: str, owned_by: str | None, canonical: str) -> None:
    """Repo id lower-cased; owned_by, then the gateway, when there is no org."""
    model = adapter().normalize(raw_id, {"id": raw_id, "owned_by": owned_by})
    assert model.id == canonical


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([{"id": "a/b"}], "expected an object, got a list"),
        ({"data": {"id": "a/b"}}, "data: expected a list"),
        ({"data": [{"object": "model"}]}, "id must be a non-empty string"),
        ({"data": ["a/b"]}, r"data\[0\]: expected an object"),
        ({"data": [{"id": "a/b", "providers": {"provider": "x"}}]}, "providers: expected a list"),
        ({"data": [{"id": "a/b", "providers": [{"provider": "x", "status": "live",
                                                "pricing": {"input": "cheap", "output": 1}}]}]},
         r"'a/b': providers\[0\].pricing.input must be a number"),
        ({"data": [{"id": "a/b", "providers": [{"status": "live", "context_length": "big"}]}]},
         r"providers\[0\].context_length must be a whole number"),
        ({"data": [{"id": "a/b", "architecture": {"input_modalities": "text"}}]},
         "architecture.input_modalities must be a list of strings"),
    ],
)  # fmt: skip
def test_bad_input_is_a_payload_error(document: Any, message: str) -> None:
    """Wrong shapes and bad values raise PayloadError naming the entry and field."""
    with pytest.raises(PayloadError, match=message):
        parse(document)
