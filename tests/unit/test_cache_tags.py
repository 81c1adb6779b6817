"""The pure cache-tag rules of DESIGN section 7, and the invalidate request contract."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from modelsync.cache.tags import (
    NOTHING,
    InvalidateRequest,
    Invalidation,
    for_changes,
    for_gateway_status,
    for_plan,
    for_rankings,
    for_webhook_event,
    union,
)
from modelsync.domain import ChangeKind, ModelChange, SyncPlan


def inv(tags: set[str], paths: set[str]) -> Invalidation:
    return Invalidation(frozenset(tags), frozenset(paths))


UPDATED_AB = inv(
    {"models:gateway:g", "model:a/b", "models:search"},
    {"/gateways/g", "/models/a/b"},
)
LISTED_AB = inv(
    {"models:gateway:g", "model:a/b", "models:search", "models:all", "rankings"},
    {"/gateways/g", "/models/a/b", "/models", "/"},
)
STATUS_G = inv(
    {"models:all", "models:search", "rankings", "models:gateway:g"},
    {"/models", "/gateways/g", "/status", "/"},
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ([], NOTHING),
        ([(ChangeKind.UPDATED, "a/b")], UPDATED_AB),
        ([("updated", "a/b")], UPDATED_AB),
        ([(ChangeKind.UPDATED, "a/b"), (ChangeKind.UPDATED, "a/b")], UPDATED_AB),
        ([(ChangeKind.ADDED, "a/b")], LISTED_AB),
        ([(ChangeKind.REMOVED, "a/b")], LISTED_AB),
        ([(ChangeKind.RESTORED, "a/b")], LISTED_AB),
        ([("added", "a/b")], LISTED_AB),
        (
            [(ChangeKind.UPDATED, "a/b"), (ChangeKind.ADDED, "c/d")],
            LISTED_AB | inv({"model:c/d"}, {"/models/c/d"}),
        ),
    ],
)
def test_for_changes(changes: list[tuple[Any, str]], expected: Invalidation) -> None:
    """Updates drop the gateway, model and search tags; other kinds also every list."""
    assert for_changes("g", changes) == expected


def test_unknown_change_kind() -> None:
    """A kind outside the vocabulary is a programming error."""
    with pytest.raises(ValueError, match="unknown change kind"):
        for_changes("g", [("renamed", "a/b")])


def test_every_changed_model_is_invalidated() -> None:
    """5,000 changed models give 5,000 model tags and pages, not the first ten."""
    ids = [f"author/model-{index}" for index in range(5000)]
    result = for_changes("g", [(ChangeKind.UPDATED, model_id) for model_id in ids])
    assert {f"model:{model_id}" for model_id in ids} <= result.tags
    assert {f"/models/{model_id}" for model_id in ids} <= result.paths
    assert len(result.tags) == 5002
    assert len(result.paths) == 5001


def test_for_plan_includes_a_renamed_models_old_id() -> None:
    """A change of canonical id drops the page under the old id as well as the new one."""
    plan = SyncPlan(
        gateway="g",
        changes=(
            ModelChange(ChangeKind.UPDATED, "g", "raw-1", "a/new", {"id": ("a/old", "a/new")}),
            ModelChange(ChangeKind.UPDATED, "g", "raw-2", "a/b", {"name": ("x", "y")}),
        ),
    )
    result = for_plan(plan)
    assert {"model:a/old", "model:a/new", "model:a/b"} <= result.tags
    assert {"/models/a/old", "/models/a/new", "/models/a/b"} <= result.paths
    assert "models:all" not in result.tags


def test_for_plan_empty() -> None:
    """A plan without changes invalidates nothing."""
    assert for_plan(SyncPlan(gateway="g")) == NOTHING


@pytest.mark.parametrize(
    ("event_type", "ids", "expected"),
    [
        ("models.updated", ["a/b"], UPDATED_AB),
        ("models.added", ["a/b"], LISTED_AB),
        ("models.removed", ["a/b"], LISTED_AB),
        ("models.updated", [], NOTHING),
        ("gateway.status_changed", [], STATUS_G),
        ("gateway.status_changed", ["a/b"], STATUS_G | UPDATED_AB),
    ],
)
def test_for_webhook_event(event_type: str, ids: list[str], expected: Invalidation) -> None:
    """Each event type maps to the rule of the change it announces."""
    assert for_webhook_event("g", event_type, ids) == expected


def test_unknown_event_type() -> None:
    """An event type the payload model would refuse is an error here too."""
    with pytest.raises(ValueError, match="unknown event type"):
        for_webhook_event("g", "models.deleted", ["a/b"])


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (for_gateway_status("g"), STATUS_G),
        (for_rankings(), inv({"rankings"}, {"/rankings"})),
    ],
)
def test_fixed_rules(result: Invalidation, expected: Invalidation) -> None:
    """Status changes and rankings recomputations follow the table."""
    assert result == expected


def test_union_and_operations() -> None:
    """Union of none is nothing, of one is itself, of many is every tag and path."""
    assert union([]) == NOTHING
    assert union([UPDATED_AB]) is UPDATED_AB
    assert union([UPDATED_AB, STATUS_G, NOTHING]) == UPDATED_AB | STATUS_G
    assert NOTHING.is_empty
    assert not UPDATED_AB.is_empty
    assert UPDATED_AB.to_json() == {
        "tags": ["model:a/b", "models:gateway:g", "models:search"],
        "paths": ["/gateways/g", "/models/a/b"],
    }


@pytest.mark.parametrize(
    ("body", "tags", "paths"),
    [
        ({"type": "models"}, {"models:all"}, {"/models"}),
        (
            {"type": "models", "gateway": "groq"},
            {"models:all", "models:gateway:groq"},
            {"/models", "/gateways/groq"},
        ),
        ({"type": "model-detail", "model_id": "openai/gpt-4o"}, {"model:openai/gpt-4o"},
         {"/models/openai/gpt-4o"}),
        ({"type": "model-detail", "modelId": "x/y"}, {"model:x/y"}, {"/models/x/y"}),
        (
            {"type": "model-detail", "model_id": "x/y", "gateway": "vercel-ai-gateway"},
            {"model:x/y", "models:gateway:vercel-ai-gateway"},
            {"/models/x/y", "/gateways/vercel-ai-gateway"},
        ),
        ({"type": "rankings"}, {"rankings"}, {"/rankings"}),
        ({"type": "search"}, {"models:search"}, set()),
        (
            {"type": "all"},
            {"models:all", "models:search", "rankings", "models:gateway:groq",
             "models:gateway:xai"},
            {"/", "/models", "/rankings", "/status", "/changes", "/gateways/groq",
             "/gateways/xai"},
        ),
        ({"tags": ["custom:tag", "rankings"]}, {"custom:tag", "rankings"}, set()),
        ({"paths": ["/models/a/b"]}, set(), {"/models/a/b"}),
        ({"tags": ["t"], "paths": ["/"]}, {"t"}, {"/"}),
    ],
)  # fmt: skip
def test_invalidate_request(body: dict[str, Any], tags: set[str], paths: set[str]) -> None:
    """Each request type invalidates its tags and paths (``all`` covers every gateway)."""
    request = InvalidateRequest.model_validate(body)
    assert request.invalidation(["groq", "xai"]) == inv(tags, paths)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "give a type, or a non-empty list of tags or paths"),
        ({"tags": [], "paths": []}, "give a type, or a non-empty list"),
        ({"type": "model-detail"}, "type model-detail needs a model_id"),
        ({"type": "model-detail", "model_id": ""}, "String should have at least 1 character"),
        ({"type": "models", "model_id": "a/b"}, "type models takes no model_id"),
        ({"type": "rankings", "gateway": "groq"}, "type rankings takes no gateway"),
        ({"type": "search", "gateway": "groq"}, "type search takes no gateway"),
        ({"type": "all", "gateway": "groq"}, "type all takes no gateway"),
        ({"type": "all", "modelId": "a/b"}, "type all takes no model_id"),
        ({"type": "everything"}, "Input should be 'models'"),
        ({"type": "models", "tags": ["x"]}, "either a type or tags/paths, not both"),
        ({"tags": ["x"], "gateway": "groq"}, "gateway and model_id go with a type"),
        ({"type": "models", "gateway": "Groq Cloud"}, "should match pattern"),
        ({"paths": ["models"]}, "should match pattern"),
        ({"tags": ["has space"]}, "should match pattern"),
        ({"tags": "rankings"}, "Input should be a valid list"),
        ({"type": "models", "purge": True}, "Extra inputs are not permitted"),
    ],
)
def test_invalidate_request_errors(body: dict[str, Any], message: str) -> None:
    """Combinations a type does not take are refused with a clear message."""
    with pytest.raises(ValidationError) as caught:
        InvalidateRequest.model_validate(body)
    assert message in str(caught.value)
