"""PURE: reference price tables and the enrichment rule (issue 9 item 3).

A reference catalog (models.dev's ``api.json``, LiteLLM's ``model_prices_and_context_window.json``)
lists prices per *provider*; some providers are gateways modelsync syncs (models.dev's ``groq``,
LiteLLM's ``gemini`` is our ``google``: :data:`PROVIDERS`). A :class:`ReferenceTable` holds, per
gateway, the catalog's priced models twice:

* by the gateway's own model id (the catalog's id without its provider prefix: models.dev's
  ``groq`` / ``llama-3.3-70b-versatile``, LiteLLM's ``groq/llama-3.3-70b-versatile``), and
* by canonical id and serving variants, as the gateway's own identity rules read that id; a
  canonical key two different prices claim is ambiguous and left out (never a guess).

:func:`enrich` gives an offer a reference price only when its gateway's API gives it none at all
(a gateway's own price always wins, even a partial one), from the first table (in configured
order) that knows it: by gateway model id first, then by canonical id. The price keeps its
source, ``<catalog>@<fetched_at>``, in ``pricing.source``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from modelsync.domain import ChangeKind, Model, ModelChange, Pricing, pricing_from_json
from modelsync.gateways.litellm import provider_model_id

PROVIDERS: Mapping[str, Mapping[str, str]] = {
    "modelsdev": {
        "groq": "groq", "cerebras": "cerebras", "google": "google", "nebius": "nebius",
        "fireworks-ai": "fireworks", "togetherai": "together", "xai": "xai",
    },
    "litellm": {
        "groq": "groq", "cerebras": "cerebras", "gemini": "google", "nebius": "nebius",
        "fireworks_ai": "fireworks", "together_ai": "together", "xai": "xai", "fal_ai": "fal",
    },
}  # fmt: skip
"""Per catalog kind: the catalog's provider id -> the gateway it prices. Only gateways whose API
gives no prices (or not for every model, or not in every listing) are filled: OpenRouter, Vercel,
Hugging Face and NEAR price every offer they can, and an offer they leave unpriced is variable
(OpenRouter's ``"-1"`` routers), never to be guessed from a catalog (LiteLLM lists
``openrouter/auto`` at 0)."""

Identify = Callable[[str, str], tuple[str, tuple[str, ...]] | None]
"""``(gateway, gateway model id) -> (canonical id, variants)`` by that gateway's rules, or None
when the gateway is not configured here."""

CanonicalKey = tuple[str, str, tuple[str, ...]]
"""``(gateway, canonical id, variants)``."""


def catalog_offer(kind: str, model: Model) -> tuple[str, str] | None:
    """``(gateway, gateway model id)`` a reference catalog's model prices, or None."""
    if kind == "modelsdev":
        provider, _, raw_id = model.gateway_model_id.partition("/")
    elif kind == "litellm":
        named = model.extra.get("litellm_provider")
        if not isinstance(named, str):
            return None
        provider, raw_id = named, provider_model_id(model.gateway_model_id, named)
    else:
        return None
    gateway = PROVIDERS.get(kind, {}).get(provider)
    if gateway is None or not raw_id:
        return None
    return gateway, raw_id


