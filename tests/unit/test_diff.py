"""The pure diff: added, updated with field diffs, returned, restored, absent."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from modelsync.diff import diff_catalogs, field_diff, stale_extras
from modelsync.domain import CatalogEntry, Model, Presence, Pricing


def m(model_id: str, prompt: str | None = "1", name: str | None = None, **kw: object) -> Model:
    return Model(
        gateway="g",
        gateway_model_id=model_id,
        id=f"acme/{model_id}",
        name=name or model_id,
        pricing=Pricing(prompt=Decimal(prompt) if prompt is not None else None),
        **kw,  # type: ignore[arg-type]
    )


def entries(*models: Model, presence: Presence = Presence.PRESENT) -> dict[str, CatalogEntry]:
    return {model.gateway_model_id: CatalogEntry.of(model, presence) for model in models}


def test_field_diff_names_old_and_new_values() -> None:
    """Only differing fields appear, as (old, new) in the flat vocabulary."""
    fields = field_diff(m("a").values(), m("a", prompt="2", name="A").values())
    assert fields == {"name": ("a", "A"), "pricing.prompt": ("1", "2")}


def test_field_diff_equal_is_empty() -> None:
    """Equal fields, even on different objects, give no diff."""
    assert field_diff(m("a").values(), m("a").values()) == {}


def test_lists_compare_as_sorted_sets() -> None:
    """Modalities are compared in their normalized (sorted) order."""
    old = m("a", input_modalities=("image", "text"))
    new = m("a", input_modalities=("image", "text"))
    assert field_diff(old.values(), new.values()) == {}


def test_every_kind_at_once() -> None:
    """One snapshot can add, update, keep, bring back, restore and drop models."""
    previous = {
        **entries(m("kept"), m("priced"), m("gone")),
        **entries(m("back", prompt="1"), presence=Presence.MISSING),
        **entries(m("reborn"), presence=Presence.REMOVED),
        **entries(m("dead"), presence=Presence.REMOVED),
    }
    current = {
        model.gateway_model_id: model
        for model in (m("kept"), m("priced", prompt="2"), m("back"), m("reborn"), m("new"))
    }
    result = diff_catalogs(previous, current)
    assert [model.gateway_model_id for model in result.added] == ["new"]
    assert [(d.new.gateway_model_id, dict(d.fields)) for d in result.updated] == [
        ("priced", {"pricing.prompt": ("1", "2")})
    ]
    assert [d.new.gateway_model_id for d in result.returned] == ["back"]
    assert [d.new.gateway_model_id for d in result.restored] == ["reborn"]
    assert [e.gateway_model_id for e in result.absent] == ["gone"]
    assert result.unchanged == 1


def test_known_unchanged_ids_need_no_model() -> None:
    """Ids the runner knows unchanged (same raw bytes) count as unchanged, never as absent."""
    result = diff_catalogs(entries(m("a"), m("b")), {"b": m("b", "2")}, unchanged={"a"})
    assert result.unchanged == 1
    assert result.added == []
    assert [d.new.gateway_model_id for d in result.updated] == ["b"]
    assert result.absent == []


def same(raw_id: str, canonical: str = "acme/llama-3", prompt: str = "1") -> Model:
    """A model whose canonical id is fixed, whatever its gateway model id."""
    return Model(
        gateway="g", gateway_model_id=raw_id, id=canonical, pricing=Pricing(Decimal(prompt))
    )


def test_an_id_whose_case_changed_is_one_rename() -> None:
    """``Llama-3`` becoming ``llama-3 `` (same canonical id) is renamed: not added and absent."""
    previous = entries(same("Acme/Llama-3"), m("other"))
    result = diff_catalogs(
        previous, {"acme/llama-3 ": same("acme/llama-3 ", prompt="2")}, {"other"}
    )
    assert (result.added, result.absent) == ([], [])
    [renamed] = result.renamed
    assert (renamed.old.gateway_model_id, renamed.new.gateway_model_id) == (
        "Acme/Llama-3",
        "acme/llama-3 ",
    )
    assert dict(renamed.fields) == {
        "gateway_model_id": ("Acme/Llama-3", "acme/llama-3 "),
        "pricing.prompt": ("1", "2"),
    }


def test_a_missing_model_can_be_renamed_too() -> None:
    """An entry missing since the last poll pairs with its renamed return."""
    previous = entries(same("Llama-3"), presence=Presence.MISSING)
    result = diff_catalogs(previous, {"llama-3": same("llama-3")})
    assert [d.new.gateway_model_id for d in result.renamed] == ["llama-3"]


def test_renames_pair_one_to_one_preferring_the_folded_id() -> None:
    """Two new ids for one canonical id: the one equal under case folding is the rename."""
    previous = entries(same("Llama-3"))
    current = {"LLAMA-3": same("LLAMA-3"), "llama_3": same("llama_3")}
    result = diff_catalogs(previous, current)
    assert [d.new.gateway_model_id for d in result.renamed] == ["LLAMA-3"]
    assert [model.gateway_model_id for model in result.added] == ["llama_3"]
    ambiguous = diff_catalogs(entries(same("x"), same("y")), {"z": same("z")})
    assert (len(ambiguous.renamed), len(ambiguous.added), len(ambiguous.absent)) == (0, 1, 2)


def test_different_canonical_ids_never_pair() -> None:
    """A removal and an addition of different models stay what they are."""
    result = diff_catalogs(entries(same("a", "acme/a")), {"b": same("b", "acme/b")})
    assert (len(result.renamed), len(result.added), len(result.absent)) == (0, 1, 1)


def test_extra_is_never_compared() -> None:
    """A volatile field kept in extra (created) never makes an update."""
    result = diff_catalogs(
        entries(m("a", extra={"created": 1})), {"a": m("a", extra={"created": 2})}
    )
    assert result.unchanged == 1


def test_empty_previous_adds_everything() -> None:
    """The first poll of a gateway adds every model."""
    result = diff_catalogs({}, {"a": m("a"), "b": m("b")})
    assert len(result.added) == 2


@given(
    st.dictionaries(st.sampled_from("abcdefgh"), st.sampled_from(["1", "2", "3"]), max_size=8),
    st.dictionaries(st.sampled_from("abcdefgh"), st.sampled_from(["1", "2", "3"]), max_size=8),
)
def test_partition_property(old: dict[str, str], new: dict[str, str]) -> None:
    """Every id lands in exactly one bucket, and updates are exactly the price changes."""
    result = diff_catalogs(
        entries(*(m(k, v) for k, v in old.items())), {k: m(k, v) for k, v in new.items()}
    )
    added = {model.gateway_model_id for model in result.added}
    updated = {d.new.gateway_model_id for d in result.updated}
    absent = {e.gateway_model_id for e in result.absent}
    assert added == new.keys() - old.keys()
    assert absent == old.keys() - new.keys()
    assert updated == {k for k in old.keys() & new.keys() if old[k] != new[k]}
    assert result.unchanged == len(old.keys() & new.keys()) - len(updated)


def test_stale_extras_are_present_models_whose_extra_alone_moved() -> None:
    """Only present, otherwise-equal models with a different extra need a refresh."""
    kept = m("kept", extra={"created": 1})
    previous = {
        **entries(m("moved", extra={"created": 1}), kept, m("priced", extra={"a": 1})),
        **entries(m("away", extra={"created": 1}), presence=Presence.MISSING),
    }
    current = {
        "moved": m("moved", extra={"created": 2}),
        "kept": kept,
        "priced": m("priced", "2", extra={"a": 2}),
        "away": m("away", extra={"created": 2}),
        "new": m("new", extra={"created": 2}),
    }
    assert [model.gateway_model_id for model in stale_extras(previous, current)] == ["moved"]
