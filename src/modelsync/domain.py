"""Frozen value objects shared by every part of modelsync.

Nothing here does I/O. A :class:`Model` is one offer of one model on one gateway, normalized
(DESIGN section 3). Its *compared fields* are flattened once into :meth:`Model.fields`, a plain
``{name: json value}`` mapping with dotted names for pricing (``"pricing.prompt"``); the diff, the
content hash, the store and the change records all speak that flat vocabulary, so a field diff is
always ``{"pricing.prompt": ["0.5", "0.4"]}`` whatever the gateway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeAlias

import orjson
import xxhash

JSONValue: TypeAlias = bool | int | str | list[str] | None
"""The values a compared field takes once flattened (prices are decimal strings)."""


class Tier(StrEnum):
    """How often a gateway is polled by default (DESIGN section 4)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ModelStatus(StrEnum):
    """A model's status as served; ``missing`` and ``removed`` come from sync, never a gateway."""

    ACTIVE = "active"
    DEPRECATED = "deprecated"
    MISSING = "missing"
    REMOVED = "removed"


class Presence(StrEnum):
    """Whether the last polls saw a stored model (the removal hysteresis of DESIGN section 5)."""

    PRESENT = "present"
    MISSING = "missing"
    REMOVED = "removed"


class ChangeKind(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"
    RESTORED = "restored"
    QUARANTINED = "quarantined"
    """An entry failed validation and was set aside, its model kept as it was (issue 9)."""


class ChangeSource(StrEnum):
    """What recorded a change: the trigger of its run, or the identity migration."""

    POLL = "poll"
    WEBHOOK = "webhook"
    MANUAL = "manual"
    IDENTITY = "identity"
    """The identity rules (or their overrides) changed and the stored ids were migrated."""
    REFERENCE = "reference"
    """A reference price catalog (models.dev, LiteLLM) changed the prices of offers."""


class RunOutcome(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"
    REJECTED = "rejected"
    DISABLED = "disabled"


class GatewayHealth(StrEnum):
    PENDING = "pending"
    """Enabled, never synced yet: nothing to say about it."""
    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"
    DISABLED = "disabled"


def decimal_text(value: Decimal | None) -> str | None:
    """Canonical price text: no exponent, no trailing zeros (``Decimal("1.50")`` -> ``"1.5"``)."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


PRICE_FIELDS = (
    "prompt",
    "completion",
    "cache_read",
    "cache_write",
    "request",
    "image",
    "web_search",
    "internal_reasoning",
    "audio",
    "unit_price",
)
"""The prices of an offer, in the order they are compared and served."""

PER_1M_TOKENS = "usd_per_1m_tokens"
"""The unit of every per-token price field (the API's ``pricing.unit``)."""

PRICE_UNITS: Mapping[str, str] = {
    "prompt": PER_1M_TOKENS,
    "completion": PER_1M_TOKENS,
    "cache_read": PER_1M_TOKENS,
    "cache_write": PER_1M_TOKENS,
    "request": "usd_per_request",
    "image": "usd_per_image",
    "web_search": "usd_per_request",
    "internal_reasoning": PER_1M_TOKENS,
    "audio": PER_1M_TOKENS,
}
"""Each fixed-unit price field's unit; ``unit_price`` is in USD per :attr:`Pricing.per_unit`."""

GATEWAY_SOURCE = "gateway"
"""The source of a price the gateway's own API gave (else ``<catalog>@<fetched_at>``)."""


def unit_of(field_name: str, per_unit: str | None) -> str | None:
    """The unit of one price field (``unit_price``: ``usd_per_<per_unit>``, or None)."""
    if field_name == "unit_price":
        return f"usd_per_{per_unit}" if per_unit else None
    return PRICE_UNITS[field_name]


@dataclass(frozen=True, slots=True)
class Pricing:
    """An offer's prices; ``None`` = unknown, never 0.

    Token prices are USD per 1M tokens; ``request`` and ``web_search`` are per request,
    ``image`` per image (:data:`PRICE_UNITS`). A gateway that prices by another unit (fal: per
    image, per second, per megapixel) gives ``unit_price`` in USD per ``per_unit``. ``source``
    says where the prices came from: ``gateway``, or a reference catalog
    (``models.dev@<fetched_at>``); it is served, not compared.
    """

    prompt: Decimal | None = None
    completion: Decimal | None = None
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    request: Decimal | None = None
    image: Decimal | None = None
    web_search: Decimal | None = None
    internal_reasoning: Decimal | None = None
    audio: Decimal | None = None
    unit_price: Decimal | None = None
    per_unit: str | None = None
    source: str | None = field(default=None, compare=False)

    def as_text(self) -> dict[str, str | None]:
        """Each price as text, by field name."""
        return {name: decimal_text(getattr(self, name)) for name in PRICE_FIELDS}

    def to_json(self) -> dict[str, Any]:
        """The API's ``pricing`` object: each price as text, with its unit and source."""
        served: dict[str, Any] = dict(self.as_text())
        served["per_unit"] = self.per_unit
        served["unit"] = PER_1M_TOKENS
        served["units"] = {name: unit_of(name, self.per_unit) for name in PRICE_FIELDS}
        served["source"] = (
            self.source if self.source else (GATEWAY_SOURCE if self.any_price else None)
        )
        return served

    @property
    def any_price(self) -> bool:
        return any(getattr(self, name) is not None for name in PRICE_FIELDS)

    def compared(self) -> tuple[str | None, ...]:
        """The compared price values as text; a zero ``request`` counts as none (a gateway that
        drops ``"request": "0"`` changed nothing)."""
        request = self.request
        return (
            decimal_text(self.prompt),
            decimal_text(self.completion),
            decimal_text(self.cache_read),
            decimal_text(self.cache_write),
            None if request is None or request == 0 else decimal_text(request),
            decimal_text(self.image),
            decimal_text(self.web_search),
            decimal_text(self.internal_reasoning),
            decimal_text(self.audio),
            decimal_text(self.unit_price),
            self.per_unit,
        )


NO_PRICING = Pricing()

COMPARED_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "description",
    "provider_slug",
    "context_length",
    "max_output_tokens",
    *(f"pricing.{name}" for name in PRICE_FIELDS),
    "pricing.per_unit",
    "input_modalities",
    "output_modalities",
    "supported_parameters",
    "status",
    "deprecation_date",
)
"""Every field whose change is an update, in the order field diffs are reported."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    """One model as one gateway offers it, normalized (DESIGN section 3).

    ``status`` is what the gateway says (``active`` or ``deprecated``); whether the model was seen
    on the last polls lives beside it in :class:`CatalogEntry`. ``extra`` keeps the gateway's
    remaining fields: stored and served, never compared.
    """

    gateway: str
    gateway_model_id: str
    id: str
    name: str | None = None
    description: str | None = None
    provider_slug: str | None = None
    context_length: int | None = None
    max_output_tokens: int | None = None
    pricing: Pricing = NO_PRICING
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()
    supported_parameters: tuple[str, ...] = ()
    status: ModelStatus = ModelStatus.ACTIVE
    deprecation_date: str | None = None
    variants: tuple[str, ...] = field(default=(), compare=False)
    """How this gateway serves the model (``free``, ``turbo``, ``fp8``...): the offer's, not the
    model's. Derived from the gateway model id by the identity rules, so never compared."""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    _values: tuple[JSONValue, ...] | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    def values(self) -> tuple[JSONValue, ...]:
        """The compared fields' values, JSON-ready, in COMPARED_FIELDS order; computed once.

        This is what a stored catalog keeps of a model between runs (see :class:`CatalogEntry`):
        two models are the same offer exactly when their values are equal.
        """
        found = self._values
        if found is None:
            found = (
                self.id,
                self.name,
                self.description,
                self.provider_slug,
                self.context_length,
                self.max_output_tokens,
                *self.pricing.compared(),
                list(self.input_modalities),
                list(self.output_modalities),
                list(self.supported_parameters),
                self.status.value,
                self.deprecation_date,
            )
            object.__setattr__(self, "_values", found)
        return found

    def fields(self) -> dict[str, JSONValue]:
        """The compared fields, flat, by name (``{"pricing.prompt": "0.5", ...}``)."""
        return dict(zip(COMPARED_FIELDS, self.values(), strict=True))

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the compared fields."""
        return content_hash(self.fields())

    def to_json(self) -> dict[str, Any]:
        """The normalized model as the API serves it (prices as decimal strings)."""
        flat = self.fields()
        return {
            "gateway": self.gateway,
            "gateway_model_id": self.gateway_model_id,
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "provider_slug": self.provider_slug,
            "context_length": self.context_length,
            "max_output_tokens": self.max_output_tokens,
            "pricing": self.pricing.to_json(),
            "input_modalities": flat["input_modalities"],
            "output_modalities": flat["output_modalities"],
            "supported_parameters": flat["supported_parameters"],
            "status": self.status.value,
            "deprecation_date": self.deprecation_date,
            "variants": list(self.variants),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        """Inverse of :meth:`to_json` (the store keeps models in this shape)."""
        pricing = data.get("pricing") or {}
        return cls(
            gateway=data["gateway"],
            gateway_model_id=data["gateway_model_id"],
            id=data["id"],
            name=data.get("name"),
            description=data.get("description"),
            provider_slug=data.get("provider_slug"),
            context_length=data.get("context_length"),
            max_output_tokens=data.get("max_output_tokens"),
            pricing=pricing_from_json(pricing),
            input_modalities=tuple(data.get("input_modalities") or ()),
            output_modalities=tuple(data.get("output_modalities") or ()),
            supported_parameters=tuple(data.get("supported_parameters") or ()),
            status=ModelStatus(data.get("status") or ModelStatus.ACTIVE),
            deprecation_date=data.get("deprecation_date"),
            variants=tuple(data.get("variants") or ()),
            extra=data.get("extra") or {},
        )


def pricing_from_json(served: Mapping[str, Any]) -> Pricing:
    """Inverse of :meth:`Pricing.as_text` (the store keeps prices in that shape)."""
    values: dict[str, Any] = {
        name: Decimal(text) for name in PRICE_FIELDS if (text := served.get(name)) is not None
    }
    per_unit = served.get("per_unit")
    source = served.get("source")
    return Pricing(
        **values,
        per_unit=per_unit if isinstance(per_unit, str) else None,
        source=source if isinstance(source, str) and source != GATEWAY_SOURCE else None,
    )


def content_hash(flat: Mapping[str, JSONValue]) -> str:
    return hashlib.sha256(orjson.dumps(flat, option=orjson.OPT_SORT_KEYS)).hexdigest()


def extra_hash(extra: Mapping[str, Any]) -> int:
    """A 128-bit hash of a model's ``extra`` (what a full resync compares, never a poll)."""
    return xxhash.xxh3_128_intdigest(orjson.dumps(extra, option=orjson.OPT_SORT_KEYS))


_STATUS = COMPARED_FIELDS.index("status")


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A stored model as the diff sees it: its compared values and its sync bookkeeping.

    Only what a diff needs is kept (not the whole :class:`Model`: no ``extra``, no objects), so
    a process can hold every gateway's last catalog between runs at about 1 KB a model.
    ``raw_hash`` is the hash of the raw entry it was last normalized from (0 when unknown): an
    entry whose raw bytes hash the same needs no normalizing, it is this model again.
    """

    gateway_model_id: str
    values: tuple[JSONValue, ...]
    extra_hash: int
    presence: Presence = Presence.PRESENT
    miss_count: int = 0
    raw_hash: int = 0

    @classmethod
    def of(
        cls,
        model: Model,
        presence: Presence = Presence.PRESENT,
        miss_count: int = 0,
        *,
        raw_hash: int = 0,
    ) -> CatalogEntry:
        return cls(
            model.gateway_model_id,
            model.values(),
            extra_hash(model.extra),
            presence,
            miss_count,
            raw_hash,
        )

    def shared(self, pool: ValuePool) -> CatalogEntry:
        """This entry with its strings and numbers (those of its lists too) taken from ``pool``
        where an equal one is there already (and put there if not): entries read from the store
        together share their repeated values (modalities, parameters, provider slugs, context
        sizes) instead of each holding copies, some 500 bytes an entry. Equal values, the same
        entry; the lists stay the entry's own."""

        def one(value: JSONValue) -> JSONValue:
            kind = type(value)
            if kind is str or kind is int:
                return pool.setdefault((kind, value), value)
            if kind is list:
                assert isinstance(value, list)
                return [pool.setdefault((str, item), item) for item in value]
            return value

        model_id: str = pool.setdefault((str, self.gateway_model_id), self.gateway_model_id)
        return replace(self, gateway_model_id=model_id, values=tuple(map(one, self.values)))

    @property
    def id(self) -> str:
        """The canonical id."""
        value = self.values[0]
        assert isinstance(value, str)  # COMPARED_FIELDS starts with the id
        return value

    def fields(self) -> dict[str, JSONValue]:
        """The compared fields by name, as :meth:`Model.fields`."""
        return dict(zip(COMPARED_FIELDS, self.values, strict=True))

    @property
    def served_status(self) -> ModelStatus:
        if self.presence is Presence.REMOVED:
            return ModelStatus.REMOVED
        if self.presence is Presence.MISSING:
            return ModelStatus.MISSING
        return ModelStatus(str(self.values[_STATUS]))


ValuePool: TypeAlias = dict[tuple[type, object], Any]
"""Values shared between catalog entries, by type and value (:meth:`CatalogEntry.shared`)."""


FieldDiff: TypeAlias = Mapping[str, tuple[JSONValue, JSONValue]]
"""``{field: (old, new)}`` in the flat vocabulary of :meth:`Model.fields`."""


@dataclass(frozen=True, slots=True)
class ModelChange:
    """One recorded change of one model on one gateway."""

    kind: ChangeKind
    gateway: str
    gateway_model_id: str
    id: str
    fields: FieldDiff = field(default_factory=dict)
    anomalies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MissMark:
    """A stored model absent from this poll but not yet removed (or still missing)."""

    gateway_model_id: str
    miss_count: int


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """Everything one run writes, computed purely from the previous catalog and the new snapshot.

    The store applies a plan as one atomic change: ``renamed`` rows take their new gateway model
    id (old, new) first, then ``upserts`` become present rows, ``missing`` rows get their miss
    count, ``removed`` rows their removed status, and ``changes`` are appended.
    """

    gateway: str
    changes: tuple[ModelChange, ...] = ()
    upserts: tuple[Model, ...] = ()
    missing: tuple[MissMark, ...] = ()
    removed: tuple[str, ...] = ()
    total_models: int = 0
    renamed: tuple[tuple[str, str], ...] = ()

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for change in self.changes if change.kind is kind)

    @property
    def is_empty(self) -> bool:
        return not (self.changes or self.upserts or self.missing or self.removed)


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """A change as stored and served: a :class:`ModelChange` with its place in history."""

    seq: int
    change: ModelChange
    source: ChangeSource
    run_id: int | None
    catalog_version: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        change = self.change
        return {
            "seq": self.seq,
            "gateway": change.gateway,
            "gateway_model_id": change.gateway_model_id,
            "id": change.id,
            "kind": change.kind.value,
            "fields": {name: [old, new] for name, (old, new) in change.fields.items()},
            "anomalies": list(change.anomalies),
            "source": self.source.value,
            "catalog_version": self.catalog_version,
            "at": self.at.isoformat(),
        }
