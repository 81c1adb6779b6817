"""The in-memory tag manifest: tag -> invalidated_at, checked on read, with a bounded log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelsync.cache.base import InvalidationRecord, Invalidator
from modelsync.cache.memory import MemoryTagManifest
from modelsync.cache.tags import Invalidation, for_changes
from modelsync.clock import ManualClock
from modelsync.domain import ChangeKind

START = datetime(2026, 1, 1, tzinfo=UTC)


def tags(*names: str, paths: tuple[str, ...] = ()) -> Invalidation:
    return Invalidation(frozenset(names), frozenset(paths))


@pytest.fixture
def clock() -> ManualClock:
    """A clock that starts at START and moves only when told to."""
    return ManualClock(START)


@pytest.fixture
def manifest(clock: ManualClock) -> MemoryTagManifest:
    """An empty manifest on the manual clock."""
    return MemoryTagManifest(clock)


@pytest.mark.parametrize(
    ("entry_tags", "stored_offset_s", "path", "stale"),
    [
        (["model:a/b"], -1, None, True),
        (["model:a/b"], 0, None, True),
        (["model:a/b"], 1, None, False),
        (["model:c/d"], -1, None, False),
        ([], -1, None, False),
        (["model:c/d", "rankings"], -1, None, True),
        (["model:c/d"], -1, "/models/a/b", True),
        (["model:c/d"], 1, "/models/a/b", False),
        (["model:c/d"], -1, "/models/c/d", False),
    ],
)
async def test_is_stale(
    manifest: MemoryTagManifest,
    entry_tags: list[str],
    stored_offset_s: float,
    path: str | None,
    stale: bool,
) -> None:
    """Stale when any tag (or the path) was invalidated at or after the entry was stored."""
    await manifest.invalidate(tags("model:a/b", "rankings", paths=("/models/a/b",)), reason="t")
    stored_at = START + timedelta(seconds=stored_offset_s)
    assert manifest.is_stale(entry_tags, stored_at, path=path) is stale


async def test_latest_invalidation_counts(manifest: MemoryTagManifest, clock: ManualClock) -> None:
    """Invalidating again moves the tag's time forward; entries stored between become stale."""
    await manifest.invalidate(tags("rankings"), reason="first")
    clock.advance(10)
    stored_at = clock.now()
    assert not manifest.is_stale(["rankings"], stored_at + timedelta(seconds=1))
    clock.advance(10)
    await manifest.invalidate(tags("rankings"), reason="second")
    assert manifest.invalidated_at("rankings") == START + timedelta(seconds=20)
    assert manifest.is_stale(["rankings"], stored_at)


def test_untouched_tags_and_paths(manifest: MemoryTagManifest) -> None:
    """A tag never invalidated has no time and never makes an entry stale."""
    assert manifest.invalidated_at("models:all") is None
    assert manifest.path_invalidated_at("/models") is None
    assert not manifest.is_stale(["models:all"], START - timedelta(days=1), path="/models")


async def test_it_is_an_invalidator(manifest: MemoryTagManifest) -> None:
    """The manifest satisfies the Invalidator interface the receiver and runner call."""
    invalidator: Invalidator = manifest
    await invalidator.invalidate(for_changes("g", [(ChangeKind.ADDED, "a/b")]), reason="sync")
    assert manifest.invalidated_at("models:all") == START
    assert manifest.path_invalidated_at("/") == START


async def test_log_is_newest_first_and_bounded_in_records(clock: ManualClock) -> None:
    """Only the last ``log_size`` invalidations are kept, newest first."""
    manifest = MemoryTagManifest(clock, log_size=3)
    for index in range(5):
        clock.advance(1)
        await manifest.invalidate(tags(f"t{index}"), reason=f"r{index}")
    assert [record.reason for record in manifest.recent()] == ["r4", "r3", "r2"]
    assert [record.reason for record in manifest.recent(1)] == ["r4"]
    assert manifest.invalidated_at("t0") is not None


