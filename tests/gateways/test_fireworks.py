"""Fireworks adapter: public accounts only, capabilities, canonical ids, malformed input."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from conftest import shared_fixture
from modelsync.domain import NO_PRICING, Model
from modelsync.errors import ConfigError, PayloadError
from modelsync.gateways.base import GatewayConfig, Page
from modelsync.gateways.fireworks import FireworksAdapter, account_of
from modelsync.gateways.registry import build_adapter, builtin_specs

RECORDED = "providers/fireworks/fireworks_inference_v1_models_2025-07-25_rajashekar-lc.json"
SPEC = builtin_specs()["fireworks"]


def recorded_page() -> Page:
    """The recorded list as one page."""
    return Page(orjson.loads(shared_fixture(RECORDED).read_bytes()))


def config(**options: Any) -> GatewayConfig:
    """The shipped Fireworks gateway with these options."""
    return GatewayConfig(name="fireworks", base_url=SPEC.base_url, api_key="fw", options=options)


@pytest.mark.shared_fixtures
def test_recorded_list_keeps_every_public_model() -> None:
    """Every account's callable models stay; the key owner's fine-tune is dropped and counted."""
    adapter = FireworksAdapter("fireworks")
    models = adapter.parse([recorded_page()])
    assert len(models) == 26
    kept = {m.gateway_model_id for m in models}
    assert "accounts/perplexity/models/r1-1776" in kept
    assert "accounts/sentientfoundation/models/dobby-unhinged-llama-3-3-70b-new" in kept
    assert "accounts/instacart/models/srl-finetune-0417-debug" not in kept
    assert adapter.filtered == {"private fine-tune (HF_PEFT_ADDON)": 1}
    assert all(m.id == m.id.lower() and "accounts" not in m.id for m in models)
    assert all(m.pricing is NO_PRICING for m in models)


@pytest.mark.shared_fixtures
def test_recorded_spot_values() -> None:
    """Context length, image input, tools, image output, extra."""
    models = {m.gateway_model_id: m for m in FireworksAdapter("fireworks").parse([recorded_page()])}
    scout = models["accounts/fireworks/models/llama4-scout-instruct-basic"]
    assert scout.id == "meta-llama/llama-4-scout-17b-16e-instruct"
    assert scout.provider_slug == "meta-llama"
    assert scout.variants == ("basic",)
    assert scout.context_length == 10485760
    assert scout.input_modalities == ("image", "text")
    assert scout.output_modalities == ("text",)
    assert scout.supported_parameters == ("tools",)
    assert scout.extra["kind"] == "HF_BASE_MODEL"
    assert scout.extra["supports_chat"] is True
    assert "context_length" not in scout.extra
    flux = models["accounts/fireworks/models/flux-1-dev-fp8"]
    assert flux.output_modalities == ("image",)
    assert flux.input_modalities == ("text",)
    assert flux.context_length is None
    assert flux.supported_parameters == ()
    assert models["accounts/fireworks/models/flux-kontext-pro"].input_modalities == (
        "image",
        "text",
    )
    r1 = models["accounts/fireworks/models/deepseek-r1"]
    assert (r1.context_length, r1.supported_parameters) == (163840, ())


@pytest.mark.shared_fixtures
@pytest.mark.parametrize(
    ("options", "count", "filtered"),
    [
        ({}, 26, {"private fine-tune (HF_PEFT_ADDON)": 1}),
        ({"public_accounts": ["fireworks", "instacart"]}, 27, {}),
        ({"private_accounts": "sentientfoundation"}, 25,
         {"private fine-tune (HF_PEFT_ADDON)": 1, "account in private_accounts": 1}),
        ({"private_accounts": ["instacart", "perplexity"]}, 25, {"account in private_accounts": 2}),
    ],
)  # fmt: skip
def test_account_options(options: dict[str, Any], count: int, filtered: dict[str, int]) -> None:
    """``public_accounts`` and ``private_accounts`` are read when a listing starts."""
    adapter = build_adapter(SPEC.adapter, SPEC.name)
    request = adapter.first_request(config(**options))
    assert request.url == "https://api.fireworks.ai/inference/v1/models"
    assert request.headers == {"Authorization": "Bearer fw"}
    assert len(adapter.parse([recorded_page()])) == count
    assert adapter.filtered == filtered


def test_accounts_at_construction_and_validated() -> None:
    """The constructor takes the accounts too; a bad option is a ConfigError."""
    page = Page({"data": [{"id": "accounts/acme/models/x", "kind": "HF_PEFT_ADDON"},
                          {"id": "accounts/fireworks/models/y"}]})  # fmt: skip
    adapter = FireworksAdapter(
        "fireworks", public_accounts=["acme"], private_accounts=["fireworks"]
    )
    assert [m.id for m in adapter.parse([page])] == ["acme/x"]
    with pytest.raises(ConfigError, match="public_accounts"):
        FireworksAdapter("fireworks").first_request(config(public_accounts=[1, 2]))
    with pytest.raises(ConfigError, match="private_accounts"):
        FireworksAdapter("fireworks").first_request(config(private_accounts=[1]))


def test_ids_outside_accounts_use_owned_by() -> None:
    """An id without the accounts prefix counts as ``owned_by``'s."""
    page = Page(
        {
            "data": [
                {"id": "llama-v3-8b", "owned_by": "fireworks", "kind": "HF_PEFT_ADDON"},
                {"id": "private-x", "owned_by": "someone", "kind": "HF_PEFT_ADDON"},
                {"id": "odd", "owned_by": ["fireworks"]},
            ]
        }
    )
    models = FireworksAdapter("fireworks").parse([page])
    assert [m.id for m in models] == ["meta-llama/llama-3-8b", "fireworks/odd"]


