"""Hugging Face Inference Providers router: ``GET https://router.huggingface.co/v1/models``.

Shape: ``{"object": "list", "data": [{id, object, created, owned_by, architecture{input_modalities,
output_modalities}, providers: [{provider, status ("live"/"error"/"staging"), context_length?,
pricing?{input, output}, supports_tools?, supports_structured_output?, is_free?,
first_token_latency_ms?, throughput?, is_model_author?}]}]}``. Prices are USD per 1M tokens
(numbers). One model per HF model id, merged over its providers; only ``live`` providers count:

- pricing: the cheapest live provider quoting both prices (:func:`~.base.cheapest`: lowest
  input + output, then lowest input, then provider name, so the order of the list never matters);
  no such provider -> unknown (``None``), never 0;
- context_length: the largest over live providers;
- supported_parameters: ``tools`` / ``structured_outputs`` when any live provider supports them;
- extra: the remaining top-level fields and ``providers`` without the per-probe ``throughput`` and
  ``first_token_latency_ms`` (they move on every probe, so extra would churn).
- The router gives no display name or description: both stay null.

Identity (:mod:`modelsync.identity`): the repo id (``deepseek-ai/DeepSeek-V4-Pro`` ->
``deepseek/deepseek-v4-pro``); an id without an org takes ``owned_by`` as author.

Pagination: the router answers in one page; an RFC 5988 ``Link: <url>; rel="next"`` response
header (Hub-style paging) is followed when present.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin

from modelsync.domain import NO_PRICING, Model, Pricing
from modelsync.errors import PayloadError
from modelsync.gateways.base import (
    GatewayAdapter,
    GatewayConfig,
    Offer,
    Page,
    PageRequest,
    RawEntry,
    cheapest,
    expect_dict,
    optional_dict,
    optional_list,
    optional_text,
    positive_int,
    price,
    string_tuple,
)
from modelsync.identity import Identity

VOLATILE_PROVIDER_FIELDS = frozenset({"throughput", "first_token_latency_ms"})
"""Per-provider probe results: dropped from ``extra``."""

_CONSUMED = frozenset({"id", "architecture", "providers"})
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*"?([^";,]*)"?""", re.IGNORECASE)


def next_link(header: str | None) -> str | None:
    """The target of the ``rel="next"`` link in an RFC 5988 ``Link`` header, or ``None``."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        rel = _REL.search(match.group(2))
        if rel is not None and "next" in rel.group(1).lower().split():
            return match.group(1).strip() or None
    return None


class HuggingFaceAdapter(GatewayAdapter):
    """The HF router's OpenAI-style list, one model per repo id across its providers."""

    kind = "huggingface"

    def next_request(
        self, config: GatewayConfig, previous: PageRequest, page: Page
    ) -> PageRequest | None:
        """Follow a ``Link: <...>; rel="next"`` header; none -> done."""
        target = next_link(page.headers.get("link"))
        if target is None:
            return None
        url = urljoin(previous.url, target)
        if url == previous.url and not previous.params:
            raise PayloadError(f"{self.gateway}: Link rel=next points back to {url}")
        return previous.following(url=url, params={})

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Each ``data[]`` item with ``object`` "model" (or none), keyed by its repo id."""
        return self.model_objects(pages, "data")

    def identify(self, gateway_model_id: str, fields: Mapping[str, Any]) -> Identity:
        """The repo id; ``owned_by`` names the author of an id without an org."""
        return self.resolve(gateway_model_id, author=fields.get("owned_by"))

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        entry = raw
        architecture = optional_dict(entry.get("architecture"), "architecture")
        providers = optional_list(entry.get("providers"), "providers")
        offers: list[Offer] = []
        context: int | None = None
        parameters: set[str] = set()
        kept: list[dict[str, Any]] = []
        for index, item in enumerate(providers):
            where = f"providers[{index}]"
            provider = expect_dict(item, where)
            name = optional_text(provider.get("provider"), f"{where}.provider") or ""
            status = optional_text(provider.get("status"), f"{where}.status")
            length = positive_int(provider.get("context_length"), f"{where}.context_length")
            prices = _provider_prices(provider.get("pricing"), where)
            kept.append({k: v for k, v in provider.items() if k not in VOLATILE_PROVIDER_FIELDS})
            if status != "live":
                continue
            if length is not None and (context is None or length > context):
                context = length
            if provider.get("supports_tools") is True:
                parameters.add("tools")
            if provider.get("supports_structured_output") is True:
                parameters.add("structured_outputs")
            if prices is not None:
                offers.append((name, *prices))
        best = cheapest(offers)
        pricing = NO_PRICING if best is None else Pricing(prompt=best[1], completion=best[2])
        optional_text(entry.get("owned_by"), "owned_by")  # a non-string is malformed
        identity = self.identify(gateway_model_id, entry)
        extra = {k: v for k, v in entry.items() if k not in _CONSUMED}
        extra["providers"] = kept
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=identity.id,
            provider_slug=identity.author,
            context_length=context,
            pricing=pricing,
            input_modalities=string_tuple(
                architecture.get("input_modalities"), "architecture.input_modalities"
            ),
            output_modalities=string_tuple(
                architecture.get("output_modalities"), "architecture.output_modalities"
            ),
            supported_parameters=tuple(sorted(parameters)),
            variants=identity.variants,
            extra=extra,
        )


def _provider_prices(value: Any, where: str) -> tuple[Decimal, Decimal] | None:
    """``(input, output)`` in USD per 1M tokens when both are known, else ``None``."""
    if value is None:
        return None
    pricing = expect_dict(value, f"{where}.pricing")
    prompt = price(pricing.get("input"), f"{where}.pricing.input")
    completion = price(pricing.get("output"), f"{where}.pricing.output")
    if prompt is None or completion is None:
        return None
    return prompt, completion
