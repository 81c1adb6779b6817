"""OpenRouter adapter: the recorded lists, pagination, canonical ids and malformed input."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import brotli
import orjson
import pytest
from catalog_checks import by_gateway_id, check_catalog

from conftest import shared_fixture
from modelsync.domain import Model, ModelStatus
from modelsync.errors import ConfigError, PayloadError
from modelsync.gateways.base import GatewayConfig, Page, PageRequest
from modelsync.gateways.openrouter import (
    OpenRouterAdapter,
    follow_link,
    modalities_from_arrow,
)
from modelsync.gateways.registry import build_adapter, builtin_specs

DIR = "providers/openrouter/"
MAY_2025 = DIR + "openrouter_api_v1_models_2025-05-23_roo-code_nock_decoded.json"
JULY_2025 = DIR + "openrouter_api_v1_models_2025-07-25_rajashekar-lc.json"
MAY_2026 = DIR + "openrouter_api_v1_models_2026-05-15_models.dev_root_models.json"
NOCK_RAW = DIR + "openrouter_api_v1_models_2025-05-23_roo-code_nock_fixture_raw_with_headers.json"
SPEC = builtin_specs()["openrouter"]
CONFIG = GatewayConfig(name="openrouter", base_url=SPEC.base_url, options=SPEC.options)


def load(relative: str) -> Any:
    """A recorded document, decoded the way the runner decodes it."""
    return orjson.loads(shared_fixture(relative).read_bytes())


def parse(*documents: Any) -> list[Model]:
    """Every model of the given pages."""
    return OpenRouterAdapter("openrouter").parse([Page(document) for document in documents])


@pytest.mark.shared_fixtures
@pytest.mark.parametrize(
    ("relative", "count"), [(MAY_2025, 321), (JULY_2025, 319), (MAY_2026, 364)]
)
def test_recorded_lists_parse_whole(relative: str, count: int) -> None:
    """Each recorded list yields every model, with sane prices, ids and lists."""
    models = parse(load(relative))
    assert len(models) == count
    check_catalog(models)


@pytest.mark.shared_fixtures
def test_raw_nock_recording_decodes_to_the_same_models() -> None:
    """The hex of brotli bytes in the nock file is the decoded capture: same 321 models."""
    recording = load(NOCK_RAW)[0]
    assert recording["rawHeaders"]["content-encoding"] == "br"
    body = brotli.decompress(bytes.fromhex("".join(recording["response"])))
    assert orjson.loads(body) == load(MAY_2025)
    from_raw = parse(orjson.loads(body))
    assert len(from_raw) == 321
    assert [m.to_json() for m in from_raw] == [m.to_json() for m in parse(load(MAY_2025))]


@pytest.mark.shared_fixtures
def test_spot_values_may_2025() -> None:
    """Per-token strings become exact USD per 1M; request and image stay unscaled."""
    models = by_gateway_id(parse(load(MAY_2025)))
    opus = models["anthropic/claude-opus-4"]
    assert opus.id == "anthropic/claude-opus-4"
    assert opus.provider_slug == "anthropic"
    assert opus.name == "Anthropic: Claude Opus 4"
    assert (opus.pricing.prompt, opus.pricing.completion) == (Decimal(15), Decimal(75))
    assert opus.pricing.cache_read == Decimal("1.5")
    assert opus.pricing.cache_write == Decimal("18.75")
    assert opus.pricing.image == Decimal("0.024")
    assert opus.pricing.request == Decimal(0)
    assert (opus.context_length, opus.max_output_tokens) == (200000, 32000)
    assert opus.input_modalities == ("image", "text")
    assert opus.output_modalities == ("text",)
    assert "tools" in opus.supported_parameters
    assert opus.status is ModelStatus.ACTIVE
    assert opus.deprecation_date is None
    assert (opus.pricing.web_search, opus.pricing.internal_reasoning) == (0, 0)  # compared
    assert opus.pricing.audio is None
    assert "pricing" not in opus.extra
    assert opus.extra["created"] == 1747931245
    mini = models["openai/gpt-4o-mini"]
    assert (mini.pricing.prompt, mini.pricing.completion) == (Decimal("0.15"), Decimal("0.6"))
    assert mini.pricing.cache_read == Decimal("0.075")
    assert mini.pricing.cache_write is None
    free = models["mistralai/devstral-small:free"]
    assert free.id == "mistralai/devstral-small-2505"  # its hugging_face_id says so
    assert free.variants == ("free",)
    assert (free.pricing.prompt, free.pricing.completion) == (Decimal(0), Decimal(0))
    assert free.max_output_tokens is None
    auto = models["openrouter/auto"]
    assert (auto.pricing.prompt, auto.pricing.completion) == (None, None)


@pytest.mark.shared_fixtures
def test_spot_values_july_2025_variants() -> None:
    """Variant suffixes leave the canonical id but stay in the gateway id."""
    models = by_gateway_id(parse(load(JULY_2025)))
    thinking = models["mistralai/magistral-medium-2506:thinking"]
    assert thinking.id == "mistralai/magistral-medium-2506"
    assert (thinking.pricing.prompt, thinking.pricing.completion) == (Decimal(2), Decimal(5))
    assert (thinking.context_length, thinking.max_output_tokens) == (40960, 40000)
    assert models["qwen/qwen3-coder:free"].id == "qwen/qwen-3-coder-480b-a35b-instruct"
    assert models["qwen/qwen3-coder:free"].variants == ("free",)
    assert (
        models["qwen/qwen3-coder:free"].extra["canonical_slug"]
        == "qwen/qwen3-coder-480b-a35b-07-25"
    )


@pytest.mark.shared_fixtures
def test_spot_values_may_2026_expiration_and_aliases() -> None:
    """expiration_date deprecates; ~aliases lose the tilde; long per-token prices stay exact."""
    models = by_gateway_id(parse(load(MAY_2026)))
    grok = models["x-ai/grok-4"]
    assert grok.status is ModelStatus.DEPRECATED
    assert grok.deprecation_date == "2026-05-15"
    assert grok.max_output_tokens is None
    flash = models["google/gemini-2.0-flash-001"]
    assert flash.deprecation_date == "2026-06-01"
    assert flash.pricing.cache_write == Decimal("0.08333333333333334")
    assert flash.input_modalities == ("audio", "file", "image", "text", "video")
    assert models["~anthropic/claude-opus-latest"].id == "anthropic/claude-opus-latest"
    routers = [m for m in models.values() if m.gateway_model_id.startswith("openrouter/")]
    assert {m.gateway_model_id for m in routers if m.pricing.prompt is None} == {
        "openrouter/auto",
        "openrouter/bodybuilder",
        "openrouter/pareto-code",
    }
    deprecated = [m for m in models.values() if m.status is ModelStatus.DEPRECATED]
    assert deprecated
    assert all(m.deprecation_date for m in deprecated)


@pytest.mark.parametrize(
    ("raw_id", "expected"),
    [
        ("anthropic/claude-opus-4", ("anthropic/claude-opus-4", "anthropic")),
        ("qwen/qwen3-coder:free", ("qwen/qwen-3-coder-480b-a35b-instruct", "qwen")),
        ("google/gemini-2.5-flash-preview:thinking", ("google/gemini-2.5-flash-preview", "google")),
        ("~anthropic/claude-opus-latest", ("anthropic/claude-opus-latest", "anthropic")),
        (
            "Meta-Llama/Llama-3.3-70B-Instruct:Free",
            ("meta-llama/llama-3.3-70b-instruct", "meta-llama"),
        ),
        ("openrouter/auto", ("openrouter/auto", "openrouter")),
        ("auto", ("openrouter/auto", "openrouter")),
        ("x-ai/grok-4:beta:extended", ("x-ai/grok-4", "x-ai")),
    ],
)
def test_canonical_ids(raw_id: str, expected: tuple[str, str | None]) -> None:
    """The identity rules: tags after ``:`` and a leading ``~`` are not the model's."""
    identity = OpenRouterAdapter("openrouter").identify(raw_id, {})
    assert (identity.id, identity.author) == expected


