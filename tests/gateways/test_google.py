"""Google (Gemini API) adapter: the recorded list, pagination, deprecation text, modalities."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from conftest import shared_fixture
from modelsync.domain import NO_PRICING, Model, ModelStatus
from modelsync.errors import PayloadError
from modelsync.gateways.base import GatewayConfig, Page, PageRequest
from modelsync.gateways.google import GoogleAdapter, deprecation, google_modalities
from modelsync.gateways.registry import build_adapter, builtin_specs

RECORDED = "providers/gemini/gemini_v1beta_models_2025-04-01_yayxs-openai_prettier.json"
SPEC = builtin_specs()["google"]
CONFIG = GatewayConfig(name="google", base_url=SPEC.base_url, api_key="AIza", options=SPEC.options)


@pytest.fixture(scope="module")
def recorded() -> dict[str, Model]:
    """The recorded list, parsed, keyed by gateway id."""
    page = Page(orjson.loads(shared_fixture(RECORDED).read_bytes()))
    return {m.gateway_model_id: m for m in GoogleAdapter("google").parse([page])}


@pytest.mark.shared_fixtures
def test_recorded_list_parses_whole(recorded: dict[str, Model]) -> None:
    """44 models, ids without ``models/``, google canonical ids, no prices."""
    assert len(recorded) == 44
    for model_id, model in recorded.items():
        assert not model_id.startswith("models/")
        assert model.id == f"google/{model_id}"
        assert model.provider_slug == "google"
        assert model.pricing is NO_PRICING
        assert model.extra["name"] == f"models/{model_id}"
        assert list(model.output_modalities) == sorted(model.output_modalities)


@pytest.mark.shared_fixtures
def test_recorded_spot_values(recorded: dict[str, Model]) -> None:
    """Limits, names, sampling parameters, deprecation from the description, modalities."""
    pro = recorded["gemini-1.5-pro"]
    assert pro.name == "Gemini 1.5 Pro"
    assert (pro.context_length, pro.max_output_tokens) == (2000000, 8192)
    assert pro.supported_parameters == ("temperature", "top_k", "top_p")
    assert pro.input_modalities == ("audio", "image", "text", "video")
    assert pro.output_modalities == ("text",)
    assert pro.status is ModelStatus.ACTIVE
    assert pro.extra["supportedGenerationMethods"] == ["generateContent", "countTokens"]
    assert pro.extra["version"] == "001"
    assert "inputTokenLimit" not in pro.extra
    vision = recorded["gemini-pro-vision"]
    assert vision.status is ModelStatus.DEPRECATED
    assert vision.deprecation_date == "2024-07-12"
    assert vision.input_modalities == ("image", "text")
    assert recorded["gemini-1.0-pro-vision-latest"].deprecation_date == "2024-07-12"
    deprecated = {k for k, m in recorded.items() if m.status is ModelStatus.DEPRECATED}
    assert deprecated == {"gemini-pro-vision", "gemini-1.0-pro-vision-latest"}
    embedding = recorded["text-embedding-004"]
    assert (embedding.input_modalities, embedding.output_modalities) == (("text",), ("embeddings",))
    assert embedding.supported_parameters == ()
    assert recorded["imagen-3.0-generate-002"].output_modalities == ("image",)
    assert recorded["gemini-2.0-flash-exp-image-generation"].output_modalities == ("image", "text")
    assert recorded["gemma-3-4b-it"].description is None
    assert recorded["chat-bison-001"].output_modalities == ("text",)


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Gemini 1.0 Pro Vision was deprecated on July 12, 2024. Move to a newer Gemini version.",
         (True, "2024-07-12")),
        ("This model will be deprecated on Sept. 24, 2025.", (True, "2025-09-24")),
        ("Deprecated on Jan 5 2026: use gemini-2.0-flash.", (True, "2026-01-05")),
        ("A fast model. Deprecated since 2026-03-01.", (True, "2026-03-01")),
        ("Not deprecated yet.", (False, None)),
        ("This model will be deprecated on September 24, 2025.", (True, "2025-09-24")),
        ("This model has been deprecated since 2025-02-15.", (True, "2025-02-15")),
        ("This model is deprecated.", (True, None)),
        ("It was deprecated on February 30, 2024.", (True, None)),
        ("Replaces the deprecated text-bison model.", (False, None)),
        ("Our fastest multimodal model.", (False, None)),
    ],
)  # fmt: skip
def test_deprecation_from_description(description: str, expected: tuple[bool, str | None]) -> None:
    """ "(was|is|has been|will be) deprecated [on <date>]" or a sentence opening "Deprecated"."""
    assert deprecation(description) == expected


@pytest.mark.parametrize(
    ("model_id", "methods", "inputs", "outputs"),
    [
        ("gemini-2.0-flash", ("countTokens", "generateContent"),
         ("audio", "image", "text", "video"), ("text",)),
        ("gemini-1.0-pro", ("generateContent",), ("text",), ("text",)),
        ("gemini-pro-vision", ("generateContent",), ("image", "text"), ("text",)),
        ("gemini-2.5-flash-preview-tts", ("generateContent",),
         ("audio", "image", "text", "video"), ("audio",)),
        ("gemini-2.5-flash-image-preview", ("generateContent",),
         ("audio", "image", "text", "video"), ("image", "text")),
        ("gemini-embedding-001", ("embedContent",), ("text",), ("embeddings",)),
        ("embedding-gecko-001", ("countTextTokens", "embedText"), ("text",), ("embeddings",)),
        ("imagen-4.0-generate-001", ("predict",), ("text",), ("image",)),
        ("veo-3.0-generate-preview", ("predictLongRunning",), ("text",), ("video",)),
        ("gemma-3-27b-it", ("generateContent",), ("text",), ("text",)),
        ("mystery", ("countTokens",), (), ()),
    ],
)  # fmt: skip
def test_modalities(
    model_id: str, methods: tuple[str, ...], inputs: tuple[str, ...], outputs: tuple[str, ...]
) -> None:
    """Modalities follow the generation methods and the model family."""
    assert google_modalities(model_id, methods) == (inputs, outputs)


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("gemini-2.0-flash", "google/gemini-2.0-flash"),
        ("Gemini-1.5-Pro-Latest", "google/gemini-1.5-pro-latest"),
        ("imagen-3.0-generate-002", "google/imagen-3.0-generate-002"),
    ],
)
def test_canonical_ids(model_id: str, expected: str) -> None:
    """``google/<id>`` in lower case."""
    assert GoogleAdapter("google").identify(model_id, {}).id == expected


def test_thinking_models_support_reasoning() -> None:
    """``thinking: true`` adds ``reasoning`` to the sampling parameters."""
    raw = {**entry("gemini-2.5-pro"), "thinking": True, "temperature": 1, "topP": 0.95}
    model = GoogleAdapter("google").normalize("gemini-2.5-pro", raw)
    assert model.supported_parameters == ("reasoning", "temperature", "top_p")
    assert model.extra["thinking"] is True


def test_first_request_sends_key_header_and_page_size() -> None:
    """``pageSize=1000``, the key in ``x-goog-api-key``, never in the URL."""
    adapter = build_adapter(SPEC.adapter, SPEC.name)
    assert isinstance(adapter, GoogleAdapter)
    request = adapter.first_request(CONFIG)
    assert request.url == "https://generativelanguage.googleapis.com/v1beta/models"
    assert request.params == {"pageSize": "1000"}
    assert request.headers == {"x-goog-api-key": "AIza"}
    assert "key" not in request.url
    assert adapter.auth_headers(None) == {}


def entry(name: str) -> dict[str, Any]:
    """A minimal generative model entry."""
    return {"name": f"models/{name}", "displayName": name, "inputTokenLimit": 1000,
            "outputTokenLimit": 100, "supportedGenerationMethods": ["generateContent"]}  # fmt: skip


def test_pagination_over_three_pages() -> None:
    """``nextPageToken`` becomes ``pageToken``, headers are kept, the last page ends it."""
    adapter = GoogleAdapter("google")
    pages = [
        Page({"models": [entry("a"), entry("b")], "nextPageToken": "tok1"}),
        Page({"models": [entry("c")], "nextPageToken": "tok2"}),
        Page({"models": [entry("d")]}),
    ]
    request = adapter.first_request(CONFIG)
    seen = [request]
    for page in pages:
        following = adapter.next_request(CONFIG, request, page)
        if following is None:
            break
        seen.append(following)
        request = following
    assert [r.params.get("pageToken") for r in seen] == [None, "tok1", "tok2"]
    assert [r.page for r in seen] == [1, 2, 3]
    assert all(r.headers == {"x-goog-api-key": "AIza"} for r in seen)
    assert all(r.params["pageSize"] == "1000" for r in seen)
    assert [m.gateway_model_id for m in adapter.parse(pages)] == ["a", "b", "c", "d"]


def test_pagination_edge_cases() -> None:
    """An empty token ends the list; a token-only page is fine; a repeated token loops."""
    adapter = GoogleAdapter("google")
    first = adapter.first_request(CONFIG)
    assert adapter.next_request(CONFIG, first, Page({"models": [], "nextPageToken": ""})) is None
    assert adapter.parse([Page({"nextPageToken": "t"}), Page({"models": [entry("x")]})])[0].id == (
        "google/x"
    )
    second = PageRequest(url=first.url, params={**first.params, "pageToken": "t"}, page=2)
    with pytest.raises(PayloadError, match="repeats"):
        adapter.next_request(CONFIG, second, Page({"models": [], "nextPageToken": "t"}))
    with pytest.raises(PayloadError, match="nextPageToken must be a string"):
        adapter.next_request(CONFIG, first, Page({"models": [], "nextPageToken": 2}))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"inputTokenLimit": "many"}, "inputTokenLimit"),
        ({"outputTokenLimit": -5.5}, "outputTokenLimit"),
        ({"supportedGenerationMethods": {"generateContent": True}}, "supportedGenerationMethods"),
        ({"description": ["deprecated"]}, "description"),
        ({"displayName": 3}, "displayName"),
    ],
)
def test_bad_values_name_entry_and_field(changes: dict[str, Any], field: str) -> None:
    """A bad value is a PayloadError naming the gateway, the model and the field."""
    with pytest.raises(PayloadError, match=field) as caught:
        GoogleAdapter("google").normalize("gemini-x", {**entry("gemini-x"), **changes})
    assert "google model 'gemini-x'" in str(caught.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"models": {"models/a": entry("a")}}, "models must be a list"),
        ({"data": [entry("a")]}, "models must be a list"),
        ([entry("a")], "expected an object"),
        ({"models": [{"displayName": "no name"}]}, r"\[0\]: name must be a non-empty string"),
        ({"models": [{**entry("a"), "name": "tunedModels/a"}]}, "is not 'models/<id>'"),
        ({"models": [{**entry("a"), "name": "models/"}]}, "is not 'models/<id>'"),
        ({"models": ["models/a"]}, r"\[0\]: expected an object"),
    ],
)
def test_wrong_shapes_are_payload_errors(document: Any, message: str) -> None:
    """A wrong top-level shape, a missing or foreign name, a non-object entry: PayloadError."""
    with pytest.raises(PayloadError, match=message):
        GoogleAdapter("google").parse([Page(document)])
