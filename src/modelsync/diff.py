"""PURE: the previous catalog of a gateway and its new snapshot -> what differs.

Linear in the size of both: one dictionary lookup and one value comparison per model (the
dataclass equality of the compared fields; ``Decimal("1.5") == Decimal("1.50")``), and the flat
field-by-field diff only for a model that differs. A model object the runner carried over from the
previous poll (``new is old.model``) costs one identity check. What the differences *mean*
(missing or removed, anomalies) is decided by :mod:`guard`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from modelsync.domain import COMPARED_FIELDS, CatalogEntry, FieldDiff, JSONValue, Model, Presence


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
    absent: list[CatalogEntry] = field(default_factory=list)
    """Present or missing before, not in this snapshot."""
    unchanged: int = 0


def field_diff(old: Mapping[str, JSONValue], new: Mapping[str, JSONValue]) -> FieldDiff:
    """``{field: (old, new)}`` for every compared field that differs, in COMPARED_FIELDS order."""
    if old == new:
        return {}
    return {
        name: (old.get(name), new.get(name))
        for name in COMPARED_FIELDS
        if old.get(name) != new.get(name)
    }


def diff_catalogs(
    previous: Mapping[str, CatalogEntry], current: Mapping[str, Model]
) -> CatalogDiff:
    """Compare a stored catalog (by gateway model id) with a snapshot (by gateway model id)."""
    result = CatalogDiff()
    unchanged = 0
    for model_id, model in current.items():
        entry = previous.get(model_id)
        if entry is None:
            result.added.append(model)
            continue
        old = entry.model
        same = model is old or model == old
        changed: FieldDiff = {} if same else field_diff(old.fields(), model.fields())
        if entry.presence is Presence.REMOVED:
            result.restored.append(ModelDiff(entry, model, changed))
        elif entry.presence is Presence.MISSING:
            result.returned.append(ModelDiff(entry, model, changed))
        elif changed:
            result.updated.append(ModelDiff(entry, model, changed))
        else:
            unchanged += 1
    result.unchanged = unchanged
    result.absent = [
        entry
        for model_id, entry in previous.items()
        if entry.presence is not Presence.REMOVED and model_id not in current
    ]
    return result


def stale_extras(previous: Mapping[str, CatalogEntry], current: Mapping[str, Model]) -> list[Model]:
    """Present models whose compared fields are unchanged but whose ``extra`` moved on.

    ``extra`` is never compared (several gateways stamp volatile values into it), so a poll
    does not rewrite these models; the daily full resync refreshes them with this list.
    """
    stale = []
    for model_id, model in current.items():
        entry = previous.get(model_id)
        if entry is None or entry.presence is not Presence.PRESENT or model is entry.model:
            continue
        if model == entry.model and model.extra != entry.model.extra:
            stale.append(model)
    return stale