@pytest.mark.parametrize(
    ("modality", "inputs", "outputs"),
    [
        ("text->text", ("text",), ("text",)),
        ("text+image->text", ("image", "text"), ("text",)),
        (
            "text+image+file+audio+video->text+image",
            ("audio", "file", "image", "text", "video"),
            ("image", "text"),
        ),
        ("Text + Image -> Text", ("image", "text"), ("text",)),
        ("text->embeddings", ("text",), ("embeddings",)),
    ],
)
def test_modalities_from_arrow(
    modality: str, inputs: tuple[str, ...], outputs: tuple[str, ...]
) -> None:
    """The old ``architecture.modality`` string splits into sorted modality tuples."""
    assert modalities_from_arrow(modality) == (inputs, outputs)


LEGACY = {
    "id": "openai/gpt-4-vision-preview",
    "name": "OpenAI: GPT-4 Vision",
    "created": 1699833600,
    "context_length": 128000,
    "architecture": {"modality": "text+image->text", "tokenizer": "GPT"},
    "pricing": {"prompt": "0.00001", "completion": "0.00003", "image": "0.01445"},
    "top_provider": {"max_completion_tokens": 4096, "is_moderated": True},
    "expiration_date": "2025-12-06",
}


def test_legacy_entry_derives_modalities_and_deprecation() -> None:
    """An entry with only ``architecture.modality`` gets modalities; expiration deprecates."""
    (model,) = parse({"data": [LEGACY]})
    assert model.input_modalities == ("image", "text")
    assert model.output_modalities == ("text",)
    assert (model.pricing.prompt, model.pricing.completion) == (Decimal(10), Decimal(30))
    assert model.pricing.image == Decimal("0.01445")
    assert model.max_output_tokens == 4096
    assert model.status is ModelStatus.DEPRECATED
    assert model.deprecation_date == "2025-12-06"
    assert model.extra["architecture"] == {"modality": "text+image->text", "tokenizer": "GPT"}
    assert model.extra["top_provider"] == {"is_moderated": True}


