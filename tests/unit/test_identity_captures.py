"""Canonical identity on the recorded captures: every shared model joined, nothing else merged,
and every stored model re-identifiable from what the store keeps."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from conftest import SHARED_FIXTURES, shared_fixture
from identity_captures import CAPTURES, capture_models, load_truth, score
from modelsync.domain import Model
from modelsync.gateways.base import Page
from modelsync.gateways.registry import build_adapter
from modelsync.identity import RULES_VERSION, Identity

pytestmark = pytest.mark.shared_fixtures

RECORDED_IDS_DIGEST = {"2026-11-29.1": "2263d101a7fd4301"}
"""RULES_VERSION -> the digest of the ids the measured captures get under it."""


@pytest.fixture(scope="module")
def models() -> list[Model]:
    """Every model of the nine captures issue 9 measures."""
    shared_fixture("providers")
    return capture_models(SHARED_FIXTURES)


def test_every_shared_model_is_joined_and_nothing_else_merged(models: list[Model]) -> None:
    """All 122 hand-checked shared models get one id each; no id holds two of them or more."""
    report = score(models, load_truth())
    assert report.unknown == []
    assert report.missed == []
    assert report.wrong == []
    assert report.unconfirmed == []
    assert (report.groups, report.rate) == (122, 1.0)


def test_unconfirmed_pairs_stay_apart(models: list[Model]) -> None:
    """An alias and a dated release, or names nothing ties together, keep their own ids."""
    ids = {(m.gateway, m.gateway_model_id): m.id for m in models}
    for why, offers in load_truth().unsure:
        got = {ids[offer] for offer in offers}
        assert len(got) == len(offers), why


OTHER_CAPTURES: tuple[tuple[str, str, str], ...] = (
    ("openrouter", "openrouter", "providers/openrouter/"
     "openrouter_api_v1_models_2026-05-15_models.dev_root_models.json"),
    ("openrouter", "openrouter", "providers/openrouter/"
     "openrouter_api_v1_models_2025-05-23_roo-code_nock_decoded.json"),
    ("fal", "fal", "providers/fal/"
     "fal_platform_api_v1_models_page1_2026-04-18_ianscrivener-PromptProxy.json"),
    ("near", "near", "providers/near/near_v1_model_list_mock_gatewayz-backend.json"),
    ("litellm", "litellm", "catalogs/"
     "litellm_model_prices_and_context_window_2026-07-24_via_RoCry-llm-api-price.json"),
    ("models.dev", "modelsdev",
     "catalogs/models.dev_api.json_2026-06-13_via_symfony-models-dev.json"),
)  # fmt: skip


def _parsed(gateway: str, kind: str, relative: str) -> list[Model]:
    document: Any = orjson.loads(shared_fixture(relative).read_bytes())
    return build_adapter(kind, gateway).parse([Page(document)])


@pytest.mark.parametrize(("gateway", "kind", "relative"), OTHER_CAPTURES)
def test_stored_models_reidentify_the_same(gateway: str, kind: str, relative: str) -> None:
    """What the store keeps of a model is enough to compute its identity again."""
    adapter = build_adapter(kind, gateway)
    for model in _parsed(gateway, kind, relative):
        stored = Model.from_json(orjson.loads(orjson.dumps(model.to_json())))
        expected = Identity(model.id, model.provider_slug or "", model.variants)
        assert adapter.stored_identity(stored) == expected, model.gateway_model_id


def test_stored_capture_models_reidentify_the_same(models: list[Model]) -> None:
    """The same for the nine measured captures."""
    adapters = {gateway: build_adapter(kind, gateway) for gateway, kind, _ in CAPTURES}
    for model in models:
        stored = Model.from_json(orjson.loads(orjson.dumps(model.to_json())))
        expected = Identity(model.id, model.provider_slug or "", model.variants)
        assert adapters[model.gateway].stored_identity(stored) == expected


def _digest(models: list[Model]) -> str:
    rows = sorted((m.gateway, m.gateway_model_id, m.id, *m.variants) for m in models)
    return hashlib.sha256(orjson.dumps(rows)).hexdigest()[:16]


def test_rules_version_is_bumped_when_the_recorded_ids_change(models: list[Model]) -> None:
    """Changed rules must bump RULES_VERSION (stored ids are migrated on that signal)."""
    digest = _digest(models)
    assert RECORDED_IDS_DIGEST.get(RULES_VERSION) == digest, (
        f"the identity rules now give the recorded captures other ids (digest {digest}): bump "
        "modelsync.identity.overrides.RULES_VERSION and record the digest under the new version"
    )
