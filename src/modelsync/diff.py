"""PURE: the previous catalog of a gateway and its new snapshot -> what differs.

Linear in the size of both: one dictionary lookup and one tuple comparison per model (the
compared values of :meth:`Model.values` against those the stored entry kept), and the flat
field-by-field diff only for a model that differs. An entry the runner knows to be unchanged
(its raw bytes hash as last time) is passed in ``unchanged`` and costs nothing. What the
differences *mean* (missing or removed, anomalies) is decided by :mod:`guard`.

A model whose gateway model id changed only in case or spacing upstream (``Llama-3`` became
``llama-3``) keeps its canonical id: such an added model and an absent one with the same canonical
id are paired as one *renamed* model (an update whose field diff includes ``gateway_model_id``),
never an addition plus a removal, and never two offers of one model from one gateway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field

from modelsync.domain import (
    COMPARED_FIELDS,
    CatalogEntry,
    FieldDiff,
    JSONValue,
    Model,
    Presence,
    extra_hash,
)


@dataclass(frozen=True, slots=True)
class ModelDiff:
    """A model present on both sides, with the fields that differ (possibly none)."""

    old: CatalogEntry
    new: Model
    fields: FieldDiff


@dataclass(slots=True)
class CatalogDiff:
    """The raw differences between a stored catalog and a snapshot."""

    added: list[Model] = field(default_factory=list)
    """Never stored before."""
    updated: list[ModelDiff] = field(default_factory=list)
    """Present (or missing) before, with at least one field changed."""
    returned: list[ModelDiff] = field(default_factory=list)
    """Missing on the last poll(s), back now; ``fields`` may be empty."""
    restored: list[ModelDiff] = field(default_factory=list)
    """Removed before, back now."""
    renamed: list[ModelDiff] = field(default_factory=list)
    """Present or missing before under another gateway model id with the same canonical id;
    ``fields`` starts with ``gateway_model_id``."""
    absent: list[CatalogEntry] = field(default_factory=list)
    """Present or missing before, not in this snapshot (and not renamed)."""
    unchanged: int = 0


def field_diff(old: Sequence[JSONValue], new: Sequence[JSONValue]) -> FieldDiff:
    """``{field: (old, new)}`` for every compared value that differs, in COMPARED_FIELDS order."""
    if old == new:
        return {}
    return {
        name: (before, after)
        for name, before, after in zip(COMPARED_FIELDS, old, new, strict=True)
        if before != after
    }


def diff_catalogs(
    previous: Mapping[str, CatalogEntry],
    current: Mapping[str, Model],
    unchanged: Set[str] = frozenset(),
) -> CatalogDiff:
    """Compare a stored catalog with a snapshot, both by gateway model id.

    ``unchanged`` holds the ids of the snapshot known to equal their present stored entry
    without a model object (the runner's memo): they count as unchanged, never as absent.
    """
    result = CatalogDiff(unchanged=len(unchanged))
    for model_id, model in current.items():
        entry = previous.get(model_id)
        if entry is None:
            result.added.append(model)
            continue
        changed = field_diff(entry.values, model.values())
        if entry.presence is Presence.REMOVED:
            result.restored.append(ModelDiff(entry, model, changed))
        elif entry.presence is Presence.MISSING:
            result.returned.append(ModelDiff(entry, model, changed))
        elif changed:
            result.updated.append(ModelDiff(entry, model, changed))
        else:
            result.unchanged += 1
    absent = [
        entry
        for model_id, entry in previous.items()
        if entry.presence is not Presence.REMOVED
        and model_id not in current
        and model_id not in unchanged
    ]
    if result.added and absent:
        _pair_renames(result, absent)
    else:
        result.absent = absent
    return result


def _pair_renames(result: CatalogDiff, absent: list[CatalogEntry]) -> None:
    """Pair added models with absent entries of the same canonical id, one to one.

    Where a canonical id has several on a side, ids equal once case and spacing are folded pair
    first; the rest pair only when exactly one is left on each side.
    """
    gone: dict[str, list[CatalogEntry]] = {}
    for entry in absent:
        gone.setdefault(entry.id, []).append(entry)
    arrived: dict[str, list[Model]] = {}
    for model in result.added:
        if model.id in gone:
            arrived.setdefault(model.id, []).append(model)
    pairs: dict[int, CatalogEntry] = {}
    for canonical, models in arrived.items():
        entries = gone[canonical]
        for model in list(models):
            folded = _fold(model.gateway_model_id)
            match = next((e for e in entries if _fold(e.gateway_model_id) == folded), None)
            if match is not None:
                pairs[id(model)] = match
                entries.remove(match)
                models.remove(model)
        if len(models) == 1 and len(entries) == 1:
            pairs[id(models[0])] = entries.pop()
    paired = {entry.gateway_model_id for entry in pairs.values()}
    added = []
    for model in result.added:
        match = pairs.get(id(model))
        if match is None:
            added.append(model)
            continue
        fields: dict[str, tuple[JSONValue, JSONValue]] = {
            "gateway_model_id": (match.gateway_model_id, model.gateway_model_id)
        }
        fields.update(field_diff(match.values, model.values()))
        result.renamed.append(ModelDiff(match, model, fields))
    result.added = added
    result.absent = [entry for entry in absent if entry.gateway_model_id not in paired]


def _fold(model_id: str) -> str:
    """The id with case and whitespace folded away (what "the same id" means for a rename)."""
    return "".join(model_id.split()).casefold()


def stale_extras(previous: Mapping[str, CatalogEntry], current: Mapping[str, Model]) -> list[Model]:
    """Present models whose compared fields are unchanged but whose ``extra`` moved on.

    ``extra`` is never compared (several gateways stamp volatile values into it), so a poll
    does not rewrite these models; the daily full resync refreshes them with this list.
    """
    stale = []
    for model_id, model in current.items():
        entry = previous.get(model_id)
        if entry is None or entry.presence is not Presence.PRESENT:
            continue
        if entry.values == model.values() and entry.extra_hash != extra_hash(model.extra):
            stale.append(model)
    return stale