async def test_log_is_bounded_in_items(clock: ManualClock) -> None:
    """A huge invalidation evicts older records; the newest is always kept."""
    manifest = MemoryTagManifest(clock, log_items=100)
    await manifest.invalidate(tags("small"), reason="small")
    ids = [(ChangeKind.UPDATED, f"a/m{index}") for index in range(5000)]
    await manifest.invalidate(for_changes("g", ids), reason="big")
    assert [record.reason for record in manifest.recent()] == ["big"]
    await manifest.invalidate(tags("after"), reason="after")
    assert [record.reason for record in manifest.recent()] == ["after"]


async def test_describe_and_record_json(manifest: MemoryTagManifest) -> None:
    """The status view counts tags and paths and cuts long lists."""
    ids = [(ChangeKind.UPDATED, f"a/m{index:03}") for index in range(120)]
    await manifest.invalidate(for_changes("g", ids), reason="sync g")
    described = manifest.describe()
    assert described["tags"] == 122
    assert described["paths"] == 121
    assert described["invalidations"] == 1
    (recent,) = described["recent"]
    assert recent["reason"] == "sync g"
    assert recent["tag_count"] == 122
    assert len(recent["tags"]) == 50
    assert recent["tags"][0] == "model:a/m000"


def test_record_json_small() -> None:
    """A small record is shown whole, sorted."""
    record = InvalidationRecord(START, "manual", tags("b", "a", paths=("/x",)))
    assert record.to_json() == {
        "at": "2026-01-01T00:00:00+00:00",
        "reason": "manual",
        "tag_count": 2,
        "path_count": 1,
        "tags": ["a", "b"],
        "paths": ["/x"],
    }


async def test_invalidations_older_than_any_cached_entry_are_forgotten(clock: ManualClock) -> None:
    """400k model tags are released once no entry stored before them can still be cached."""
    manifest = MemoryTagManifest(clock, retain_s=3600, max_tags=1_000_000)
    ids = [(ChangeKind.UPDATED, f"a/m{index}") for index in range(200_000)]
    await manifest.invalidate(for_changes("g", ids), reason="big sync")
    described = manifest.describe()
    assert described["tags"] + described["paths"] > 400_000
    clock.advance(1800)
    await manifest.invalidate(tags("rankings"), reason="half an hour later")
    assert manifest.describe()["tags"] > 200_000  # still within the lifetime of a cached entry
    clock.advance(1801)
    await manifest.invalidate(tags("models:all"), reason="past the lifetime")
    described = manifest.describe()
    assert (described["tags"], described["paths"]) == (2, 0)
    assert manifest.invalidated_at("model:a/m1") is None
    assert manifest.is_stale(["models:all"], clock.now())
    assert not manifest.is_stale(["model:a/m1"], clock.now() - timedelta(seconds=3599))


async def test_past_max_tags_the_oldest_go_and_older_entries_count_as_stale(
    clock: ManualClock,
) -> None:
    """Bounded by count too: dropping a tag raises the floor, so nothing stale is served."""
    manifest = MemoryTagManifest(clock, max_tags=100)
    stored_early = clock.now() - timedelta(seconds=1)
    for index in range(300):
        clock.advance(1)
        await manifest.invalidate(tags(f"t{index}"), reason=f"r{index}")
    described = manifest.describe()
    assert described["tags"] == 100
    assert manifest.invalidated_at("t0") is None
    assert manifest.invalidated_at("t299") == clock.now()
    assert manifest.is_stale(["t0"], stored_early)  # t0's drop did not make it fresh
    assert manifest.is_stale(["unrelated"], START + timedelta(seconds=200))
    assert not manifest.is_stale(["t150"], START + timedelta(seconds=250))
    assert manifest.is_stale(["t260"], START + timedelta(seconds=250))


async def test_a_tag_invalidated_again_is_kept_by_its_newest_time(clock: ManualClock) -> None:
    """Re-invalidating moves a tag to the newest end: it outlives its first time's horizon."""
    manifest = MemoryTagManifest(clock, retain_s=100)
    await manifest.invalidate(tags("a", "b"), reason="first")
    clock.advance(90)
    await manifest.invalidate(tags("a"), reason="again")
    clock.advance(20)
    await manifest.invalidate(tags("c"), reason="later")
    assert manifest.invalidated_at("a") == START + timedelta(seconds=90)
    assert manifest.invalidated_at("b") is None
