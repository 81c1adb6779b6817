"""PURE: what a snapshot is allowed to do to the catalog.

Three rules (DESIGN section 5):

* a snapshot that is empty, repeats a model id, holds more than ``max_models`` models, or shrinks
  by more than ``max_shrink`` of the last good one is *rejected*: nothing of it is applied
  (:func:`check_snapshot`, :func:`check_count`);
* a model leaves the catalog only after ``removal_misses`` consecutive polls without it: the first
  miss marks it ``missing``, the last one records ``removed`` (:func:`plan_sync`);
* a price that moves by ``price_jump_factor`` or more, or crosses zero, and a context length that
  shrinks are applied, but flagged in the change record (:func:`anomalies`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from modelsync.diff import CatalogDiff
from modelsync.domain import (
    COMPARED_FIELDS,
    CatalogEntry,
    ChangeKind,
    FieldDiff,
    JSONValue,
    MissMark,
    Model,
    ModelChange,
    SyncPlan,
)
from modelsync.errors import SnapshotRejected


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    max_shrink: float = 0.5
    removal_misses: int = 2
    price_jump_factor: int = 10
    max_models: int = 100_000
    """The most models one snapshot of one gateway may hold (``MODELSYNC_GUARD__MAX_MODELS``)."""
    max_quarantined: float = 0.05
    """The largest share of a snapshot's entries that may be quarantined before the whole
    snapshot is rejected (``MODELSYNC_GUARD__MAX_QUARANTINED``)."""


def check_count(count: int, policy: GuardPolicy) -> None:
    """Reject a snapshot as soon as it holds more than ``max_models`` models."""
    if count > policy.max_models:
        raise SnapshotRejected(
            f"more than {policy.max_models:,} models in one snapshot (the limit, "
            "MODELSYNC_GUARD__MAX_MODELS); keeping the last good catalog"
        )


def check_snapshot(
    count: int,
    *,
    duplicates: Sequence[str] = (),
    last_good_count: int,
    policy: GuardPolicy,
) -> int:
    """Reject a duplicated, empty, oversized or shrunk snapshot of ``count`` distinct models;
    return its size.

    ``duplicates`` are the ids seen more than once (each repeat once); ``last_good_count`` is the
    number of models the last applied snapshot had (0 when none).
    """
    if duplicates:
        shown = ", ".join(sorted(set(duplicates))[:5])
        raise SnapshotRejected(f"duplicate model ids in one response ({len(duplicates)}): {shown}")
    if count == 0:
        raise SnapshotRejected("empty model list")
    check_count(count, policy)
    floor = last_good_count * (1 - policy.max_shrink)
    if last_good_count and count < floor:
        raise SnapshotRejected(
            f"snapshot shrank from {last_good_count} to {count} models "
            f"(more than {policy.max_shrink:.0%}); keeping the last good catalog"
        )
    return count


def _decimal(value: JSONValue) -> Decimal | None:
    return Decimal(value) if isinstance(value, str) else None


def anomalies(fields: FieldDiff, policy: GuardPolicy) -> tuple[str, ...]:
    """Codes ``kind:field`` for suspicious moves in a field diff (applied, but flagged)."""
    found: list[str] = []
    factor = policy.price_jump_factor
    for name, (old_value, new_value) in fields.items():
        if name.startswith("pricing."):
            old, new = _decimal(old_value), _decimal(new_value)
            if old is None or new is None:
                continue
            if (old == 0) != (new == 0):
                found.append(f"price_zero_crossing:{name}")
            elif old > 0 and (new >= old * factor or new * factor <= old):
                found.append(f"price_x{factor}:{name}")
        elif (
            name == "context_length"
            and isinstance(old_value, int)
            and isinstance(new_value, int)
            and new_value < old_value
        ):
            found.append("context_shrank:context_length")
    return tuple(found)


_FIELD_INDEX = {name: index for index, name in enumerate(COMPARED_FIELDS)}


class AddedFields(Mapping[str, tuple[JSONValue, JSONValue]]):
    """The field diff of an added model, ``{field: (None, value)}`` for every compared field it
    sets, read from the model when asked (the model is in the plan's upserts anyway): a plan
    adding 50,000 models would otherwise hold 50,000 dicts of some fifteen pairs each, 1.7 KB a
    model at the peak of a sync (issue 12 item 2). Equal to the dict it stands for."""

    __slots__ = ("_model",)

    def __init__(self, model: Model) -> None:
        self._model = model

    def __getitem__(self, name: str) -> tuple[JSONValue, JSONValue]:
        index = _FIELD_INDEX.get(name)
        value = None if index is None else self._model.values()[index]
        if value is None or value == []:
            raise KeyError(name)
        return (None, value)

    def __iter__(self) -> Iterator[str]:
        for name, value in zip(COMPARED_FIELDS, self._model.values(), strict=True):
            if value is not None and value != []:
                yield name

    def __len__(self) -> int:
        return sum(1 for value in self._model.values() if value is not None and value != [])

    def __repr__(self) -> str:
        return repr(dict(self.items()))


def _change(kind: ChangeKind, model: Model, fields: FieldDiff, policy: GuardPolicy) -> ModelChange:
    return ModelChange(
        kind=kind,
        gateway=model.gateway,
        gateway_model_id=model.gateway_model_id,
        id=model.id,
        fields=fields,
        anomalies=anomalies(fields, policy) if kind is not ChangeKind.ADDED else (),
    )


def _removal(gateway: str, entry: CatalogEntry) -> ModelChange:
    return ModelChange(
        kind=ChangeKind.REMOVED,
        gateway=gateway,
        gateway_model_id=entry.gateway_model_id,
        id=entry.id,
    )


def plan_sync(
    gateway: str, diff: CatalogDiff, *, total_models: int, policy: GuardPolicy
) -> SyncPlan:
    """Turn raw differences into the writes and change records of one run."""
    changes: list[ModelChange] = []
    upserts: list[Model] = []
    for model in diff.added:
        changes.append(_change(ChangeKind.ADDED, model, AddedFields(model), policy))
        upserts.append(model)
    for pair in diff.updated:
        changes.append(_change(ChangeKind.UPDATED, pair.new, pair.fields, policy))
        upserts.append(pair.new)
    for pair in diff.returned:
        if pair.fields:
            changes.append(_change(ChangeKind.UPDATED, pair.new, pair.fields, policy))
        upserts.append(pair.new)
    for pair in diff.restored:
        changes.append(_change(ChangeKind.RESTORED, pair.new, pair.fields, policy))
        upserts.append(pair.new)
    renamed: list[tuple[str, str]] = []
    for pair in diff.renamed:
        changes.append(_change(ChangeKind.UPDATED, pair.new, pair.fields, policy))
        upserts.append(pair.new)
        renamed.append((pair.old.gateway_model_id, pair.new.gateway_model_id))

    missing: list[MissMark] = []
    removed: list[str] = []
    for entry in diff.absent:
        misses = entry.miss_count + 1
        if misses >= policy.removal_misses:
            changes.append(_removal(gateway, entry))
            removed.append(entry.gateway_model_id)
        else:
            missing.append(MissMark(entry.gateway_model_id, misses))
    return SyncPlan(
        gateway=gateway,
        changes=tuple(changes),
        upserts=tuple(upserts),
        missing=tuple(missing),
        removed=tuple(removed),
        total_models=total_models,
        renamed=tuple(renamed),
    )
