"""What keeps a big sync's peak memory down (issue 12 item 2), each the same values as before:
added models' field diffs read from the model, catalog entries sharing repeated values, and a
listing's entries let go of as they are read."""

from __future__ import annotations

from decimal import Decimal

import orjson

from modelsync.diff import diff_catalogs
from modelsync.domain import (
    CatalogEntry,
    ChangeKind,
    Model,
    Pricing,
    ValuePool,
)
from modelsync.gateways.base import Page, listed_entries, page_entries, releasing_entries
from modelsync.guard import AddedFields, GuardPolicy, plan_sync


def model(n: int, **overrides: object) -> Model:
    values: dict[str, object] = {
        "gateway": "g",
        "gateway_model_id": f"acme/m-{n}",
        "id": f"acme/m-{n}",
        "name": f"Model {n}",
        "context_length": 8192,
        "pricing": Pricing(prompt=Decimal("0.5")),
        "input_modalities": ("text", "image"),
        "output_modalities": ("text",),
        "supported_parameters": ("tools", "top_p"),
    }
    return Model(**(values | overrides))  # type: ignore[arg-type]


def plain_added_fields(added: Model) -> dict[str, object]:
    """The field diff of an added model as a dict (what AddedFields stands for)."""
    return {
        name: (None, value)
        for name, value in added.fields().items()
        if value is not None and value != []
    }


def test_added_fields_equal_the_dict_they_stand_for() -> None:
    """Every way of reading an added model's field diff gives the dict's answer."""
    added = model(1, description=None, supported_parameters=())
    fields = AddedFields(added)
    plain = plain_added_fields(added)
    assert fields == plain
    assert plain == fields
    assert dict(fields) == plain
    assert list(fields) == list(plain)
    assert len(fields) == len(plain)
    assert fields["context_length"] == (None, 8192)
    assert "description" not in fields  # None: not a field of the diff
    assert "supported_parameters" not in fields  # empty list: neither
    assert "no such field" not in fields
    assert fields.get("description") is None
    assert {**fields} == plain
    assert repr(fields) == repr(plain)
    assert orjson.dumps(dict(fields)) == orjson.dumps(plain)


def test_a_plan_of_added_models_records_their_fields() -> None:
    """plan_sync's ADDED changes carry the fields of the model they add."""
    models = {f"acme/m-{n}": model(n) for n in range(3)}
    plan = plan_sync("g", diff_catalogs({}, models), total_models=3, policy=GuardPolicy())
    assert [change.kind for change in plan.changes] == [ChangeKind.ADDED] * 3
    for change, added in zip(plan.changes, plan.upserts, strict=True):
        assert change.fields == plain_added_fields(added)
        assert change.anomalies == ()


def test_shared_entries_keep_their_values_and_share_repeated_ones() -> None:
    """Entries made through one pool are equal to what they were, and hold one copy of each
    repeated string or number."""
    pool: ValuePool = {}
    originals = [
        CatalogEntry.of(Model.from_json(orjson.loads(orjson.dumps(model(n).to_json()))))
        for n in range(3)
    ]
    shared = [entry.shared(pool) for entry in originals]
    assert shared == originals
    first, second = shared[0].values, shared[1].values
    index = next(i for i, value in enumerate(first) if value == ["text", "image"])
    assert first[index] is not second[index]  # the lists stay each entry's own
    assert all(a is b for a, b in zip(first[index], second[index], strict=True))  # type: ignore[arg-type]
    assert shared[0].gateway_model_id is shared[0].values[0]  # the same text, one string


def test_entries_are_let_go_of_as_they_are_read_only_when_asked() -> None:
    """Within releasing_entries a listed array's items are dropped once consumed; the consumer
    keeps what it holds. Outside it the document stays as it was."""
    items = [{"id": "a"}, {"id": "b"}, "not an object"]
    kept = []
    with releasing_entries():
        for model_id, raw in listed_entries(items, "page 1"):
            kept.append((model_id, raw))
    assert items == [None, None, None]
    assert [model_id for model_id, _ in kept] == ["a", "b", "<page 1[2]>"]
    assert kept[0][1] == {"id": "a"}

    document = {"data": [{"id": "a"}, {"id": "b"}]}
    assert [key for key, _ in page_entries("g", [Page(document)], "data")] == ["a", "b"]
    assert document == {"data": [{"id": "a"}, {"id": "b"}]}
