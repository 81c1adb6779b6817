"""LiteLLM's ``model_prices_and_context_window.json`` as one big gateway (benchmarks, demo).

Shape: a flat ``{model_key: {litellm_provider, mode, max_tokens, max_input_tokens,
max_output_tokens, input_cost_per_token, output_cost_per_token, cache_read_input_token_cost,
cache_creation_input_token_cost, input_cost_per_request?, input_cost_per_image?,
deprecation_date?, supported_modalities?, supported_output_modalities?, supports_*: bool, ...}}``.
``sample_spec`` (the schema's own example), non-object values (the mirror's ``last_updated``) and
objects without ``litellm_provider`` (``fallback_generalizations``) are not models.

- gateway_model_id = the key; ``litellm_provider`` stays in ``extra``.
- Prices are USD per token (numbers, sometimes ``5e-07``) -> USD per 1M; ``input_cost_per_request``
  is per request, ``input_cost_per_image`` per input image (OpenRouter's meaning of ``image``).
- context_length = ``max_input_tokens``; max_output_tokens = ``max_output_tokens``; the legacy
  ``max_tokens`` (either one, by provider) is not guessed from and stays in ``extra``.
- supported_parameters: every ``supports_<x>: true`` as ``<x>`` (``function_calling``,
  ``vision``, ...); the flags are not repeated in ``extra``.
- modalities: ``supported_modalities`` / ``supported_output_modalities`` when given, else from
  ``mode`` (chat, completion, responses: text -> text; embedding: text -> embeddings;
  image_generation: text -> image; image_edit: image + text -> image; video_generation: text ->
  video; audio_speech: text -> audio; audio_transcription: audio -> text; ocr: file + image ->
  text; other modes leave them empty), inputs widened by the ``vision`` (image), ``audio_input``,
  ``video_input`` and ``pdf_input`` (file) flags.
- ``deprecation_date`` (YYYY-MM-DD, the shutdown date) marks the model ``deprecated`` as soon as
  it is announced (normalize is pure: no clock).

Identity (:func:`litellm_model_id`, then :mod:`modelsync.identity`): the key without its routing
prefix (``litellm_provider`` or its part before the first ``-``, e.g. ``vertex_ai``:
:func:`provider_model_id`) and without ``accounts/<a>/models/`` (then ``<a>`` is the author). A
remainder ``author/model`` gives ``author/model`` (``openrouter/anthropic/claude-3-opus`` ->
``anthropic/claude-3-opus``), except for providers whose first segment is a region or tier (azure,
bedrock, openai image sizes); every other remainder is ``<litellm_provider>/<remainder>``
(``gpt-4o`` -> ``openai/gpt-4o``, ``gemini/gemini-2.0-flash`` -> ``google/gemini-2.0-flash``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from modelsync.domain import NO_PRICING, PRICE_FIELDS, Model, ModelStatus, Pricing
from modelsync.errors import PayloadError
from modelsync.gateways.base import (
    GatewayAdapter,
    Page,
    RawEntry,
    expect_dict,
    iso_date,
    positive_int,
    price,
    string_tuple,
)
from modelsync.identity import Identity

NOT_MODELS = frozenset({"sample_spec"})

QUALIFIED_PROVIDERS = frozenset(
    {"azure", "azure_ai", "azure_text", "bedrock", "bedrock_converse", "openai"}
)
"""Providers whose ``<segment>/<model>`` keys start with a region, tier or size, not an author."""

_CONSUMED = frozenset(
    {"mode", "max_input_tokens", "max_output_tokens", "input_cost_per_token",
     "output_cost_per_token", "cache_read_input_token_cost", "cache_creation_input_token_cost",
     "input_cost_per_request", "input_cost_per_image", "deprecation_date",
     "supported_modalities", "supported_output_modalities"}
)  # fmt: skip
_UNITS = (
    ("input_cost_per_token", 6),
    ("output_cost_per_token", 6),
    ("cache_read_input_token_cost", 6),
    ("cache_creation_input_token_cost", 6),
    ("input_cost_per_request", 0),
    ("input_cost_per_image", 0),
)
"""The keys of Pricing's first six fields, in order, with their scale to USD per 1M (or unit)."""
_UNPRICED = (None,) * 6
_TEXT = ("text",)
_MODE_MODALITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "chat": (_TEXT, _TEXT),
    "completion": (_TEXT, _TEXT),
    "responses": (_TEXT, _TEXT),
    "embedding": (_TEXT, ("embeddings",)),
    "image_generation": (_TEXT, ("image",)),
    "image_edit": (("image", "text"), ("image",)),
    "video_generation": (_TEXT, ("video",)),
    "audio_speech": (_TEXT, ("audio",)),
    "audio_transcription": (("audio",), _TEXT),
    "ocr": (("file", "image"), _TEXT),
}
_NO_MODALITIES: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
_FLAG_INPUTS = {
    "vision": "image",
    "audio_input": "audio",
    "video_input": "video",
    "pdf_input": "file",
}


def provider_model_id(key: str, provider: str) -> str:
    """The key without its routing prefix: the id the provider itself gives the model."""
    for prefix in (provider, provider.partition("-")[0]):
        if key.startswith(prefix + "/"):
            return key[len(prefix) + 1 :]
    return key


