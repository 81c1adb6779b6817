"""xAI adapter: ``/v1/language-models`` (cents per 100M tokens) and the plain ``/v1/models``.

The language-models example is read from the docs' OpenAPI YAML in place (PyYAML comes with
uvicorn[standard]); a small synthetic list below covers the same shape without it.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import orjson
import pytest
from catalog_checks import check_catalog

from conftest import shared_fixture
from modelsync.domain import Model, ModelStatus
from modelsync.errors import PayloadError
from modelsync.gateways.base import GatewayConfig, Page
from modelsync.gateways.openai_compat import XaiAdapter
from modelsync.gateways.registry import build_adapter, builtin_specs

PLAIN = "providers/xai/xai_v1_models_2025-07-25_rajashekar-lc.json"
DOCS_YAML = "providers/xai/xai_language_models_openapi_with_docs_example_api-evangelist.yml"

SYNTHETIC = {
    "models": [
        {
            "id": "grok-4-0709",
            "fingerprint": "fp_1",
            "created": 1752019200,
            "object": "model",
            "owned_by": "xai",
            "version": "1.0",
            "input_modalities": ["text", "image"],
            "output_modalities": ["text"],
            "prompt_text_token_price": 30000,
            "cached_prompt_text_token_price": 7500,
            "prompt_image_token_price": 30000,
            "completion_text_token_price": 150000,
            "search_price": 250000000,
            "context_length": 256000,
            "aliases": ["grok-4", "grok-4-latest"],
        },
        {
            "id": "grok-3-mini",
            "created": 1743724800,
            "owned_by": "xai",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "prompt_text_token_price": 3000,
            "completion_text_token_price": 5000,
            "aliases": [],
        },
    ]
}


def docs_example() -> Any:
    """The example response of ``GET /v1/language-models`` in the docs' OpenAPI YAML."""
    yaml = pytest.importorskip("yaml", reason="PyYAML (from uvicorn[standard]) reads the docs")
    spec = yaml.safe_load(shared_fixture(DOCS_YAML).read_text(encoding="utf-8"))
    response = spec["paths"]["/v1/language-models"]["get"]["responses"]["200"]
    return response["content"]["application/json"]["example"]


def parse(*documents: Any) -> list[Model]:
    """Every model of the given pages."""
    return XaiAdapter("xai").parse([Page(document) for document in documents])


def check_xai_catalog(models: list[Model]) -> None:
    """The common checks, and x-ai canonical ids."""
    check_catalog(models)
    for model in models:
        assert model.id == f"x-ai/{model.gateway_model_id.lower()}"
        assert model.provider_slug == "x-ai"


@pytest.mark.shared_fixtures
def test_docs_example_prices() -> None:
    """Cents per 100M tokens become USD per 1M: 30000 -> 3, 7500 -> 0.75, 150000 -> 15."""
    models = {m.gateway_model_id: m for m in parse(docs_example())}
    listed = ["grok-3", "grok-3-mini", "grok-2-vision-1212"]
    assert [m for m in models if "alias_of" not in models[m].extra] == listed
    check_xai_catalog([models[m] for m in listed])
    grok3 = models["grok-3"].pricing
    assert (grok3.prompt, grok3.cache_read, grok3.completion) == (
        Decimal(3),
        Decimal("0.75"),
        Decimal(15),
    )
    mini = models["grok-3-mini"].pricing
    assert (mini.prompt, mini.cache_read, mini.completion) == (
        Decimal("0.3"),
        Decimal("0.075"),
        Decimal("0.5"),
    )
    vision = models["grok-2-vision-1212"]
    assert (vision.pricing.prompt, vision.pricing.completion) == (Decimal(2), Decimal(10))
    assert vision.pricing.cache_read is None
    assert vision.input_modalities == ("image", "text")
    assert vision.extra["prompt_image_token_price"] == 20000
    assert models["grok-3"].extra["aliases"] == ["grok-3-latest", "grok-3-beta"]
    assert models["grok-3"].extra["search_price"] == 250000000
    assert "prompt_text_token_price" not in models["grok-3"].extra


def test_synthetic_language_models() -> None:
    """The same shape with a context length and a model without a cached price."""
    grok4, alias, alias_latest, mini = parse(SYNTHETIC)
    assert [alias.gateway_model_id, alias_latest.gateway_model_id] == ["grok-4", "grok-4-latest"]
    assert grok4.context_length == 256000
    assert (grok4.pricing.prompt, grok4.pricing.completion) == (Decimal(3), Decimal(15))
    assert grok4.pricing.cache_read == Decimal("0.75")
    assert grok4.extra["aliases"] == ["grok-4", "grok-4-latest"]
    assert grok4.extra["fingerprint"] == "fp_1"
    assert grok4.status is ModelStatus.ACTIVE
    assert mini.pricing.cache_read is None
    assert mini.pricing.completion == Decimal("0.5")


