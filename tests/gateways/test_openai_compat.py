"""OpenAI-compatible adapter: groq, cerebras, nebius (plain and verbose), configured gateways.

``nebius_v1_models_verbose_synthetic.json`` is written for these tests: no real ``?verbose=true``
capture exists, so it follows the fields third-party integrations describe (PROVIDERS.md).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from catalog_checks import by_gateway_id, check_catalog

from conftest import PROJECT_FIXTURES, shared_fixture
from modelsync.domain import Model, ModelStatus
from modelsync.errors import ConfigError, PayloadError
from modelsync.gateways.base import GatewayConfig, Page
from modelsync.gateways.openai_compat import (
    OpenAICompatAdapter,
)
from modelsync.gateways.registry import build_adapter, builtin_specs

GROQ = "providers/groq/groq_openai_v1_models_2025-07-25_rajashekar-lc.json"
CEREBRAS = "providers/cerebras/cerebras_v1_models_2025-07-25_rajashekar-lc.json"
NEBIUS = "providers/nebius/nebius_v1_models_2025-07-25_rajashekar-lc.json"
NEBIUS_VERBOSE = PROJECT_FIXTURES / "gateways" / "nebius_v1_models_verbose_synthetic.json"


def load(relative: str) -> Any:
    """A recorded document, decoded the way the runner decodes it."""
    return orjson.loads(shared_fixture(relative).read_bytes())


def parse(gateway: str, *documents: Any, adapter: OpenAICompatAdapter | None = None) -> list[Model]:
    """Every model of the given pages."""
    adapter = adapter or OpenAICompatAdapter(gateway)
    return adapter.parse([Page(document) for document in documents])


@pytest.mark.shared_fixtures
def test_groq_list() -> None:
    """Groq: context_window and max_completion_tokens; authors from owned_by; no prices."""
    models = parse("groq", load(GROQ))
    assert len(models) == 22
    check_catalog(models)
    by_id = by_gateway_id(models)
    versatile = by_id["llama-3.3-70b-versatile"]
    assert versatile.id == "meta-llama/llama-3.3-70b-instruct"
    assert versatile.variants == ("versatile",)
    assert versatile.provider_slug == "meta-llama"
    assert (versatile.context_length, versatile.max_output_tokens) == (131072, 32768)
    assert versatile.status is ModelStatus.ACTIVE
    assert versatile.extra["owned_by"] == "Meta"
    assert versatile.extra["created"] == 1733447754
    assert by_id["qwen/qwen3-32b"].id == "qwen/qwen-3-32b"
    assert by_id["deepseek-r1-distill-llama-70b"].id == "deepseek/deepseek-r1-distill-llama-70b"
    assert by_id["compound-beta"].id == "groq/compound-beta"
    assert by_id["whisper-large-v3"].id == "openai/whisper-large-v3"
    assert by_id["distil-whisper-large-v3-en"].id == "huggingface/distil-whisper-large-v3-en"
    assert all(m.pricing.prompt is None and m.pricing.completion is None for m in models)


def test_groq_inactive_is_deprecated() -> None:
    """``active: false`` is the only lifecycle flag Groq sends."""
    entry = {"id": "gemma-7b-it", "owned_by": "Google", "active": False, "context_window": 8192}
    (model,) = parse("groq", {"object": "list", "data": [entry]})
    assert model.status is ModelStatus.DEPRECATED
    assert model.deprecation_date is None
    assert model.id == "google/gemma-7b-it"
    assert "active" not in model.extra


@pytest.mark.shared_fixtures
def test_cerebras_list() -> None:
    """Cerebras: id and owned_by only."""
    models = parse("cerebras", load(CEREBRAS))
    assert len(models) == 6
    check_catalog(models)
    by_id = by_gateway_id(models)
    assert by_id["llama3.1-8b"].id == "meta-llama/llama-3.1-8b-instruct"
    assert by_id["qwen-3-235b-a22b"].id == "qwen/qwen-3-235b-a22b"
    assert by_id["qwen-3-235b-a22b"].context_length is None
    assert by_id["qwen-3-235b-a22b"].input_modalities == ()


@pytest.mark.shared_fixtures
def test_nebius_plain_list() -> None:
    """Nebius without verbose: authors come from the ids (``owned_by: system`` is no author)."""
    models = parse("nebius", load(NEBIUS))
    assert len(models) == 52
    check_catalog(models)
    by_id = by_gateway_id(models)
    assert by_id["Qwen/Qwen3-32B-fast"].id == "qwen/qwen-3-32b"
    assert by_id["Qwen/Qwen3-32B-fast"].variants == ("fast",)
    assert by_id["Qwen/Qwen3-32B-fast"].provider_slug == "qwen"
    assert by_id["meta-llama/Llama-3.3-70B-Instruct"].id == "meta-llama/llama-3.3-70b-instruct"
    assert by_id["black-forest-labs/flux-dev"].name is None


def test_nebius_verbose_list() -> None:
    """Nebius ``?verbose=true``: per-token prices, arrow modality, features as parameters."""
    models = parse("nebius", orjson.loads(NEBIUS_VERBOSE.read_bytes()))
    assert len(models) == 3
    check_catalog(models)
    llama, qwen, bge = models
    assert llama.name == "Llama 3.3 70B Instruct"
    assert llama.context_length == 131072
    assert (llama.pricing.prompt, llama.pricing.completion) == (Decimal("0.13"), Decimal("0.4"))
    assert llama.supported_parameters == (
        "json_mode",
        "max_tokens",
        "temperature",
        "tools",
        "top_p",
    )
    assert llama.extra["regions"] == ["eu-north1"]
    assert llama.extra["architecture"] == {"modality": "text->text", "tokenizer": "Llama3"}
    assert qwen.input_modalities == ("image", "text")
    assert qwen.pricing.image == Decimal("0.0006")
    assert qwen.supported_parameters == ("temperature", "top_p")
    assert bge.status is ModelStatus.DEPRECATED
    assert bge.output_modalities == ("embeddings",)
    assert bge.pricing.completion == Decimal(0)


def test_first_request_per_builtin_gateway() -> None:
    """Each shipped compat gateway: its URL, its params, Bearer auth."""
    specs = builtin_specs()
    for name, params in (("groq", {}), ("cerebras", {}), ("nebius", {"verbose": "true"})):
        spec = specs[name]
        adapter = build_adapter(spec.adapter, name)
        assert isinstance(adapter, OpenAICompatAdapter)
        config = GatewayConfig(name=name, base_url=spec.base_url, api_key="k", options=spec.options)
        request = adapter.first_request(config)
        assert request.url == spec.base_url
        assert request.params == params
        assert request.headers == {"Authorization": "Bearer k"}
        assert adapter.next_request(config, request, Page({"data": []})) is None


OPENROUTER_STYLE = {
    "data": [
        {
            "id": "acme/chat-1",
            "owned_by": "acme",
            "pricing": {
                "prompt": "0.5",
                "completion": "1.5",
                "input_cache_read": "0.05",
                "web_search": "0.01",
            },
            "max_output_tokens": 2048,
            "deprecation_date": "2026-01-31",
        }
    ]
}


@pytest.mark.parametrize(
    ("options", "prompt", "completion"),
    [
        ({}, Decimal(500000), Decimal(1500000)),
        ({"price_unit": "usd_per_token"}, Decimal(500000), Decimal(1500000)),
        ({"price_unit": "usd_per_1k_tokens"}, Decimal(500), Decimal(1500)),
        ({"price_unit": "usd_per_1m_tokens"}, Decimal("0.5"), Decimal("1.5")),
    ],
)
def test_configured_gateway_price_unit(
    options: dict[str, Any], prompt: Decimal, completion: Decimal
) -> None:
    """OpenRouter-style prices are USD per token unless ``price_unit`` says otherwise."""
    adapter = build_adapter("openai_compat", "acme")
    adapter.first_request(
        GatewayConfig(name="acme", base_url="https://acme.test/v1/models", options=options)
    )
    (model,) = adapter.parse([Page(OPENROUTER_STYLE)])
    assert (model.pricing.prompt, model.pricing.completion) == (prompt, completion)
    assert model.max_output_tokens == 2048
    assert model.pricing.web_search == Decimal("0.01")  # per request, whatever the unit
    assert "pricing" not in model.extra
    assert model.status is ModelStatus.DEPRECATED
    assert model.deprecation_date == "2026-01-31"


def test_price_unit_is_validated_and_settable_at_construction() -> None:
    """An unknown unit is a ConfigError; the constructor takes the unit too."""
    config = GatewayConfig(name="acme", base_url="https://acme.test", options={"price_unit": "eur"})
    with pytest.raises(ConfigError, match="price_unit"):
        OpenAICompatAdapter("acme").first_request(config)
    adapter = OpenAICompatAdapter("acme", price_unit="usd_per_1m_tokens")
    assert parse("acme", OPENROUTER_STYLE, adapter=adapter)[0].pricing.cache_read == Decimal("0.05")


def test_bare_list_and_other_spellings() -> None:
    """A bare array is accepted; display_name, max_context_length and status are read."""
    entry = {
        "id": "tiny",
        "display_name": "Tiny",
        "max_context_length": 32000,
        "status": "Retired",
        "input_modalities": ["text", "image"],
        "supported_parameters": ["tools", "seed"],
    }
    (model,) = parse("acme", [entry])
    assert model.id == "acme/tiny"
    assert model.provider_slug == "acme"
    assert model.name == "Tiny"
    assert model.context_length == 32000
    assert model.status is ModelStatus.DEPRECATED
    assert model.input_modalities == ("image", "text")
    assert model.supported_parameters == ("seed", "tools")
    assert model.extra["status"] == "Retired"


@pytest.mark.parametrize(
    ("raw_id", "owned_by", "gateway", "expected"),
    [
        ("meta-llama/Llama-3.3-70B-Instruct", "system", "nebius",
         ("meta-llama/llama-3.3-70b-instruct", "meta-llama")),
        ("llama-3.3-70b-versatile", "Meta", "groq",
         ("meta-llama/llama-3.3-70b-instruct", "meta-llama")),
        ("llama3.1-8b", "Meta", "cerebras", ("meta-llama/llama-3.1-8b-instruct", "meta-llama")),
        ("compound-beta", "Groq", "groq", ("groq/compound-beta", "groq")),
        ("some-model", "system", "acme", ("acme/some-model", "acme")),
        ("some-model", None, "acme", ("acme/some-model", "acme")),
        ("Qwen/Qwen3-32B-fast", None, "nebius", ("qwen/qwen-3-32b", "qwen")),
    ],
)  # fmt: skip
def test_canonical_ids(
    raw_id: str, owned_by: str | None, gateway: str, expected: tuple[str, str | None]
) -> None:
    """The gateway's dialect, and ``owned_by`` as the author of an id without one."""
    identity = OpenAICompatAdapter(gateway).identify(raw_id, {"owned_by": owned_by})
    assert (identity.id, identity.author) == expected


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"id": "m", "context_window": "wide"}, "context_window"),
        ({"id": "m", "max_completion_tokens": [1]}, "max_completion_tokens"),
        ({"id": "m", "active": "yes"}, "active"),
        ({"id": "m", "owned_by": {"name": "Meta"}}, "owned_by"),
        ({"id": "m", "pricing": {"prompt": "free"}}, "pricing.prompt"),
        ({"id": "m", "pricing": ["0.1"]}, "pricing"),
        ({"id": "m", "architecture": {"modality": 3}}, "architecture.modality"),
        ({"id": "m", "supported_features": {"tools": True}}, "supported_features"),
        ({"id": "m", "input_modalities": "text"}, "input_modalities"),
        ({"id": "m", "deprecation_date": "someday"}, "deprecation_date"),
    ],
)
def test_bad_values_name_entry_and_field(entry: dict[str, Any], field: str) -> None:
    """A bad value is a PayloadError naming the gateway, the model and the field."""
    with pytest.raises(PayloadError, match=field) as caught:
        OpenAICompatAdapter("groq").normalize("m", entry)
    assert "groq model 'm'" in str(caught.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"data": {"m": {"id": "m"}}}, "data must be a list"),
        ({"object": "list"}, "data must be a list"),
        ("models", "expected an object"),
        (None, "expected an object"),
        ({"data": [{"object": "model"}]}, r"\[0\]: id must be a non-empty string"),
        ({"data": [["m"]]}, r"\[0\]: expected an object"),
    ],
)
def test_wrong_shapes_are_payload_errors(document: Any, message: str) -> None:
    """A wrong top-level shape, a missing id or a non-object entry is a PayloadError."""
    with pytest.raises(PayloadError, match=message):
        parse("groq", document)
