"""The fal.ai adapter: the real first page, cursor paging, category modalities, bad input."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from conftest import PROJECT_FIXTURES, shared_fixture
from modelsync.domain import NO_PRICING, Model, ModelStatus
from modelsync.errors import ConfigError, PayloadError
from modelsync.gateways.base import MAX_PAGES, GatewayConfig, Page, PageRequest
from modelsync.gateways.fal import FalAdapter, category_modalities
from modelsync.gateways.registry import build_adapter, builtin_specs

SPEC = builtin_specs()["fal"]
CONFIG = GatewayConfig(name="fal", base_url=SPEC.base_url, api_key="fal-key")
PAGE_1 = "providers/fal/fal_platform_api_v1_models_page1_2026-04-18_ianscrivener-PromptProxy.json"
PAGE_2 = PROJECT_FIXTURES / "gateways" / "fal_v1_models_page2.json"


def adapter() -> FalAdapter:
    built = build_adapter(SPEC.adapter, SPEC.name)
    assert isinstance(built, FalAdapter)
    return built


def real_page() -> Page:
    return Page(orjson.loads(shared_fixture(PAGE_1).read_bytes()))


def by_id(models: list[Model]) -> dict[str, Model]:
    return {model.gateway_model_id: model for model in models}


def test_real_first_page() -> None:
    """100 endpoints, one training endpoint dropped: 99 unpriced, unique models."""
    models = adapter().parse([real_page()])
    assert len(models) == 99
    assert len({m.gateway_model_id for m in models}) == 99
    assert "fal-ai/flux-lora-fast-training" not in by_id(models)
    assert all(m.pricing is NO_PRICING for m in models)
    assert all(m.status is ModelStatus.ACTIVE for m in models)
    assert all(m.id == m.id.lower() for m in models)


@pytest.mark.parametrize(
    ("endpoint_id", "canonical", "name", "inputs", "outputs"),
    [
        ("fal-ai/flux/dev", "fal-ai/flux/dev", "FLUX.1 [dev]", ("text",), ("image",)),
        ("bytedance/seedance-2.0/image-to-video", "bytedance/seedance-2.0/image-to-video",
         "Seedance 2 Image to Video", ("image",), ("video",)),
        ("fal-ai/whisper", "fal-ai/whisper", "Whisper", ("audio",), ("text",)),
        ("fal-ai/elevenlabs/tts/eleven-v3", "fal-ai/elevenlabs/tts/eleven-v3", "Elevenlabs",
         ("text",), ("audio",)),
        ("openrouter/router/vision", "openrouter/router/vision", "OpenRouter [Vision]",
         ("image", "text"), ("text",)),
        ("fal-ai/kling-video/v3/pro/motion-control", "fal-ai/kling-video/v3/pro/motion-control",
         "Kling Video", ("video",), ("video",)),
    ],
)  # fmt: skip
def test_real_page_spot_values(
    endpoint_id: str, canonical: str, name: str, inputs: tuple[str, ...], outputs: tuple[str, ...]
) -> None:
    """Canonical ids, names and the modalities the category implies."""
    model = by_id(adapter().parse([real_page()]))[endpoint_id]
    assert (model.id, model.name) == (canonical, name)
    assert (model.input_modalities, model.output_modalities) == (inputs, outputs)
    assert model.provider_slug == canonical.partition("/")[0]


def test_volatile_fields_are_not_kept() -> None:
    """is_favorited and thumbnails are left out of extra; stable metadata stays."""
    model = by_id(adapter().parse([real_page()]))["fal-ai/flux/dev"]
    assert not {"is_favorited", "thumbnail_url", "display_name", "status"} & model.extra.keys()
    assert model.extra["category"] == "text-to-image"
    assert model.extra["model_url"] == "https://fal.run/fal-ai/flux/dev"


def test_cursor_paging() -> None:
    """Key auth; cursor=<next_cursor> while has_more; headers kept; the last page ends it."""
    fal = adapter()
    first = fal.first_request(CONFIG)
    assert (first.url, first.params) == ("https://api.fal.ai/v1/models", {})
    assert first.headers == {"Authorization": "Key fal-key"}
    assert fal.first_request(GatewayConfig(name="fal", base_url=SPEC.base_url)).headers == {}
    second = fal.next_request(CONFIG, first, real_page())
    assert second is not None
    assert (second.url, second.params, second.headers, second.page) == (
        first.url, {"cursor": "Mg"}, first.headers, 2
    )  # fmt: skip
    last = Page(orjson.loads(PAGE_2.read_bytes()))
    assert fal.next_request(CONFIG, second, last) is None
    models = by_id(fal.parse([real_page(), last]))
    assert len(models) == 101
    assert models["fal-ai/stable-diffusion-v15"].status is ModelStatus.DEPRECATED
    assert models["fal-ai/kokoro/american-english"].output_modalities == ("audio",)
    assert "fal-ai/wan-trainer" not in models


def test_page_size_option() -> None:
    """Option page_size becomes the limit parameter; anything but a positive int is refused."""
    config = GatewayConfig(name="fal", base_url=SPEC.base_url, options={"page_size": 50})
    assert adapter().first_request(config).params == {"limit": "50"}
    bad = GatewayConfig(name="fal", base_url=SPEC.base_url, options={"page_size": "50"})
    with pytest.raises(ConfigError, match="page_size"):
        adapter().first_request(bad)


@pytest.mark.parametrize(
    ("document", "params", "cursor"),
    [
        ({"models": [], "has_more": False, "next_cursor": "Mw"}, {}, None),
        ({"models": [], "next_cursor": None}, {}, None),
        ({"models": [], "next_cursor": "Mw"}, {"cursor": "Mg"}, "Mw"),
    ],
)
def test_cursor_edges(document: Any, params: dict[str, str], cursor: str | None) -> None:
    """has_more false or no cursor ends; a cursor without has_more is followed."""
    previous = PageRequest(url=SPEC.base_url, params=params)
    following = adapter().next_request(CONFIG, previous, Page(document))
    assert (following.params["cursor"] if following else None) == cursor


@pytest.mark.parametrize(
    ("document", "params", "message"),
    [
        ({"models": [], "has_more": True, "next_cursor": None}, {}, "has_more without"),
        ({"models": [], "has_more": True, "next_cursor": "Mg"}, {"cursor": "Mg"}, "repeats"),
        (["not", "a", "page"], {}, "expected an object"),
    ],
)
def test_cursor_errors(document: Any, params: dict[str, str], message: str) -> None:
    """A missing or repeating cursor, or a page of the wrong shape, fails the run."""
    previous = PageRequest(url=SPEC.base_url, params=params)
    with pytest.raises(PayloadError, match=message):
        adapter().next_request(CONFIG, previous, Page(document))


def test_paging_past_max_pages_fails() -> None:
    """An endless cursor chain fails instead of looping."""
    previous = PageRequest(url=SPEC.base_url, params={"cursor": "a"}, page=MAX_PAGES)
    with pytest.raises(PayloadError, match="pages"):
        adapter().next_request(CONFIG, previous, Page({"has_more": True, "next_cursor": "b"}))


@pytest.mark.parametrize(
    ("category", "inputs", "outputs"),
    [
        ("text-to-image", ("text",), ("image",)),
        ("image-to-video", ("image",), ("video",)),
        ("text-to-speech", ("text",), ("audio",)),
        ("speech-to-text", ("audio",), ("text",)),
        ("image-to-3d", ("image",), ()),
        ("llm", ("text",), ("text",)),
        ("vision", ("image", "text"), ("text",)),
        ("training", (), ()),
        ("upscaling", (), ()),
        (None, (), ()),
    ],
)
def test_category_modalities(
    category: str | None, inputs: tuple[str, ...], outputs: tuple[str, ...]
) -> None:
    """a-to-b categories map where the words are known media; others stay empty."""
    assert category_modalities(category) == (inputs, outputs)


@pytest.mark.parametrize(
    ("endpoint_id", "canonical"),
    [
        ("fal-ai/flux/dev", "fal-ai/flux/dev"),
        ("Fal-AI/Flux-Pro/v1.1", "fal-ai/flux-pro/v1.1"),
        ("veed/fabric-1.0", "veed/fabric-1.0"),
        ("standalone", "fal/standalone"),
    ],
)
def test_canonical_ids(endpoint_id: str, canonical: str) -> None:
    """The endpoint id lower-cased, its first segment the author; fal/<id> without one."""
    assert adapter().normalize(endpoint_id, {"endpoint_id": endpoint_id}).id == canonical


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([{"endpoint_id": "a/b"}], "expected an object, got a list"),
        ({"models": {"endpoint_id": "a/b"}}, "models: expected a list"),
        ({"models": [{"metadata": {}}]}, "endpoint_id must be a non-empty string"),
        ({"models": ["a/b"]}, r"models\[0\]: expected an object"),
        ({"models": [{"endpoint_id": "a/b", "metadata": []}]}, "'a/b': metadata: expected"),
        ({"models": [{"endpoint_id": "a/b", "metadata": {"display_name": 7}}]},
         "metadata.display_name must be a string"),
        ({"models": [{"endpoint_id": "a/b", "metadata": {"category": ["llm"]}}]},
         "metadata.category must be a string"),
    ],
)  # fmt: skip
def test_bad_input_is_a_payload_error(document: Any, message: str) -> None:
    """Wrong shapes and bad values raise PayloadError naming the entry and field."""
    with pytest.raises(PayloadError, match=message):
        adapter().parse([Page(document)])
