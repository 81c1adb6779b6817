"""PURE cache-tag rules (DESIGN section 7): what happened -> which tags and page paths to drop.

The vocabulary is the front end's, so one :class:`Invalidation` speaks to every layer:

==========================  =====================================================
``models:all``              every list of models
``models:gateway:{g}``      that gateway's lists and pages (model pages carry the
                            tag of every gateway that offers the model)
``model:{id}``              one model's page and JSON (canonical id)
``models:search``           search results
``rankings``                rankings and "new models" views
``changes``                 the change history (``/api/changes``, ``/changes``)
``sync:status``             the sync status (``/api/sync/status``, ``/status``)
==========================  =====================================================

The last two are the service's own: every run that records changes drops ``changes``, and every
run, health change or webhook drops ``sync:status``.

Every changed model is invalidated, however many; batching is the purgers' business.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from modelsync.domain import ChangeKind, SyncPlan

MODELS_ALL = "models:all"
MODELS_SEARCH = "models:search"
RANKINGS = "rankings"
CHANGES = "changes"
SYNC_STATUS = "sync:status"
LISTING_KINDS = frozenset({ChangeKind.ADDED, ChangeKind.REMOVED, ChangeKind.RESTORED})
"""Kinds that change which models exist, so every list and the rankings change too."""
_KINDS = frozenset(ChangeKind)


def gateway_tag(gateway: str) -> str:
    """``models:gateway:{gateway}``."""
    return f"models:gateway:{gateway}"


def model_tag(model_id: str) -> str:
    """``model:{id}`` for a canonical model id."""
    return f"model:{model_id}"


@dataclass(frozen=True, slots=True)
class Invalidation:
    """Tags and page paths to invalidate; combine with ``|``."""

    tags: frozenset[str] = frozenset()
    paths: frozenset[str] = frozenset()

    def __or__(self, other: Invalidation) -> Invalidation:
        return Invalidation(self.tags | other.tags, self.paths | other.paths)

    @property
    def is_empty(self) -> bool:
        """Nothing to invalidate."""
        return not (self.tags or self.paths)

    def to_json(self) -> dict[str, list[str]]:
        """Sorted lists, for answers and logs."""
        return {"tags": sorted(self.tags), "paths": sorted(self.paths)}


NOTHING = Invalidation()


def union(invalidations: Iterable[Invalidation]) -> Invalidation:
    """Everything any of them invalidates (the one itself when there is one)."""
    items = list(invalidations)
    if len(items) == 1:
        return items[0]
    tags: set[str] = set()
    paths: set[str] = set()
    for item in items:
        tags |= item.tags
        paths |= item.paths
    return Invalidation(frozenset(tags), frozenset(paths))


def for_changes(gateway: str, changes: Iterable[tuple[ChangeKind | str, str]]) -> Invalidation:
    """Changed models of one gateway, as ``(kind, canonical id)`` pairs.

    Updates drop the gateway's pages, each model's page and search; an addition, removal or
    restoration also drops every list (``models:all``, ``/models``, ``/``) and the rankings.
    No changes, nothing to drop. An unknown kind is a ValueError.
    """
    ids: list[str] = []
    listing = False
    for kind, model_id in changes:
        if kind == ChangeKind.QUARANTINED:  # the model is served as it was: nothing to drop
            continue
        ids.append(model_id)
        if kind in LISTING_KINDS:
            listing = True
        elif kind not in _KINDS:
            raise ValueError(f"unknown change kind {kind!r}")
    return models_changed(gateway, ids, listing=listing)


def models_changed(gateway: str, model_ids: Collection[str], *, listing: bool) -> Invalidation:
    """The models rule for ids of one kind: ``listing`` for additions, removals, restorations."""
    if not model_ids:
        return NOTHING
    tags = {"model:" + model_id for model_id in model_ids}
    tags.update((gateway_tag(gateway), MODELS_SEARCH))
    paths = {"/models/" + model_id for model_id in model_ids}
    paths.add(f"/gateways/{gateway}")
    if listing:
        tags.update((MODELS_ALL, RANKINGS))
        paths.update(("/models", "/"))
    return Invalidation(frozenset(tags), frozenset(paths))


def for_plan(plan: SyncPlan) -> Invalidation:
    """An applied sync plan's changes; a renamed model's old id is dropped as well as its new."""
    pairs: list[tuple[ChangeKind | str, str]] = []
    for change in plan.changes:
        pairs.append((change.kind, change.id))
        renamed = change.fields.get("id")
        if renamed is not None and isinstance(renamed[0], str):
            pairs.append((change.kind, renamed[0]))
    return for_changes(plan.gateway, pairs)


def for_run(plan: SyncPlan, presence_changed: Collection[str] = ()) -> Invalidation:
    """An applied run: its plan's changes (:func:`for_plan`), the models whose served status it
    changed without a change record (marked missing, back from missing), the change history
    when it recorded changes, and the status (every run moves it)."""
    invalidation = for_plan(plan) | models_changed(plan.gateway, presence_changed, listing=False)
    if plan.changes:
        return invalidation | Invalidation(
            frozenset({SYNC_STATUS, CHANGES}), frozenset({"/status", "/changes"})
        )
    return invalidation | for_sync_status()


def for_sync_status(gateway: str | None = None) -> Invalidation:
    """A run started or ended, a webhook arrived: the status answers and page."""
    del gateway  # one tag for every status answer: they all show every running gateway
    return Invalidation(frozenset({SYNC_STATUS}), frozenset({"/status"}))


def list_tags(gateways: Iterable[str], *, search: bool) -> frozenset[str]:
    """The tags of a list of models drawn from ``gateways`` (search results also carry
    ``models:search``): any change of any of them drops the list."""
    tags = {MODELS_ALL, *(gateway_tag(name) for name in gateways)}
    if search:
        tags.add(MODELS_SEARCH)
    return frozenset(tags)


def model_tags(model_id: str, gateways: Iterable[str]) -> frozenset[str]:
    """A model's page and JSON: ``model:{id}`` and the tag of every gateway offering it."""
    return frozenset({model_tag(model_id), *(gateway_tag(name) for name in gateways)})