def test_context_falls_back_to_top_provider() -> None:
    """A missing top-level context length is taken from ``top_provider``."""
    entry = {"id": "a/b", "context_length": 0, "top_provider": {"context_length": 8192}}
    assert parse({"data": [entry]})[0].context_length == 8192


def test_created_is_not_compared() -> None:
    """Two polls that differ only in ``created`` hash the same."""
    other = {**LEGACY, "created": 1700000000}
    first, second = parse({"data": [LEGACY]}), parse({"data": [other]})
    assert first[0].content_hash == second[0].content_hash


def test_first_request_asks_for_every_modality() -> None:
    """``output_modalities=all`` by default, no auth without a key, Bearer with one."""
    adapter = OpenRouterAdapter("openrouter")
    request = adapter.first_request(CONFIG)
    assert request.url == "https://openrouter.ai/api/v1/models"
    assert request.params == {"output_modalities": "all"}
    assert request.headers == {}
    keyed = adapter.first_request(
        GatewayConfig(name="openrouter", base_url=SPEC.base_url, api_key="sk-or")
    )
    assert keyed.headers == {"Authorization": "Bearer sk-or"}


def test_first_request_takes_configured_params() -> None:
    """``options["params"]`` adds and overrides query parameters (values as strings)."""
    config = GatewayConfig(
        name="openrouter",
        base_url=SPEC.base_url,
        options={
            "params": {
                "output_modalities": "text",
                "supported_parameters": "tools",
                "limit": 5,
                "beta": True,
            }
        },
    )
    assert OpenRouterAdapter("openrouter").first_request(config).params == {
        "output_modalities": "text",
        "supported_parameters": "tools",
        "limit": "5",
        "beta": "true",
    }
    with pytest.raises(ConfigError, match="params"):
        OpenRouterAdapter("openrouter").first_request(
            GatewayConfig(name="openrouter", base_url=SPEC.base_url, options={"params": "x"})
        )


def test_registry_builds_this_adapter() -> None:
    """The registry's ``openrouter`` kind is this adapter."""
    adapter = build_adapter(SPEC.adapter, SPEC.name)
    assert isinstance(adapter, OpenRouterAdapter)
    assert adapter.kind == "openrouter"


FIRST = PageRequest(
    url="https://openrouter.ai/api/v1/models",
    params={"output_modalities": "all"},
    headers={"Authorization": "Bearer k"},
)