@pytest.mark.shared_fixtures
def test_plain_models_list() -> None:
    """The real ``/v1/models`` capture: ids and owners only, no prices."""
    models = parse(orjson.loads(shared_fixture(PLAIN).read_bytes()))
    assert len(models) == 8
    check_xai_catalog(models)
    assert {m.id for m in models} >= {"x-ai/grok-4-0709", "x-ai/grok-3", "x-ai/grok-2-image-1212"}
    assert all(m.pricing.prompt is None and m.pricing.completion is None for m in models)
    assert all(m.input_modalities == () for m in models)


def test_first_request_uses_language_models() -> None:
    """The shipped endpoint is ``/v1/language-models`` with Bearer auth."""
    spec = builtin_specs()["xai"]
    adapter = build_adapter(spec.adapter, spec.name)
    assert isinstance(adapter, XaiAdapter)
    request = adapter.first_request(
        GatewayConfig(name="xai", base_url=spec.base_url, api_key="xai-k", options=spec.options)
    )
    assert request.url == "https://api.x.ai/v1/language-models"
    assert request.headers == {"Authorization": "Bearer xai-k"}


@pytest.mark.parametrize(
    ("raw_id", "owned_by", "expected"),
    [
        ("grok-3", "xai", ("x-ai/grok-3", "x-ai")),
        ("grok-3", None, ("x-ai/grok-3", "x-ai")),
        ("grok-3", "system", ("x-ai/grok-3", "x-ai")),
        ("Grok-4-0709", "xai", ("x-ai/grok-4-0709", "x-ai")),
    ],
)
def test_canonical_ids(raw_id: str, owned_by: str | None, expected: tuple[str, str]) -> None:
    """xAI models are x-ai's, as OpenRouter names them."""
    identity = XaiAdapter("xai").identify(raw_id, {"owned_by": owned_by})
    assert (identity.id, identity.author) == expected


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"id": "grok", "prompt_text_token_price": "cheap"}, "prompt_text_token_price"),
        ({"id": "grok", "completion_text_token_price": [1]}, "completion_text_token_price"),
        ({"id": "grok", "cached_prompt_text_token_price": {}}, "cached_prompt_text_token_price"),
        ({"id": "grok", "input_modalities": {"text": True}}, "input_modalities"),
        ({"id": "grok", "context_length": "long"}, "context_length"),
    ],
)
def test_bad_values_name_entry_and_field(entry: dict[str, Any], field: str) -> None:
    """A bad value is a PayloadError naming the gateway, the model and the field."""
    with pytest.raises(PayloadError, match=field) as caught:
        XaiAdapter("xai").normalize("grok", entry)
    assert "xai model 'grok'" in str(caught.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"models": {"grok-3": {}}}, "models must be a list"),
        ({"object": "list"}, "data must be a list"),
        ([{"id": "grok-3"}, 7], r"\[1\]: expected an object"),
        ("grok-3", "expected an object"),
        ({"models": [{"aliases": []}]}, r"\[0\]: id must be a non-empty string"),
    ],
)
def test_wrong_shapes_are_payload_errors(document: Any, message: str) -> None:
    """A wrong top-level shape, a missing id or a non-object entry is a PayloadError."""
    with pytest.raises(PayloadError, match=message):
        parse(document)


def test_aliases_are_offers_of_the_model_they_name() -> None:
    """Each alias is the id customers call: its own offer, the model's canonical id and prices,
    ``alias_of`` naming the model; an alias that is also a listed id stays that entry."""
    document = copy.deepcopy(SYNTHETIC)
    document["models"][1]["aliases"] = ["grok-3-mini-latest", "grok-4-0709"]
    models = {m.gateway_model_id: m for m in parse(document)}
    assert list(models) == [
        "grok-4-0709", "grok-4", "grok-4-latest", "grok-3-mini", "grok-3-mini-latest"
    ]  # fmt: skip
    target = models["grok-4-0709"]
    for alias in ("grok-4", "grok-4-latest"):
        offer = models[alias]
        assert offer.id == target.id
        assert offer.pricing == target.pricing
        assert offer.extra["alias_of"] == "grok-4-0709"
    assert models["grok-3-mini-latest"].id == models["grok-3-mini"].id
