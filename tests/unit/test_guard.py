"""The guard: snapshot rejection, removal hysteresis, anomaly flags."""

from __future__ import annotations

from decimal import Decimal

import pytest

from modelsync.diff import diff_catalogs
from modelsync.domain import CatalogEntry, ChangeKind, Model, Presence, Pricing
from modelsync.errors import SnapshotRejected
from modelsync.guard import GuardPolicy, anomalies, check_count, check_snapshot, plan_sync

POLICY = GuardPolicy()


def m(model_id: str, prompt: str | None = "1", context: int | None = 1000) -> Model:
    return Model(
        gateway="g",
        gateway_model_id=model_id,
        id=f"acme/{model_id}",
        context_length=context,
        pricing=Pricing(prompt=Decimal(prompt) if prompt is not None else None),
    )


@pytest.mark.parametrize(
    ("count", "duplicates", "last_good", "error"),
    [
        (0, [], 0, "empty model list"),
        (0, [], 10, "empty model list"),
        (2, ["a"], 0, "duplicate model ids in one response (1): a"),
        (1, ["a", "a"], 0, "duplicate model ids in one response (2): a"),
        (4, [], 10, "shrank from 10 to 4 models"),
        (100_001, [], 0, "more than 100,000 models in one snapshot"),
    ],
)
def test_rejected_snapshots(count: int, duplicates: list[str], last_good: int, error: str) -> None:
    """Empty, duplicated, oversized or shrunk snapshots are refused with a reason."""
    with pytest.raises(SnapshotRejected, match=error.replace("(", r"\(").replace(")", r"\)")):
        check_snapshot(count, duplicates=duplicates, last_good_count=last_good, policy=POLICY)


def test_count_bound_is_configurable() -> None:
    """``max_models`` is the limit: at it passes, one over is refused at once."""
    policy = GuardPolicy(max_models=3)
    check_count(3, policy)
    with pytest.raises(SnapshotRejected, match=r"more than 3 models .*MAX_MODELS"):
        check_count(4, policy)


@pytest.mark.parametrize(
    ("count", "last_good", "max_shrink"),
    [(5, 10, 0.5), (10, 10, 0.5), (20, 10, 0.5), (1, 0, 0.5), (8, 10, 0.2), (1, 100, 1.0)],
)
def test_accepted_snapshots(count: int, last_good: int, max_shrink: float) -> None:
    """A shrink up to the limit, growth, and a first snapshot pass."""
    policy = GuardPolicy(max_shrink=max_shrink)
    assert check_snapshot(count, last_good_count=last_good, policy=policy) == count


@pytest.mark.parametrize(
    ("fields", "codes"),
    [
        ({"pricing.prompt": ("1", "10")}, ("price_x10:pricing.prompt",)),
        ({"pricing.prompt": ("1", "9.99")}, ()),
        ({"pricing.completion": ("10", "1")}, ("price_x10:pricing.completion",)),
        ({"pricing.prompt": ("0", "1")}, ("price_zero_crossing:pricing.prompt",)),
        ({"pricing.prompt": ("2", "0")}, ("price_zero_crossing:pricing.prompt",)),
        ({"pricing.prompt": (None, "5")}, ()),
        ({"pricing.prompt": ("5", None)}, ()),
        ({"context_length": (128000, 32000)}, ("context_shrank:context_length",)),
        ({"context_length": (32000, 128000)}, ()),
        ({"context_length": (None, 1000)}, ()),
        ({"name": ("a", "b")}, ()),
    ],
)
def test_anomalies(fields: dict[str, tuple[object, object]], codes: tuple[str, ...]) -> None:
    """Price jumps of x10 either way, zero crossings and context shrinks are flagged."""
    assert anomalies(fields, POLICY) == codes  # type: ignore[arg-type]


def previous(*items: tuple[Model, Presence, int]) -> dict[str, CatalogEntry]:
    return {model.gateway_model_id: CatalogEntry.of(model, p, n) for model, p, n in items}


