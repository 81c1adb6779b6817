"""PURE: the pages' rows from the store's raw rows: offers, changes, rankings, gateway health."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from modelsync.domain import Presence
from modelsync.pages.format import price, price_value
from modelsync.store.served import TimeText

PRICED_FIELDS = ("pricing.prompt", "pricing.completion")


@dataclass(frozen=True, slots=True)
class Offer:
    """One gateway's offer of a model, as a table row shows it."""

    gateway: str
    gateway_model_id: str
    id: str
    name: str
    description: str
    provider: str
    context_length: int | None
    max_output_tokens: int | None
    prompt: str | None
    completion: str | None
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    tools: bool
    status: str
    first_seen_at: datetime
    last_seen_at: datetime
    updated_at: datetime
    other_price: str = ""
    """A price by another unit (fal's per image or second: ``0.04 USD per image``), if any."""
    price_source: str = ""
    """Where the prices came from when not the gateway's own API (``models.dev@...``)."""

    @property
    def key(self) -> str:
        """A stable DOM key of the row (gateway and its model id), for live updates."""
        return f"{self.gateway}:{self.gateway_model_id}"

    @property
    def removed(self) -> bool:
        return self.status == Presence.REMOVED.value

    @property
    def price_key(self) -> tuple[Decimal, Decimal]:
        """Cheapest first; unknown last."""
        far = Decimal("1e300")
        prompt, completion = price_value(self.prompt), price_value(self.completion)
        return (far if prompt is None else prompt, far if completion is None else completion)


def offer_from_row(row: Sequence[Any], time_text: TimeText) -> Offer:
    """A row of ``page_queries.PAGE_COLUMNS`` (or ``queries.MODEL_COLUMNS[SERVED]``, whose first
    seven columns are the same): catalog version, data, presence, status and three times."""
    _, data_text, presence, status, first_seen, last_seen, updated = row[:7]
    data = orjson.loads(data_text)
    pricing = data.get("pricing") or {}
    served_status = data.get("status") or status if presence == Presence.PRESENT else status
    return Offer(
        gateway=data["gateway"],
        gateway_model_id=data["gateway_model_id"],
        id=data["id"],
        name=data.get("name") or data["id"],
        description=data.get("description") or "",
        provider=data.get("provider_slug") or "",
        context_length=data.get("context_length"),
        max_output_tokens=data.get("max_output_tokens"),
        prompt=pricing.get("prompt"),
        completion=pricing.get("completion"),
        input_modalities=tuple(data.get("input_modalities") or ()),
        output_modalities=tuple(data.get("output_modalities") or ()),
        tools="tools" in (data.get("supported_parameters") or ()),
        status=served_status,
        first_seen_at=_time(first_seen, time_text),
        last_seen_at=_time(last_seen, time_text),
        updated_at=_time(updated, time_text),
        other_price=_other_price(pricing),
        price_source=_source(pricing.get("source")),
    )


def _other_price(pricing: dict[str, Any]) -> str:
    unit_price, per_unit = pricing.get("unit_price"), pricing.get("per_unit")
    if unit_price is None or not per_unit:
        return ""
    return f"{price(str(unit_price))} per {str(per_unit).replace('_', ' ')}"


def _source(source: Any) -> str:
    return "" if source in (None, "gateway") else str(source)


def _time(raw: Any, time_text: TimeText) -> datetime:
    if isinstance(raw, datetime):
        return raw
    return datetime.fromisoformat(time_text(raw))


def cheapest(offers: Iterable[Offer]) -> Offer | None:
    """The current offer with the lowest known prompt price (then completion), if any."""
    priced = [o for o in offers if not o.removed and price_value(o.prompt) is not None]
    return min(priced, key=lambda offer: offer.price_key) if priced else None


@dataclass(frozen=True, slots=True)
class FieldChange:
    name: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Change:
    """One change record, its field diffs as text."""

    seq: int
    gateway: str
    gateway_model_id: str
    id: str
    kind: str
    source: str
    at: datetime
    fields: tuple[FieldChange, ...]
    raw_fields: dict[str, Any] = field(compare=False)


def shown(name: str, value: Any) -> str:
    """A changed field's value as text: prices per 1M tokens, lists joined, null as ``-``."""
    if name.startswith("pricing."):
        return price(value if value is None else str(value))
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(none)"
    return str(value)


SUMMARY_FIELDS = ("name", "pricing.prompt", "pricing.completion", "context_length", "status")
"""What an addition, removal or restoration shows of its fields (an addition lists every field
from nothing: the offer's table shows the rest)."""


def change_from_row(row: Sequence[Any], time_text: TimeText) -> Change:
    """A row of ``queries.SERVED_CHANGE``."""
    seq, gateway, gateway_model_id, model_id, kind, fields_text, _, source, _, at = row
    fields = orjson.loads(fields_text)
    names = fields if kind == "updated" else [n for n in SUMMARY_FIELDS if n in fields]
    diffs = tuple(
        FieldChange(name, shown(name, fields[name][0]), shown(name, fields[name][1]))
        for name in names
    )
    return Change(
        seq=seq,
        gateway=gateway,
        gateway_model_id=gateway_model_id,
        id=model_id,
        kind=kind,
        source=source,
        at=_time(at, time_text),
        fields=diffs,
        raw_fields=fields,
    )


@dataclass(frozen=True, slots=True)
class PriceMove:
    """A price change of the rankings: which offer, which price, from and to, by how much."""

    change: Change
    field: str
    old: Decimal
    new: Decimal

    @property
    def ratio(self) -> Decimal:
        return (self.new - self.old) / self.old

    @property
    def percent(self) -> str:
        return f"{self.ratio * 100:+.0f}%"


def price_moves(changes: Iterable[Change]) -> list[PriceMove]:
    """Every known-to-known change of a prompt or completion price from a non-zero price."""
    moves = []
    for change in changes:
        for name in PRICED_FIELDS:
            pair = change.raw_fields.get(name)
            if pair is None:
                continue
            old, new = (price_value(None if v is None else str(v)) for v in pair)
            if old is not None and new is not None and old > 0 and old != new:
                moves.append(PriceMove(change, name, old, new))
    return moves


def largest_moves(moves: list[PriceMove], *, drops: bool, limit: int = 10) -> list[PriceMove]:
    """The largest relative drops (or rises), largest first."""
    chosen = [move for move in moves if (move.ratio < 0) == drops]
    chosen.sort(key=lambda move: move.ratio if drops else -move.ratio)
    return chosen[:limit]
