"""Vercel AI Gateway: ``GET https://ai-gateway.vercel.sh/v1/models`` (public, one page).

Shape: ``{"object": "list", "data": [{id, object, created, owned_by, name, description,
context_window, max_tokens, pricing{input, output, input_cache_read?, input_cache_write?, ...},
type?, tags?, modalities?{input, output}, supported_parameters?, deprecated_at?, released?,
...}]}``. The 2025 shape stops at ``pricing``; the 2026 keys are read when present.

- Prices are USD per token as decimal strings; other pricing keys (tiers, image, web search) stay
  in ``extra["pricing"]``.
- ``context_window`` / ``max_tokens`` of 0 (embedding models) are unknown, never 0.
- modalities: ``modalities`` when given, else from ``type`` (language: text -> text, embedding:
  text -> embeddings, image: text -> image, video: text -> video, transcription: audio -> text,
  speech: text -> audio) plus the ``vision`` / ``file-input`` / ``image-generation`` tags.
- supported_parameters: ``supported_parameters`` plus ``tools`` / ``reasoning`` from the
  ``tool-use`` / ``reasoning`` tags.
- ``deprecated_at`` (ISO date or Unix time) -> ``deprecation_date`` and status ``deprecated``.
- ``created`` is the response time in the 2025 captures: kept in ``extra`` only, never compared.

Identity (:mod:`modelsync.identity`): ``id`` is ``creator/model`` (``meta/llama-3.3-70b`` ->
``meta-llama/llama-3.3-70b-instruct``: Vercel serves the instruct model of a bare Llama name); an
id without a creator takes ``owned_by``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from modelsync.domain import NO_PRICING, Model, ModelStatus, Pricing
from modelsync.gateways.base import (
    GatewayAdapter,
    Page,
    RawEntry,
    expect_dict,
    iso_date,
    optional_text,
    positive_int,
    price,
    string_tuple,
)
from modelsync.identity import Identity

_CONSUMED = frozenset(
    {"id", "name", "description", "context_window", "max_tokens", "pricing", "modalities",
     "supported_parameters", "deprecated_at"}
)  # fmt: skip
_PRICE_KEYS = ("input", "output", "input_cache_read", "input_cache_write")
"""USD per token -> Pricing's prompt, completion, cache_read, cache_write (in that order)."""
_TYPE_MODALITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "language": (("text",), ("text",)),
    "embedding": (("text",), ("embeddings",)),
    "image": (("text",), ("image",)),
    "video": (("text",), ("video",)),
    "transcription": (("audio",), ("text",)),
    "speech": (("text",), ("audio",)),
}
_TAG_INPUTS = {"vision": "image", "file-input": "file"}
_TAG_OUTPUTS = {"image-generation": "image"}
_TAG_PARAMETERS = {"tool-use": "tools", "reasoning": "reasoning"}


@lru_cache(maxsize=512)
def type_modalities(
    model_type: str | None, tags: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(input, output)`` modalities implied by a model ``type`` and its ``tags``."""
    inputs, outputs = _TYPE_MODALITIES.get(model_type or "", ((), ()))
    more_in = {_TAG_INPUTS[tag] for tag in tags if tag in _TAG_INPUTS}
    more_out = {_TAG_OUTPUTS[tag] for tag in tags if tag in _TAG_OUTPUTS}
    return tuple(sorted(more_in.union(inputs))), tuple(sorted(more_out.union(outputs)))


class VercelAdapter(GatewayAdapter):
    """Vercel AI Gateway's model list (2025 and 2026 shapes)."""

    kind = "vercel"

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Each ``data[]`` item with ``object`` "model" (or none), keyed by ``id``."""
        return self.model_objects(pages, "data")

    def identify(self, gateway_model_id: str, fields: Mapping[str, Any]) -> Identity:
        """The id; ``owned_by`` names the author of an id without one."""
        return self.resolve(gateway_model_id, author=fields.get("owned_by"))

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        entry = raw
        extra = {k: v for k, v in entry.items() if k not in _CONSUMED}
        pricing = NO_PRICING
        if entry.get("pricing") is not None:
            prices = expect_dict(entry["pricing"], "pricing")
            prompt, completion, cache_read, cache_write = (
                price(prices.get(key), f"pricing.{key}", scale=6) for key in _PRICE_KEYS
            )
            pricing = Pricing(prompt, completion, cache_read, cache_write)
            rest = {k: v for k, v in prices.items() if k not in _PRICE_KEYS}
            if rest:
                extra["pricing"] = rest
        tags = string_tuple(entry.get("tags"), "tags")
        model_type = optional_text(entry.get("type"), "type")
        inputs, outputs = type_modalities(model_type, tags)
        if entry.get("modalities") is not None:
            modalities = expect_dict(entry["modalities"], "modalities")
            inputs = string_tuple(modalities.get("input"), "modalities.input")
            outputs = string_tuple(modalities.get("output"), "modalities.output")
        parameters = set(string_tuple(entry.get("supported_parameters"), "supported_parameters"))
        parameters.update(_TAG_PARAMETERS[tag] for tag in tags if tag in _TAG_PARAMETERS)
        deprecation = iso_date(entry.get("deprecated_at"), "deprecated_at")
        optional_text(entry.get("owned_by"), "owned_by")  # a non-string is malformed
        identity = self.identify(gateway_model_id, entry)
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=identity.id,
            name=optional_text(entry.get("name"), "name"),
            description=optional_text(entry.get("description"), "description"),
            provider_slug=identity.author,
            context_length=positive_int(entry.get("context_window"), "context_window"),
            max_output_tokens=positive_int(entry.get("max_tokens"), "max_tokens"),
            pricing=pricing,
            input_modalities=inputs,
            output_modalities=outputs,
            supported_parameters=tuple(sorted(parameters)),
            status=ModelStatus.DEPRECATED if deprecation else ModelStatus.ACTIVE,
            deprecation_date=deprecation,
            variants=identity.variants,
            extra=extra,
        )
