"""PURE: what the change feed fans out, one :class:`FeedBatch` per catch-up, and its JSON events.

A batch holds, in the order they were committed, the new changes of the log (each a
:class:`~modelsync.domain.ChangeRecord`: ``seq``, kind, gateway, canonical id, fields, catalog
version), the gateways whose stored models were marked ``missing`` by an applied run
(:class:`MissingMarks`), and the gateways whose health changed (:class:`HealthChange`: ok ->
degraded -> failing, the breaker opened or closed, recovered). :meth:`FeedBatch.invalidation` is
the tags and paths of DESIGN section 7 for all of it; :meth:`FeedBatch.events` the JSON events
the live stream sends.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from modelsync.cache.tags import (
    CHANGES,
    NOTHING,
    SYNC_STATUS,
    Invalidation,
    for_changes,
    for_gateway_status,
    models_changed,
    union,
)
from modelsync.domain import ChangeKind, ChangeRecord, GatewayHealth


@dataclass(frozen=True, slots=True)
class Health:
    """A gateway's health as the feed compares it: the status and whether its breaker is open."""

    status: GatewayHealth
    breaker_open: bool

    @property
    def breaker(self) -> str:
        return "open" if self.breaker_open else "closed"


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A gateway's health moved from ``previous`` to ``current``."""

    gateway: str
    previous: Health
    current: Health

    def to_json(self, catalog_version: int) -> dict[str, Any]:
        return {
            "type": "health",
            "gateway": self.gateway,
            "status": self.current.status.value,
            "breaker": self.current.breaker,
            "previous_status": self.previous.status.value,
            "previous_breaker": self.previous.breaker,
            "catalog_version": catalog_version,
        }


def health_changes(before: dict[str, Health], after: dict[str, Health]) -> tuple[HealthChange, ...]:
    """Gateways known before and after whose health differs (new gateways are not a change)."""
    return tuple(
        HealthChange(name, before[name], health)
        for name, health in sorted(after.items())
        if name in before and before[name] != health
    )


@dataclass(frozen=True, slots=True)
class MissingMarks:
    """An applied run (``catalog_version``) marked models of ``gateway`` missing; ``ids`` are the
    canonical ids of every model of the gateway missing at the time the feed read it (a superset
    of the run's marks when several runs were read at once: invalidating more is harmless)."""

    gateway: str
    ids: tuple[str, ...]
    catalog_version: int

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "missing",
            "gateway": self.gateway,
            "ids": list(self.ids),
            "catalog_version": self.catalog_version,
        }


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """Everything new since the previous batch; ``catalog_version`` is the version applied after
    it (the process's applied version from then on)."""

    catalog_version: int
    changes: tuple[ChangeRecord, ...] = ()
    missing: tuple[MissingMarks, ...] = ()
    health: tuple[HealthChange, ...] = ()
    pruned: bool = False
    """Retention pruned the oldest changes of the log since the previous batch (whoever ran
    it): the change history's answers change."""

    @property
    def is_empty(self) -> bool:
        return not (self.changes or self.missing or self.health or self.pruned)

    @property
    def versions(self) -> frozenset[int]:
        """The catalog versions of its changes and missing marks (the runs it carries)."""
        found = {record.catalog_version for record in self.changes}
        found.update(marks.catalog_version for marks in self.missing)
        return frozenset(found)

    def only(self, versions: frozenset[int], *, rest: bool) -> FeedBatch:
        """PURE: the part of this batch made by the runs of ``versions`` (``rest``: also its
        health changes and prune, which belong to no run)."""
        return FeedBatch(
            self.catalog_version,
            tuple(r for r in self.changes if r.catalog_version in versions),
            tuple(m for m in self.missing if m.catalog_version in versions),
            self.health if rest else (),
            self.pruned and rest,
        )

    @property
    def last_seq(self) -> int | None:
        return self.changes[-1].seq if self.changes else None

    def invalidation(self) -> Invalidation:
        """The tags and paths (DESIGN section 7) of every change, missing mark and health change."""
        by_gateway: dict[str, list[ChangeRecord]] = defaultdict(list)
        for record in self.changes:
            by_gateway[record.change.gateway].append(record)
        parts: list[Invalidation] = [NOTHING]
        for gateway, records in by_gateway.items():
            parts.append(for_changes(gateway, _kind_ids(records)))
        parts.extend(models_changed(m.gateway, m.ids, listing=False) for m in self.missing)
        parts.extend(for_gateway_status(h.gateway) for h in self.health)
        if self.changes or self.pruned:  # the change history (whoever recorded or pruned it)
            parts.append(Invalidation(frozenset({CHANGES}), frozenset({"/changes"})))
        if self.changes or self.missing or self.health:  # a run moved the status
            parts.append(Invalidation(frozenset({SYNC_STATUS}), frozenset({"/status"})))
        return union(parts)

    def events(self) -> list[dict[str, Any]]:
        """The JSON events of the live stream: changes (by seq), then missing marks, then health."""
        events = [change_event(record) for record in self.changes]
        events.extend(marks.to_json() for marks in self.missing)
        events.extend(h.to_json(self.catalog_version) for h in self.health)
        return events


def _kind_ids(records: list[ChangeRecord]) -> list[tuple[ChangeKind | str, str]]:
    """``(kind, canonical id)`` of each change; a renamed model's old id as well (as
    :func:`~modelsync.cache.tags.for_plan` does for the run that made it)."""
    pairs: list[tuple[ChangeKind | str, str]] = []
    for record in records:
        change = record.change
        pairs.append((change.kind, change.id))
        renamed = change.fields.get("id")
        if renamed is not None and isinstance(renamed[0], str):
            pairs.append((change.kind, renamed[0]))
    return pairs


def change_event(record: ChangeRecord) -> dict[str, Any]:
    """A change as the stream sends it: :meth:`ChangeRecord.to_json` with ``type: change``."""
    return {"type": "change", **record.to_json()}


def matches(event: dict[str, Any], *, gateway: str | None, model: str | None) -> bool:
    """Whether an event passes the stream's ``?gateway=&model=`` filters."""
    if gateway is not None and event.get("gateway") != gateway:
        return False
    if model is None:
        return True
    if event["type"] == "change":
        return bool(event.get("id") == model)
    if event["type"] == "missing":
        return model in event.get("ids", ())
    return True  # a gateway's health concerns every model it offers
