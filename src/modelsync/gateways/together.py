"""Together AI's list-models API: ``GET /v1/models``, a bare JSON array (an object is an error).

Request: ``GET {base_url}`` with ``options["params"]`` (e.g. ``dedicated=true``) and Bearer.

Prices: ``pricing.input``/``pricing.output`` are USD per 1M tokens (numbers, already our unit) for
the token-priced types in :data:`TOKEN_TYPES`, and for entries without a ``type``. Every other type
(``image``, ``audio``, ``transcribe``, ``video``, and types this module does not know) is priced
per image, character or minute: its token prices are ``None`` and its ``pricing`` object stays
whole in ``extra``. Decisions:

- input and output both ``0`` means "not priced here" (image models, dedicated-only models), so
  ``None``; except on Together's free endpoints, whose id ends in ``free`` (``...-Turbo-Free``,
  ``Llama-Vision-Free``), where ``0`` is the real price;
- float noise from Together's own arithmetic is dropped by rounding to 15 significant digits
  (``0.18000000000000002`` -> ``0.18``): no real per-1M price has more;
- ``hourly``, ``base`` and ``finetune`` stay in ``extra["pricing"]``.

``context_length`` 0 is unknown; ``display_name`` is the name; modalities follow ``type`` (see
:data:`TYPE_MODALITIES`).

Identity (:mod:`modelsync.identity`): the Hugging Face-style id in Together's dialect
(``-Turbo``, ``-Lite``, ``-Free``, ``-tput`` and quantizations are variants of the offer); the
author is the id's first segment: ``organization`` is the display name of whoever uploaded it
(``Together`` for Cartesia's models), so it stays in ``extra`` and names the author only of an id
without a ``/``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from modelsync.domain import NO_PRICING, Model, Pricing
from modelsync.errors import PayloadError
from modelsync.gateways.base import (
    GatewayAdapter,
    Page,
    RawEntry,
    expect_dict,
    listed_entries,
    optional_text,
    positive_int,
    price,
    type_name,
)
from modelsync.gateways.openrouter import remaining
from modelsync.identity import Identity

TOKEN_TYPES = frozenset({"chat", "language", "code", "moderation", "embedding", "rerank"})
"""Model types whose ``pricing.input``/``output`` are USD per 1M tokens."""

_TEXT = ("text",)
TYPE_MODALITIES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "chat": (_TEXT, _TEXT),
    "language": (_TEXT, _TEXT),
    "code": (_TEXT, _TEXT),
    "moderation": (_TEXT, _TEXT),
    "embedding": (_TEXT, ("embeddings",)),
    "rerank": (_TEXT, ()),
    "image": (_TEXT, ("image",)),
    "audio": (_TEXT, ("audio",)),
    "transcribe": (("audio",), _TEXT),
    "video": (_TEXT, ("video",)),
}
"""``type`` -> (input, output) modalities; an unknown type has none."""


def denoised(value: Any) -> Any:
    """A float rounded to 15 significant digits (binary noise off); anything else unchanged."""
    return float(f"{value:.15g}") if type(value) is float else value


def together_pricing(
    model_id: str, model_type: str | None, raw: Any
) -> tuple[Pricing, dict[str, Any]]:
    """Token prices of a Together model, and the pricing fields left for ``extra``."""
    if raw is None:
        return NO_PRICING, {}
    pricing = expect_dict(raw, "pricing")
    prompt = price(denoised(pricing.get("input")), "pricing.input")
    completion = price(denoised(pricing.get("output")), "pricing.output")
    if model_type is not None and model_type not in TOKEN_TYPES:
        return NO_PRICING, pricing
    rest = remaining(pricing, _PRICING_USED)
    if not prompt and not completion and not model_id.lower().endswith("free"):
        return NO_PRICING, rest
    return Pricing(prompt=prompt, completion=completion), rest


_PRICING_USED = frozenset({"input", "output"})
_USED = frozenset({"id", "display_name", "description", "context_length", "pricing"})


class TogetherAdapter(GatewayAdapter):
    """``GET /v1/models`` of Together AI (rules in the module docstring)."""

    kind = "together"

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Each object of the bare array every page is."""
        for number, page in enumerate(pages, 1):
            where = f"{self.gateway} page {number}"
            if type(page.document) is not list:
                raise PayloadError(
                    f"{where}: expected the bare list of models, got {type_name(page.document)}"
                )
            yield from listed_entries(page.document, where)

    def identify(self, gateway_model_id: str, fields: Mapping[str, Any]) -> Identity:
        """The id; ``organization`` names the author of an id without one."""
        return self.resolve(gateway_model_id, author=fields.get("organization"))

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        model_type = optional_text(raw.get("type"), "type")
        optional_text(raw.get("organization"), "organization")  # a non-string is malformed
        identity = self.identify(gateway_model_id, raw)
        pricing, pricing_rest = together_pricing(gateway_model_id, model_type, raw.get("pricing"))
        inputs, outputs = TYPE_MODALITIES.get(model_type or "chat", ((), ()))
        extra = remaining(raw, _USED)
        if pricing_rest:
            extra["pricing"] = pricing_rest
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=identity.id,
            name=optional_text(raw.get("display_name"), "display_name"),
            description=optional_text(raw.get("description"), "description"),
            provider_slug=identity.author,
            context_length=positive_int(raw.get("context_length"), "context_length"),
            pricing=pricing,
            input_modalities=inputs,
            output_modalities=outputs,
            variants=identity.variants,
            extra=extra,
        )