@dataclass(frozen=True, slots=True)
class ReferenceTable:
    """One reference catalog's prices for the gateways it covers, as fetched at ``fetched_at``."""

    name: str
    """The catalog as sources name it: ``models.dev``, ``litellm``."""
    fetched_at: datetime
    by_id: Mapping[tuple[str, str], Pricing] = field(default_factory=dict)
    by_canonical: Mapping[CanonicalKey, Pricing] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The source every price of this table carries: ``models.dev@2026-11-30T02:00:00Z``."""
        stamp = self.fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.name}@{stamp}"

    def price_of(self, model: Model) -> Pricing | None:
        """This table's price for an offer (by its gateway model id, then canonical id)."""
        found = self.by_id.get((model.gateway, model.gateway_model_id))
        if found is None:
            found = self.by_canonical.get((model.gateway, model.id, model.variants))
        return found

    def gateways(self) -> set[str]:
        return {gateway for gateway, _ in self.by_id}

    def prices_for(self, gateway: str) -> tuple[Any, ...]:
        """The table's content for one gateway, comparable between two tables."""
        return (
            sorted((k[1], v.compared()) for k, v in self.by_id.items() if k[0] == gateway),
            sorted(
                ((k[1], k[2]), v.compared())
                for k, v in self.by_canonical.items()
                if k[0] == gateway
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fetched_at": self.fetched_at.isoformat(),
            "by_id": [[g, i, _pricing_json(p)] for (g, i), p in self.by_id.items()],
            "by_canonical": [
                [g, i, list(v), _pricing_json(p)] for (g, i, v), p in self.by_canonical.items()
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReferenceTable:
        return cls(
            name=data["name"],
            fetched_at=datetime.fromisoformat(data["fetched_at"]),
            by_id={(g, i): pricing_from_json(p) for g, i, p in data["by_id"]},
            by_canonical={
                (g, i, tuple(v)): pricing_from_json(p) for g, i, v, p in data["by_canonical"]
            },
        )


def _pricing_json(pricing: Pricing) -> dict[str, Any]:
    served: dict[str, Any] = dict(pricing.as_text())
    served["per_unit"] = pricing.per_unit
    return served


def build_table(
    name: str,
    kind: str,
    fetched_at: datetime,
    models: Iterable[Model],
    identify: Identify,
) -> ReferenceTable:
    """The table of a parsed reference catalog (its priced models of known gateways)."""
    by_id: dict[tuple[str, str], Pricing] = {}
    canonical: dict[CanonicalKey, Pricing | None] = {}
    for model in models:
        if not model.pricing.any_price:
            continue
        offer = catalog_offer(kind, model)
        if offer is None:
            continue
        pricing = replace(model.pricing, source=None)
        if offer in by_id:  # a catalog listing one offer twice (aliases): the first one wins
            continue
        by_id[offer] = pricing
        identity = identify(*offer)
        if identity is None:
            continue
        key = (offer[0], identity[0], identity[1])
        seen = canonical.get(key, pricing)
        canonical[key] = (
            pricing if seen is not None and seen.compared() == pricing.compared() else None
        )
    return ReferenceTable(
        name=name,
        fetched_at=fetched_at,
        by_id=by_id,
        by_canonical={key: p for key, p in canonical.items() if p is not None},
    )


def reference_price(model: Model, tables: Sequence[ReferenceTable]) -> Pricing | None:
    """The reference price an offer gets, with its source; None when its gateway prices it
    (any price at all) or no table knows it."""
    if model.pricing.any_price:
        return None
    for table in tables:
        found = table.price_of(model)
        if found is not None:
            return replace(found, source=table.label)
    return None


def enrich(model: Model, tables: Sequence[ReferenceTable]) -> Model:
    """``model`` with its reference price filled in (unchanged when it gets none)."""
    found = reference_price(model, tables)
    return model if found is None else replace(model, pricing=found)


def changed_gateways(old: ReferenceTable | None, new: ReferenceTable) -> set[str]:
    """The gateways whose reference prices differ between two fetches of one catalog."""
    gateways = new.gateways() | (old.gateways() if old is not None else set())
    if old is None:
        return gateways
    return {g for g in gateways if old.prices_for(g) != new.prices_for(g)}


PRICE_SOURCE = "price_source"
"""The field an added (or restored) model's change names its prices' source under."""


def price_source_changes(
    changes: Sequence[ModelChange], models: Mapping[str, Model]
) -> tuple[ModelChange, ...]:
    """``changes`` with ``price_source: [null, <catalog>@<fetched_at>]`` on each added or restored
    model priced by a reference catalog, so the change feed says where its prices came from."""
    out: list[ModelChange] = []
    for change in changes:
        model = models.get(change.gateway_model_id)
        source = model.pricing.source if model is not None else None
        if source and change.kind in (ChangeKind.ADDED, ChangeKind.RESTORED):
            fields = {**change.fields, PRICE_SOURCE: (None, source)}
            out.append(replace(change, fields=fields))
        else:
            out.append(change)
    return tuple(out)