def changes_tags(gateway: str | None = None, model_id: str | None = None) -> frozenset[str]:
    """A page of the change history (filtered by gateway or model: their tags as well)."""
    tags = {CHANGES}
    if gateway is not None:
        tags.add(gateway_tag(gateway))
    if model_id is not None:
        tags.add(model_tag(model_id))
    return frozenset(tags)


def for_gateway_status(gateway: str) -> Invalidation:
    """A gateway's status changed: every list, search, rankings and the status page."""
    return Invalidation(
        frozenset({MODELS_ALL, MODELS_SEARCH, RANKINGS, gateway_tag(gateway)}),
        frozenset({"/models", f"/gateways/{gateway}", "/status", "/"}),
    )


def for_rankings() -> Invalidation:
    """Rankings were recomputed."""
    return Invalidation(frozenset({RANKINGS}), frozenset({"/rankings"}))


_EVENT_LISTING = {"models.added": True, "models.updated": False, "models.removed": True}
"""Webhook event type -> whether it changes which models exist."""


def for_webhook_event(gateway: str, event_type: str, model_ids: Collection[str]) -> Invalidation:
    """A webhook event (a signed hint): the rule of the change it announces.

    ``gateway.status_changed`` drops the status rule's tags, and the pages of any model it names.
    An unknown event type is a ValueError.
    """
    if event_type == "gateway.status_changed":
        named = models_changed(gateway, model_ids, listing=False)
        return for_gateway_status(gateway) | named
    listing = _EVENT_LISTING.get(event_type)
    if listing is None:
        raise ValueError(f"unknown event type {event_type!r}")
    return models_changed(gateway, model_ids, listing=listing)


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")]
ModelId = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^\S+$")]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^\S+$")]
PagePath = Annotated[str, StringConstraints(max_length=2048, pattern=r"^/\S*$")]


class InvalidateRequest(BaseModel):
    """The body of ``POST /api/cache/invalidate`` (DESIGN section 9), validated.

    Either ``{"type", "gateway"?, "model_id"?}`` (``modelId`` accepted, as the seed front end
    sends it) or ``{"tags": [...], "paths": [...]}``, not both. ``model-detail`` needs a
    ``model_id``; ``rankings``, ``search`` and ``all`` take neither a gateway nor a model id;
    ``models`` takes no model id. A violation is a ``ValidationError`` (FastAPI answers 422).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["models", "model-detail", "rankings", "search", "all"] | None = None
    gateway: Slug | None = None
    model_id: ModelId | None = Field(None, validation_alias=AliasChoices("model_id", "modelId"))
    tags: list[Tag] = Field(default_factory=list, max_length=10_000)
    paths: list[PagePath] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Enforce the field combinations each form and type allows."""
        explicit = bool(self.tags or self.paths)
        if self.type is None:
            if not explicit:
                raise ValueError("give a type, or a non-empty list of tags or paths")
            if self.gateway is not None or self.model_id is not None:
                raise ValueError("gateway and model_id go with a type, not with tags/paths")
            return self
        if explicit:
            raise ValueError("give either a type or tags/paths, not both")
        if self.type == "model-detail" and self.model_id is None:
            raise ValueError("type model-detail needs a model_id")
        if self.type != "model-detail" and self.model_id is not None:
            raise ValueError(f"type {self.type} takes no model_id")
        if self.type in ("rankings", "search", "all") and self.gateway is not None:
            raise ValueError(f"type {self.type} takes no gateway")
        return self

    def invalidation(self, gateways: Collection[str] = ()) -> Invalidation:
        """What this request invalidates; ``gateways`` are every known name (used by ``all``)."""
        if self.type is None:
            return Invalidation(frozenset(self.tags), frozenset(self.paths))
        if self.type == "rankings":
            return for_rankings()
        tags: set[str] = set()
        paths: set[str] = set()
        if self.gateway is not None:
            tags.add(gateway_tag(self.gateway))
            paths.add(f"/gateways/{self.gateway}")
        if self.type == "models":
            tags.add(MODELS_ALL)
            paths.add("/models")
        elif self.type == "model-detail" and self.model_id is not None:
            tags.add(model_tag(self.model_id))
            paths.add(f"/models/{self.model_id}")
        elif self.type == "search":
            tags.add(MODELS_SEARCH)
        elif self.type == "all":
            tags.update((MODELS_ALL, MODELS_SEARCH, RANKINGS))
            tags.update(gateway_tag(name) for name in gateways)
            paths.update(("/", "/models", "/rankings", "/status", "/changes"))
            paths.update(f"/gateways/{name}" for name in gateways)
        return Invalidation(frozenset(tags), frozenset(paths))