@pytest.mark.parametrize(
    ("raw_id", "expected"),
    [
        ("accounts/fireworks/models/deepseek-v3", ("deepseek/deepseek-v3", "deepseek")),
        ("accounts/fireworks/models/Qwen2p5-VL-32B", ("qwen/qwen-2.5-vl-32b", "qwen")),
        ("accounts/fireworks/models/firesearch-ocr-v6",
         ("fireworks/firesearch-ocr-v6", "fireworks")),
        ("accounts/perplexity/models/r1-1776", ("perplexity/r1-1776", "perplexity")),
        ("meta/llama-3", ("meta-llama/llama-3", "meta-llama")),
        ("llama-v3-8b", ("meta-llama/llama-3-8b", "meta-llama")),
        ("accounts/fireworks/deployments/x", ("accounts/fireworks/deployments/x", "accounts")),
    ],
)  # fmt: skip
def test_canonical_ids(raw_id: str, expected: tuple[str, str | None]) -> None:
    """The identity rules of the module docstring: the fireworks account names no author."""
    identity = FireworksAdapter("fireworks").identify(raw_id, {})
    assert (identity.id, identity.author) == expected


@pytest.mark.parametrize(
    ("raw_id", "account"),
    [
        ("accounts/fireworks/models/x", "fireworks"),
        ("accounts//models/x", None),
        ("fireworks/x", None),
    ],
)
def test_account_of(raw_id: str, account: str | None) -> None:
    """The account named by an ``accounts/...`` id."""
    assert account_of(raw_id) == account


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"supports_tools": "yes"}, "supports_tools"),
        ({"supports_image_input": 1}, "supports_image_input"),
        ({"context_length": "long"}, "context_length"),
        ({"kind": ["HF_BASE_MODEL"]}, "kind"),
    ],
)
def test_bad_values_name_entry_and_field(entry: dict[str, Any], field: str) -> None:
    """A bad value is a PayloadError naming the gateway, the model and the field."""
    model_id = "accounts/fireworks/models/x"
    with pytest.raises(PayloadError, match=field) as caught:
        FireworksAdapter("fireworks").normalize(model_id, {"id": model_id, **entry})
    assert f"fireworks model '{model_id}'" in str(caught.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"data": {"accounts/fireworks/models/x": {}}}, "data must be a list"),
        ([{"id": "accounts/fireworks/models/x"}], "expected an object"),
        ({"object": "list"}, "data must be a list"),
        ({"data": [{"owned_by": "fireworks"}]}, r"\[0\]: id must be a non-empty string"),
        ({"data": ["accounts/fireworks/models/x"]}, r"\[0\]: expected an object"),
    ],
)
def test_wrong_shapes_are_payload_errors(document: Any, message: str) -> None:
    """A wrong top-level shape, a missing id or a non-object entry is a PayloadError."""
    with pytest.raises(PayloadError, match=message):
        FireworksAdapter("fireworks").parse([Page(document)])


def test_normalize_output_is_a_model() -> None:
    """A minimal entry normalizes to text in, text out, nothing else known."""
    model = FireworksAdapter("fireworks").normalize(
        "accounts/fireworks/models/m", {"id": "accounts/fireworks/models/m"}
    )
    assert isinstance(model, Model)
    assert (model.input_modalities, model.output_modalities) == (("text",), ("text",))
    assert model.context_length is None
