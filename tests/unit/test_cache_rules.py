"""Pure rules of the response cache: run invalidations, answer tags, generations, ETags."""

from __future__ import annotations

from datetime import UTC, datetime

from modelsync.cache.memory import MemoryTagManifest
from modelsync.cache.responses import CachePolicy, etag_matches, etag_of
from modelsync.cache.tags import (
    Invalidation,
    changes_tags,
    for_run,
    list_tags,
    model_tags,
)
from modelsync.clock import ManualClock
from modelsync.domain import ChangeKind, ModelChange, SyncPlan

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_run_that_only_marks_models_missing_invalidates_them() -> None:
    """No recorded change, but two models' served status moved: their tags, the gateway's,
    search and the status; the change history is untouched."""
    plan = SyncPlan(gateway="groq")
    invalidation = for_run(plan, ("a/b", "c/d"))
    assert invalidation.tags == {
        "model:a/b",
        "model:c/d",
        "models:gateway:groq",
        "models:search",
        "sync:status",
    }
    assert {"/models/a/b", "/models/c/d", "/gateways/groq", "/status"} == invalidation.paths


def test_a_run_with_changes_drops_the_history_too() -> None:
    change = ModelChange(ChangeKind.ADDED, "groq", "x", "a/x")
    invalidation = for_run(SyncPlan(gateway="groq", changes=(change,)))
    assert {"changes", "sync:status", "models:all", "rankings", "model:a/x"} <= invalidation.tags
    assert {"/changes", "/status", "/models"} <= invalidation.paths


def test_answer_tags() -> None:
    assert list_tags(["groq"], search=True) == {
        "models:all",
        "models:gateway:groq",
        "models:search",
    }
    assert model_tags("a/b", ["groq", "xai"]) == {
        "model:a/b",
        "models:gateway:groq",
        "models:gateway:xai",
    }
    assert changes_tags() == {"changes"}
    assert changes_tags("groq", "a/b") == {"changes", "models:gateway:groq", "model:a/b"}


def test_generations_judge_entries_on_a_frozen_clock() -> None:
    """Read before an invalidation: stale; read after it (same instant): fresh."""
    manifest = MemoryTagManifest(ManualClock(START))
    before = manifest.generation
    manifest.apply(Invalidation(frozenset({"t"}), frozenset({"/p"})), reason="x")
    after = manifest.generation
    assert manifest.is_stale_since(["t"], before)
    assert not manifest.is_stale_since(["t"], after)
    assert manifest.is_stale_since([], before, path="/p")
    assert not manifest.is_stale_since(["other"], before)


def test_forgotten_marks_raise_the_generation_floor() -> None:
    manifest = MemoryTagManifest(ManualClock(START), max_tags=3)
    before = manifest.generation
    for n in range(5):
        manifest.apply(Invalidation(frozenset({f"t{n}"})), reason="fill")
    assert manifest.is_stale_since(["never"], before)
    assert not manifest.is_stale_since(["never"], manifest.generation)


def test_etags_and_cache_control() -> None:
    etag = etag_of(b"body")
    assert etag == etag_of(b"body") != etag_of(b"other")
    assert etag_matches(etag, etag)
    assert etag_matches(b'"x", W/' + etag, etag)
    assert etag_matches(b"*", etag)
    assert not etag_matches(b'"x"', etag)
    assert CachePolicy().header() == "public, max-age=0, must-revalidate"
    assert CachePolicy(max_age_s=10, stale_while_revalidate_s=5).header() == (
        "public, max-age=10, stale-while-revalidate=5"
    )