def test_first_miss_marks_missing_second_removes() -> None:
    """Removal needs two consecutive misses by default."""
    first = plan_sync(
        "g",
        diff_catalogs(previous((m("a"), Presence.PRESENT, 0)), {}),
        total_models=0,
        policy=POLICY,
    )
    assert [c.kind for c in first.changes] == []
    assert [(mark.gateway_model_id, mark.miss_count) for mark in first.missing] == [("a", 1)]
    second = plan_sync(
        "g",
        diff_catalogs(previous((m("a"), Presence.MISSING, 1)), {}),
        total_models=0,
        policy=POLICY,
    )
    assert [c.kind for c in second.changes] == [ChangeKind.REMOVED]
    assert second.removed == ("a",)


def test_removal_after_one_miss_when_configured() -> None:
    """removal_misses=1 removes at once."""
    plan = plan_sync(
        "g",
        diff_catalogs(previous((m("a"), Presence.PRESENT, 0)), {}),
        total_models=0,
        policy=GuardPolicy(removal_misses=1),
    )
    assert plan.removed == ("a",)


def test_return_from_missing_is_silent_unless_changed() -> None:
    """A missing model that comes back is upserted; a change while away is an update."""
    prev = previous((m("a"), Presence.MISSING, 1), (m("b"), Presence.MISSING, 1))
    plan = plan_sync(
        "g", diff_catalogs(prev, {"a": m("a"), "b": m("b", "2")}), total_models=2, policy=POLICY
    )
    assert [(c.kind, c.gateway_model_id) for c in plan.changes] == [(ChangeKind.UPDATED, "b")]
    assert {u.gateway_model_id for u in plan.upserts} == {"a", "b"}


def test_restored_and_added_and_updated_records() -> None:
    """Restored, added (with initial values) and updated (with anomalies) records."""
    prev = previous((m("gone"), Presence.REMOVED, 2), (m("up"), Presence.PRESENT, 0))
    plan = plan_sync(
        "g",
        diff_catalogs(prev, {"gone": m("gone"), "up": m("up", "10", 10), "new": m("new", "3")}),
        total_models=3,
        policy=POLICY,
    )
    by_id = {c.gateway_model_id: c for c in plan.changes}
    assert by_id["gone"].kind is ChangeKind.RESTORED
    assert by_id["new"].kind is ChangeKind.ADDED
    assert by_id["new"].fields["pricing.prompt"] == (None, "3")
    assert by_id["up"].anomalies == ("context_shrank:context_length", "price_x10:pricing.prompt")
    assert plan.total_models == 3
    assert not plan.is_empty


def test_nothing_changed_is_an_empty_plan() -> None:
    """An identical snapshot plans nothing."""
    plan = plan_sync(
        "g",
        diff_catalogs(previous((m("a"), Presence.PRESENT, 0)), {"a": m("a")}),
        total_models=1,
        policy=POLICY,
    )
    assert plan.is_empty


def test_a_rename_is_one_update_with_the_row_moved() -> None:
    """A renamed gateway model id plans one UPDATED change and moves the stored row."""
    old = Model(gateway="g", gateway_model_id="Acme/Llama-3", id="acme/llama-3")
    new = Model(gateway="g", gateway_model_id="acme/llama-3", id="acme/llama-3")
    prev = previous((old, Presence.PRESENT, 0))
    plan = plan_sync(
        "g", diff_catalogs(prev, {new.gateway_model_id: new}), total_models=1, policy=POLICY
    )
    assert [(c.kind, c.gateway_model_id, c.id) for c in plan.changes] == [
        (ChangeKind.UPDATED, "acme/llama-3", "acme/llama-3")
    ]
    assert plan.changes[0].fields == {"gateway_model_id": ("Acme/Llama-3", "acme/llama-3")}
    assert plan.renamed == (("Acme/Llama-3", "acme/llama-3"),)
    assert [u.gateway_model_id for u in plan.upserts] == ["acme/llama-3"]
    assert (plan.missing, plan.removed) == ((), ())