@pytest.mark.parametrize(
    ("link", "url", "params"),
    [
        ("/api/v1/models?cursor=abc", "https://openrouter.ai/api/v1/models?cursor=abc", {}),
        (
            "https://openrouter.ai/api/v1/models?page=2",
            "https://openrouter.ai/api/v1/models?page=2",
            {},
        ),
        (
            "/api/v1/models/page2",
            "https://openrouter.ai/api/v1/models/page2",
            {"output_modalities": "all"},
        ),
        (
            "eyJvZmZzZXQiOjEwMH0=",
            "https://openrouter.ai/api/v1/models",
            {"output_modalities": "all", "cursor": "eyJvZmZzZXQiOjEwMH0="},
        ),
    ],
)
def test_follow_link(link: str, url: str, params: dict[str, str]) -> None:
    """A next link is a URL (its query replaces the params) or an opaque cursor."""
    following = follow_link(FIRST, link)
    assert (following.url, dict(following.params)) == (url, params)
    assert following.headers == FIRST.headers
    assert following.page == 2


def test_pagination_follows_links_next() -> None:
    """``links.next`` is followed until null; the pages' entries are concatenated."""
    adapter = OpenRouterAdapter("openrouter")
    page1 = Page({"data": [{"id": "a/one"}], "links": {"next": "/api/v1/models?cursor=2"}})
    page2 = Page({"data": [{"id": "b/two"}], "links": {"next": None}, "total_count": 2})
    second = adapter.next_request(CONFIG, FIRST, page1)
    assert second is not None
    assert second.url.endswith("?cursor=2")
    assert second.page == 2
    assert adapter.next_request(CONFIG, second, page2) is None
    assert adapter.next_request(CONFIG, FIRST, Page({"data": []})) is None
    assert [m.id for m in adapter.parse([page1, page2])] == ["a/one", "b/two"]


def test_pagination_stops_on_a_self_link_and_rejects_a_bad_one() -> None:
    """A link naming the same request ends the listing; a non-string link is an error."""
    adapter = OpenRouterAdapter("openrouter")
    request = PageRequest(url="https://x.test/models?cursor=1")
    same = Page({"data": [], "links": {"next": "https://x.test/models?cursor=1"}})
    assert adapter.next_request(CONFIG, request, same) is None
    with pytest.raises(PayloadError, match=r"links\.next"):
        adapter.next_request(CONFIG, FIRST, Page({"data": [], "links": {"next": {"href": 1}}}))


GOOD = {
    "id": "acme/model-1",
    "name": "Acme 1",
    "context_length": 4096,
    "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
    "pricing": {"prompt": "0.000001", "completion": "0.000002"},
    "top_provider": {"max_completion_tokens": 1024},
    "supported_parameters": ["tools"],
}


def with_field(path: str, value: Any) -> dict[str, Any]:
    """A copy of GOOD with one (dotted) field replaced."""
    entry = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    target = entry
    for key in parents:
        target = target[key]
    target[last] = value
    return entry


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (with_field("pricing.prompt", "abc"), "pricing.prompt"),
        (with_field("pricing.completion", {"usd": 1}), "pricing.completion"),
        (with_field("pricing", ["0.1"]), "pricing"),
        (with_field("supported_parameters", {"tools": True}), "supported_parameters"),
        (with_field("architecture.input_modalities", {"text": 1}), "input_modalities"),
        (with_field("architecture", ["text"]), "architecture"),
        (with_field("architecture", {"modality": "text"}), "modality"),
        (with_field("context_length", "lots"), "context_length"),
        (with_field("top_provider.max_completion_tokens", 1.5), "max_completion_tokens"),
        (with_field("expiration_date", "soon"), "expiration_date"),
        (with_field("name", ["Acme"]), "name"),
    ],
)
def test_bad_values_name_entry_and_field(entry: dict[str, Any], field: str) -> None:
    """A bad value is a PayloadError naming the gateway, the model and the field."""
    with pytest.raises(PayloadError, match=field) as caught:
        OpenRouterAdapter("openrouter").normalize("acme/model-1", entry)
    assert "openrouter model 'acme/model-1'" in str(caught.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([GOOD], "expected an object"),
        ({"data": {"acme/model-1": GOOD}}, "data: expected a list"),
        ({"models": [GOOD]}, "data: expected a list"),
        ({"data": [{"name": "no id"}]}, r"\[0\]: id must be a non-empty string"),
        ({"data": [GOOD, "acme/model-2"]}, r"\[1\]: expected an object"),
        ("<html>", "expected an object"),
    ],
)
def test_wrong_shapes_are_payload_errors(document: Any, message: str) -> None:
    """A wrong top-level shape, a missing id or a non-object entry is a PayloadError."""
    with pytest.raises(PayloadError, match=message):
        parse(document)
