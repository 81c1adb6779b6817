"""PURE: a gateway's decoded pages -> its snapshot, checked entry by entry, normalized as needed.

One pass over the adapter's raw entries:

* each entry is serialized once (orjson) and hashed (XXH3-128); the bytes are checked
  (:func:`~modelsync.bounds.raw_entry_problem`: the id's length and characters, no NUL) and
  dropped, only the hash is kept;
* an entry whose hash equals the one its stored, present model was last normalized from is that
  model again: it is not normalized (``normalize`` is pure) and joins ``unchanged``;
* any other entry is normalized (the operator's identity overrides applied) and the model
  checked (:func:`~modelsync.bounds.model_problem`: numbers, ids and texts in bounds); one equal
  to its stored, present model joins ``unchanged`` too, so the snapshot keeps a model object only
  for what is new or changed (a full resync also compares ``extra``);
* the count is checked as it grows (``max_models``), then the snapshot as a whole (duplicates,
  empty, shrunk: :func:`~modelsync.guard.check_snapshot`).

A bad entry (out of bounds, malformed, without an id, or one whose normalizing raises) is
*quarantined* (issue 9 item 4): set aside with its reason in :attr:`Snapshot.quarantined`, the rest
of the snapshot read on. A quarantined entry of a stored model keeps that model as it was (it
joins ``unchanged``: never counted missing, never re-hashed, so the next run checks it again); a
new one is simply not added. Above ``max_quarantined`` of the entries the whole snapshot is
rejected (:class:`~modelsync.errors.SnapshotRejected`, naming the first bad entries), as is a
snapshot the guard refuses; never an internal error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import orjson
import xxhash

from modelsync.bounds import model_problem, raw_entry_problem, raw_id_problem, shown_id
from modelsync.domain import CatalogEntry, Model, Presence, extra_hash
from modelsync.errors import PayloadError, SnapshotRejected
from modelsync.gateways.base import GatewayAdapter, Page, Unreadable
from modelsync.guard import GuardPolicy, check_count, check_snapshot


@dataclass(slots=True)
class Snapshot:
    """What a listing holds, as the diff takes it."""

    models: dict[str, Model] = field(default_factory=dict)
    """The entries normalized this time (new, changed, or not known to be unchanged)."""
    unchanged: set[str] = field(default_factory=set)
    """Entries whose raw bytes hash as their stored, present model's: that model again."""
    raw_hashes: dict[str, int] = field(default_factory=dict)
    """Every valid entry's raw hash, by gateway model id (what the next run compares against)."""
    quarantined: dict[str, str] = field(default_factory=dict)
    """Entries set aside, by gateway model id (or, for one without a usable id, where it was:
    ``"<page 1: data[17]>"``, or the id escaped), with the reason."""
    kept: set[str] = field(default_factory=set)
    """The quarantined entries of stored models (kept as they were; also in ``unchanged``)."""

    @property
    def count(self) -> int:
        """The models the catalog holds after this snapshot: valid entries and kept ones."""
        return len(self.raw_hashes) + len(self.kept)


def too_many_bad(gateway: str, quarantined: Mapping[str, str], seen: int, share: float) -> str:
    """The reason a snapshot with too many quarantined entries is rejected, naming them."""
    named = "; ".join(f"{shown_id(key)}: {reason}" for key, reason in list(quarantined.items())[:3])
    more = f" (and {len(quarantined) - 3} more)" if len(quarantined) > 3 else ""
    return (
        f"{gateway}: {len(quarantined)} of {seen} entries are not valid, more than "
        f"{share:.0%} (MODELSYNC_GUARD__MAX_QUARANTINED): {named}{more}; the snapshot is "
        "rejected and the last good catalog kept"
    )


def read_snapshot(
    adapter: GatewayAdapter,
    pages: Sequence[Page],
    known: Mapping[str, CatalogEntry],
    *,
    last_good_count: int,
    policy: GuardPolicy,
    full: bool = False,
    overridden: Callable[[Model], Model] | None = None,
) -> Snapshot:
    """Check and normalize the entries of ``pages`` against ``known``, the stored catalog.

    ``full`` normalizes every entry and compares ``extra`` too (the daily full resync);
    ``overridden`` applies the operator's identity overrides to each normalized model.
    """
    gateway = adapter.gateway
    snapshot = Snapshot()
    models, unchanged, hashes = snapshot.models, snapshot.unchanged, snapshot.raw_hashes
    quarantined, kept = snapshot.quarantined, snapshot.kept
    duplicates: list[str] = []
    dumps, digest, present = orjson.dumps, xxhash.xxh3_128_intdigest, Presence.PRESENT

    def quarantine(raw_id: str, reason: str) -> None:
        if raw_id in known:
            kept.add(raw_id)
            unchanged.add(raw_id)  # its stored model stays as it was, never missing
            quarantined[raw_id] = reason
        else:
            key = raw_id if raw_id_problem(raw_id) is None else shown_id(raw_id)
            quarantined[key] = reason

    for raw_id, raw in adapter.entries(pages):
        if type(raw) is Unreadable:
            quarantined[raw_id] = raw.reason
            continue
        if raw_id in hashes or raw_id in kept or raw_id in quarantined:
            duplicates.append(raw_id)
            continue
        if len(hashes) + len(quarantined) >= policy.max_models:
            check_count(len(hashes) + len(quarantined) + 1, policy)
        key = dumps(raw)
        problem = raw_entry_problem(raw_id, key)
        if problem is not None:
            quarantine(raw_id, problem)
            continue
        hashed = digest(key)
        entry = known.get(raw_id)
        if entry is not None and entry.presence is not present:
            entry = None  # only a present model can be "the same again"
        if entry is not None and not full and entry.raw_hash == hashed:
            hashes[raw_id] = hashed
            unchanged.add(raw_id)
            continue
        model = checked_model(adapter, raw_id, raw, overridden)
        if not isinstance(model, Model):
            quarantine(raw_id, model)
            continue
        hashes[raw_id] = hashed
        if entry is not None and _same(entry, model, full=full):
            unchanged.add(raw_id)
            continue
        models[raw_id] = model
    if quarantined:
        seen = len(hashes) + len(quarantined)
        if len(quarantined) > policy.max_quarantined * seen:
            raise SnapshotRejected(too_many_bad(gateway, quarantined, seen, policy.max_quarantined))
    check_snapshot(
        snapshot.count, duplicates=duplicates, last_good_count=last_good_count, policy=policy
    )
    return snapshot


def checked_model(
    adapter: GatewayAdapter,
    raw_id: str,
    raw: object,
    overridden: Callable[[Model], Model] | None,
) -> Model | str:
    """The entry normalized (overrides applied) and within the bounds, or why it is not."""
    try:
        model = adapter.normalize(raw_id, raw)
        if overridden is not None:
            model = overridden(model)
    except PayloadError as error:
        return str(error).removeprefix(f"{adapter.gateway} model {raw_id!r}: ")
    except Exception as error:  # noqa: BLE001 - normalizing that fails any way is a bad entry
        return f"its normalization failed ({type(error).__name__})"
    problem = model_problem(model)
    return model if problem is None else problem


def _same(entry: CatalogEntry, model: Model, *, full: bool) -> bool:
    """The model equals its stored entry (compared values; and ``extra`` on a full resync)."""
    if entry.values != model.values():
        return False
    return not full or entry.extra_hash == extra_hash(model.extra)
