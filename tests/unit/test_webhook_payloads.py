"""The webhook payload: strict shape, known gateways, 400 for bad JSON, 422 naming the field."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from modelsync.errors import WebhookPayloadError
from modelsync.webhooks.payloads import (
    EVENT_TYPES,
    WebhookEvent,
    field_path,
    gateway_table,
    load_document,
    parse_events,
    validate_events,
)

GATEWAYS = gateway_table(
    {"groq": "groq", "vercel-ai-gateway": "vercel-ai-gateway", "vercel": "vercel-ai-gateway"}
)


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "gateway": "groq",
        "event_type": "models.updated",
        "models": [{"id": "meta/llama-3", "name": "Llama 3", "provider_slug": "meta"}],
        "timestamp": 1_767_225_600_000,
    }
    base.update(overrides)
    return base


def test_single_event() -> None:
    """One object is one event; documented fields are kept as given."""
    (parsed,) = parse_events(orjson.dumps(event()), GATEWAYS)
    assert parsed.gateway == "groq"
    assert parsed.event_type == "models.updated"
    assert parsed.models == [{"id": "meta/llama-3", "name": "Llama 3", "provider_slug": "meta"}]
    assert parsed.model_ids == ["meta/llama-3"]
    assert parsed.timestamp == 1_767_225_600_000


def test_list_of_events_in_order() -> None:
    """A JSON list carries several events, each validated, order kept."""
    body = orjson.dumps([event(event_type=kind) for kind in EVENT_TYPES])
    assert [e.event_type for e in parse_events(body, GATEWAYS)] == list(EVENT_TYPES)


def test_extra_fields_are_accepted_and_dropped() -> None:
    """Unknown fields of events and models pass, and are not kept."""
    models = [{"id": "a/b", "context_length": 8192, "pricing": {"prompt": "1"}}]
    (parsed,) = parse_events(orjson.dumps(event(models=models, status="degraded")), GATEWAYS)
    assert parsed.models == [{"id": "a/b"}]
    assert not hasattr(parsed, "status")


def test_alias_maps_to_the_canonical_gateway() -> None:
    """A known alias is accepted and replaced by the gateway's name."""
    (parsed,) = parse_events(orjson.dumps(event(gateway="vercel")), GATEWAYS)
    assert parsed.gateway == "vercel-ai-gateway"


def test_status_change_may_name_no_models() -> None:
    """gateway.status_changed needs no models (absent or empty)."""
    doc = event(event_type="gateway.status_changed")
    del doc["models"]
    assert validate_events(doc, GATEWAYS)[0].models == []
    assert validate_events(event(event_type="gateway.status_changed", models=[]), GATEWAYS)


def test_without_a_gateway_table_any_name_passes() -> None:
    """Validation without the context (other callers) does not check the gateway."""
    assert WebhookEvent.model_validate(event(gateway="elsewhere")).gateway == "elsewhere"


@pytest.mark.parametrize(
    "body", [b"", b"{", b"nul", b"\xff\xfe", b'{"a": 1} x', b"{'a': 1}", b"[1,]", b"NaN"]
)
def test_invalid_json_is_400(body: bytes) -> None:
    """Bytes that are not JSON are a 400 that says so."""
    with pytest.raises(WebhookPayloadError, match="invalid JSON") as caught:
        load_document(body)
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], "expected at least one event, got an empty list"),
        ("text", "expected an event object or a list of events, got str"),
        (5, "got int"),
        (None, "got NoneType"),
        ({k: v for k, v in event().items() if k != "gateway"}, "gateway: Field required"),
        (event(gateway=5), "gateway: Input should be a valid string"),
        (event(gateway=""), "gateway: String should have at least 1 character"),
        (event(gateway="nope"), "gateway: unknown gateway 'nope'"),
        (event(gateway="GROQ"), "gateway: unknown gateway 'GROQ'"),
        (event(event_type="models.deleted"), "event_type: Input should be 'models.added'"),
        (event(event_type=None), "event_type: Input should be"),
        (event(models={"id": "a"}), "models: Input should be a valid list"),
        (event(models="a/b"), "models: Input should be a valid list"),
        (event(models=None), "models: Input should be a valid list"),
        (event(models=["a/b"]), "models[0]: Input should be a valid dictionary"),
        (event(models=[{"name": "x"}]), "models[0].id: Field required"),
        (event(models=[{"id": ""}]), "models[0].id: String should have at least 1 character"),
        (event(models=[{"id": 7}]), "models[0].id: Input should be a valid string"),
        (event(models=[{"id": "a", "name": 7}]), "models[0].name: Input should be a valid string"),
        (event(models=[]), "models: a models.updated event needs at least one model"),
        (event(event_type="models.added", models=[]), "a models.added event needs"),
        (event(timestamp="1767225600000"), "timestamp: Input should be a valid integer"),
        (event(timestamp=1.5), "timestamp: Input should be a valid integer"),
        (event(timestamp=True), "timestamp: Input should be a valid integer"),
        (event(timestamp=-1), "timestamp: Input should be greater than or equal to 0"),
        ({k: v for k, v in event().items() if k != "timestamp"}, "timestamp: Field required"),
        ([event(), event(models=[{"id": 1}])], "[1].models[0].id: Input should be a valid string"),
        ([event(), "x"], "[1]: Input should be a valid dictionary"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_wrong_shape_is_422_with_the_path(document: Any, expected: str) -> None:
    """Valid JSON of the wrong shape, an unknown gateway or event: 422 naming what is wrong."""
    with pytest.raises(WebhookPayloadError) as caught:
        validate_events(document, GATEWAYS)
    assert caught.value.status_code == 422
    assert expected in str(caught.value)


def test_many_errors_are_summarized() -> None:
    """Thousands of bad models give a short message: the first five and a count."""
    document = event(models=[{"id": index} for index in range(5000)])
    with pytest.raises(WebhookPayloadError) as caught:
        validate_events(document, GATEWAYS)
    message = str(caught.value)
    assert message.count("Input should be a valid string") == 5
    assert message.endswith("(+4995 more)")
    assert len(message) < 400


def test_five_thousand_models_parse_quickly() -> None:
    """One event of 5,000 models (about 700 kB) parses in well under a second."""
    models = [
        {
            "id": f"author{i % 50}/model-{i}",
            "name": f"Model {i}",
            "provider_slug": f"author{i % 50}",
            "context_length": 8192,
            "pricing": {"prompt": "0.1", "completion": "0.2"},
        }
        for i in range(5000)
    ]
    body = orjson.dumps(event(models=models))
    started = time.perf_counter()
    (parsed,) = parse_events(body, GATEWAYS)
    elapsed = time.perf_counter() - started
    assert len(parsed.models) == 5000
    assert parsed.model_ids[-1] == "author49/model-4999"
    assert elapsed < 0.5


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), "body"),
        (("gateway",), "gateway"),
        (("models", 3, "id"), "models[3].id"),
        ((2,), "[2]"),
        ((1, "models", 0, "name"), "[1].models[0].name"),
    ],
)
def test_field_path(loc: tuple[int | str, ...], path: str) -> None:
    """Pydantic locations read as JSON paths."""
    assert field_path(loc) == path


@pytest.mark.parametrize(
    ("known", "table"),
    [
        (["groq", "xai"], {"groq": "groq", "xai": "xai"}),
        ({"grok": "xai", "xai": "xai"}, {"grok": "xai", "xai": "xai"}),
        ((), {}),
    ],
)
def test_gateway_table(known: Any, table: dict[str, str]) -> None:
    """Names map to themselves; a mapping of aliases is taken as it is."""
    assert gateway_table(known) == table
