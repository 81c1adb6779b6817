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

A bad entry (out of bounds, malformed, or one whose normalizing raises) rejects the whole snapshot
with a reason that names the gateway and the entry (until per-entry quarantine sets single
entries aside): :class:`~modelsync.errors.SnapshotRejected`, never an internal error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import orjson
import xxhash

from modelsync.bounds import model_problem, raw_entry_problem, shown_id
from modelsync.domain import CatalogEntry, Model, Presence, extra_hash
from modelsync.errors import PayloadError, SnapshotRejected
from modelsync.gateways.base import GatewayAdapter, Page
from modelsync.guard import GuardPolicy, check_count, check_snapshot


@dataclass(slots=True)
class Snapshot:
    """What a listing holds, as the diff takes it."""

    models: dict[str, Model] = field(default_factory=dict)
    """The entries normalized this time (new, changed, or not known to be unchanged)."""
    unchanged: set[str] = field(default_factory=set)
    """Entries whose raw bytes hash as their stored, present model's: that model again."""
    raw_hashes: dict[str, int] = field(default_factory=dict)
    """Every entry's raw hash, by gateway model id (what the next run compares against)."""

    @property
    def count(self) -> int:
        return len(self.raw_hashes)


def bad_entry(gateway: str, raw_id: str, reason: str) -> SnapshotRejected:
    """The rejection of a snapshot for one bad entry, naming both."""
    return SnapshotRejected(
        f"{gateway} model {shown_id(raw_id)} is not valid: {reason}; the snapshot is rejected "
        "and the last good catalog kept"
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
    duplicates: list[str] = []
    dumps, digest, present = orjson.dumps, xxhash.xxh3_128_intdigest, Presence.PRESENT
    for raw_id, raw in adapter.entries(pages):
        if raw_id in hashes:
            duplicates.append(raw_id)
            continue
        key = dumps(raw)
        problem = raw_entry_problem(raw_id, key)
        if problem is not None:
            raise bad_entry(gateway, raw_id, problem)
        hashed = hashes[raw_id] = digest(key)
        if len(hashes) > policy.max_models:
            check_count(len(hashes), policy)
        entry = known.get(raw_id)
        if entry is not None and entry.presence is not present:
            entry = None  # only a present model can be "the same again"
        if entry is not None and not full and entry.raw_hash == hashed:
            unchanged.add(raw_id)
            continue
        try:
            model = adapter.normalize(raw_id, raw)
        except PayloadError as error:
            reason = str(error).removeprefix(f"{gateway} model {raw_id!r}: ")
            raise bad_entry(gateway, raw_id, reason) from None
        except Exception as error:  # normalizing any other way fails is a bad entry too
            raise bad_entry(gateway, raw_id, f"{type(error).__name__}: {error}") from error
        if overridden is not None:
            model = overridden(model)
        problem = model_problem(model)
        if problem is not None:
            raise bad_entry(gateway, raw_id, problem)
        if entry is not None and _same(entry, model, full=full):
            unchanged.add(raw_id)
            continue
        models[raw_id] = model
    check_snapshot(
        len(hashes), duplicates=duplicates, last_good_count=last_good_count, policy=policy
    )
    return snapshot


def _same(entry: CatalogEntry, model: Model, *, full: bool) -> bool:
    """The model equals its stored entry (compared values; and ``extra`` on a full resync)."""
    if entry.values != model.values():
        return False
    return not full or entry.extra_hash == extra_hash(model.extra)
