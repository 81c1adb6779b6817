"""AIMO Network marketplace: ``GET https://beta.aimo.network/api/v1/models`` (Bearer key).

No public docs or capture exist; the shape is inferred from the gatewayz client (PROVIDERS.md):
``{"data": [{name, display_name, description?, context_length, created, canonical_slug?,
architecture{input_modalities, output_modalities}, providers: [{id (provider public key), name,
pricing{prompt, completion}}]}]}``.

- The same model ``name`` may be listed once per provider: :meth:`AimoAdapter.entries` merges
  those items into one (the first item's fields, every item's ``providers``), so there is one
  model per name.
- Unit assumption: provider prices are OpenRouter-style USD per token (decimal strings or
  numbers), like the OpenRouter-compatible API AIMO mirrors.
- pricing: the cheapest provider quoting both prices (:func:`~.base.cheapest`: lowest prompt +
  completion, then lowest prompt, then provider id); none -> unknown.
- ``created`` and the provider list stay in ``extra``.

Identity (:mod:`modelsync.identity`): ``canonical_slug`` when it names an author, else ``name``
(``deepseek/DeepSeek-V3`` -> ``deepseek/deepseek-v3``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from modelsync.domain import NO_PRICING, Model, Pricing
from modelsync.gateways.base import (
    GatewayAdapter,
    Offer,
    Page,
    RawEntry,
    cheapest,
    expect_dict,
    optional_dict,
    optional_list,
    optional_text,
    page_entries,
    positive_int,
    price,
    split_author,
    string_tuple,
)
from modelsync.identity import Identity

_CONSUMED = frozenset({"name", "display_name", "description", "context_length", "architecture"})


class AimoAdapter(GatewayAdapter):
    """AIMO's OpenAI-style list with per-provider offers, one model per name."""

    kind = "aimo"

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """One entry per model ``name``, items repeated per provider merged into one."""
        merged: dict[str, dict[str, Any]] = {}
        for name, item in page_entries(self.gateway, pages, "data", id_key="name"):
            first = merged.get(name)
            if first is None:
                merged[name] = item
                continue
            where = f"{self.gateway} model {name!r}: providers"
            providers = optional_list(first.get("providers"), where)
            merged[name] = {
                **first,
                "providers": [*providers, *optional_list(item.get("providers"), where)],
            }
        yield from merged.items()

    def identify(self, gateway_model_id: str, fields: Mapping[str, Any]) -> Identity:
        """``canonical_slug`` when it names an author, else the name."""
        slug = fields.get("canonical_slug")
        if type(slug) is str and split_author(slug)[0] is not None:
            return self.resolve(slug)
        return self.resolve(gateway_model_id)

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        entry = raw
        architecture = optional_dict(entry.get("architecture"), "architecture")
        offers: list[Offer] = []
        for index, item in enumerate(optional_list(entry.get("providers"), "providers")):
            where = f"providers[{index}]"
            provider = expect_dict(item, where)
            key = optional_text(provider.get("id"), f"{where}.id")
            label = optional_text(provider.get("name"), f"{where}.name")
            if provider.get("pricing") is None:
                continue
            prices = expect_dict(provider["pricing"], f"{where}.pricing")
            prompt = price(prices.get("prompt"), f"{where}.pricing.prompt", scale=6)
            completion = price(prices.get("completion"), f"{where}.pricing.completion", scale=6)
            if prompt is not None and completion is not None:
                offers.append((key or label or "", prompt, completion))
        best = cheapest(offers)
        optional_text(entry.get("canonical_slug"), "canonical_slug")  # a non-string is malformed
        identity = self.identify(gateway_model_id, entry)
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=identity.id,
            name=optional_text(entry.get("display_name"), "display_name"),
            description=optional_text(entry.get("description"), "description"),
            provider_slug=identity.author,
            context_length=positive_int(entry.get("context_length"), "context_length"),
            pricing=NO_PRICING if best is None else Pricing(prompt=best[1], completion=best[2]),
            input_modalities=string_tuple(
                architecture.get("input_modalities"), "architecture.input_modalities"
            ),
            output_modalities=string_tuple(
                architecture.get("output_modalities"), "architecture.output_modalities"
            ),
            variants=identity.variants,
            extra={k: v for k, v in entry.items() if k not in _CONSUMED},
        )