@lru_cache(maxsize=16384)
def litellm_model_id(key: str, provider: str) -> str:
    """The ``author/model`` a LiteLLM key names (rules in the module docstring)."""
    rest = provider_model_id(key, provider)
    if rest.startswith("accounts/"):
        account, _, tail = rest[len("accounts/") :].partition("/models/")
        if account and tail and "/" not in account:
            return f"{account}/{tail}"
    author, sep, slug = rest.partition("/")
    if sep and author and slug and "/" not in slug and provider not in QUALIFIED_PROVIDERS:
        return rest
    return f"{provider}/{rest}"


@lru_cache(maxsize=1024)
def _inputs(mode: str | None, parameters: tuple[str, ...]) -> tuple[str, ...]:
    inputs = set(_MODE_MODALITIES.get(mode or "", _NO_MODALITIES)[0])
    if inputs:
        inputs.update(_FLAG_INPUTS[flag] for flag in parameters if flag in _FLAG_INPUTS)
    return tuple(sorted(inputs))


class LiteLLMAdapter(GatewayAdapter):
    """LiteLLM's price and context catalog, one model per key."""

    kind = "litellm"

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Every ``key: {...litellm_provider...}`` pair except ``sample_spec``."""
        self.filtered = {}
        for number, page in enumerate(pages, 1):
            document = expect_dict(page.document, f"{self.gateway} page {number}")
            for key, value in document.items():
                if type(value) is dict and "litellm_provider" in value and key not in NOT_MODELS:
                    yield key, value
                else:
                    self.drop("not a model entry")

    def identify(self, gateway_model_id: str, fields: Mapping[str, Any]) -> Identity:
        """The ``author/model`` the key names (a key without a provider is its own id)."""
        provider = fields.get("litellm_provider")
        if type(provider) is not str or not provider:
            return self.resolve(gateway_model_id)
        return self.resolve(litellm_model_id(gateway_model_id, provider))

    def build(self, key: str, raw: dict[str, Any]) -> Model:
        get = raw.get
        provider = get("litellm_provider")
        if type(provider) is not str or not provider:
            raise PayloadError(f"litellm_provider must be a non-empty string, got {provider!r}")
        mode = get("mode")
        if mode is not None and type(mode) is not str:
            raise PayloadError(f"mode must be a string, got {mode!r}")
        flags: list[str] = []
        extra: dict[str, Any] = {}
        identity = self.identify(key, raw)
        for name, value in raw.items():
            if name in _CONSUMED:
                continue
            if name.startswith("supports_"):
                if value is True:
                    flags.append(name[9:])
                elif value is not False and value is not None:
                    raise PayloadError(f"{name} must be true or false, got {value!r}")
                continue
            extra[name] = value
        flags.sort()
        parameters = tuple(flags)
        pricing = _pricing(get)
        modalities = get("supported_modalities")
        inputs = (
            _inputs(mode, parameters)
            if modalities is None
            else string_tuple(modalities, "supported_modalities")
        )
        modalities = get("supported_output_modalities")
        outputs = (
            _MODE_MODALITIES.get(mode or "", _NO_MODALITIES)[1]
            if modalities is None
            else string_tuple(modalities, "supported_output_modalities")
        )
        deprecation = get("deprecation_date")
        if deprecation is not None:
            deprecation = iso_date(deprecation, "deprecation_date")
        context = get("max_input_tokens")
        output = get("max_output_tokens")
        return Model(
            gateway=self.gateway,
            gateway_model_id=key,
            id=identity.id,
            provider_slug=identity.author,
            context_length=context
            if type(context) is int and context > 0
            else positive_int(context, "max_input_tokens"),
            max_output_tokens=output
            if type(output) is int and output > 0
            else positive_int(output, "max_output_tokens"),
            pricing=pricing,
            input_modalities=inputs,
            output_modalities=outputs,
            supported_parameters=parameters,
            status=ModelStatus.DEPRECATED if deprecation else ModelStatus.ACTIVE,
            deprecation_date=deprecation,
            variants=identity.variants,
            extra=extra,
        )


def _pricing(get: Any) -> Pricing:
    """The six prices of an entry (``get`` is the entry's ``dict.get``), memoized by value."""
    values = (
        get("input_cost_per_token"),
        get("output_cost_per_token"),
        get("cache_read_input_token_cost"),
        get("cache_creation_input_token_cost"),
        get("input_cost_per_request"),
        get("input_cost_per_image"),
    )
    try:
        return _cached_pricing(*values)
    except TypeError:  # an unhashable value: not a price, _priced names it
        return _priced(*values)


def _priced(*values: Any) -> Pricing:
    if values == _UNPRICED:
        return NO_PRICING
    prices: dict[str, Any] = {
        field: None if v is None else price(v, name, scale=s)
        for v, field, (name, s) in zip(values, PRICE_FIELDS[:6], _UNITS, strict=True)
    }
    return Pricing(**prices)


_cached_pricing = lru_cache(maxsize=8192, typed=True)(_priced)
"""Entries share prices (regions, aliases); ``typed`` keeps ``1``, ``1.0`` and ``True`` apart."""
