"""OpenAI-style ``GET /v1/models`` gateways (groq, cerebras, nebius, any configured one) and xAI.

Request: ``GET {base_url}`` with ``options["params"]`` (nebius ships ``verbose=true``) and
``Authorization: Bearer``. No pagination. The body is ``{"data": [...]}`` (a bare array is
accepted too).

Fields, whichever of the known spellings an entry carries:

- groq: ``context_window``, ``max_completion_tokens``; ``active: false`` is ``deprecated``.
- cerebras: ``id`` and ``owned_by`` only.
- nebius ``?verbose=true`` (refused with 400, 404 or 422: the plain listing is fetched
  instead, :meth:`OpenAICompatAdapter.fallback_request`): ``name``, ``context_length``,
  ``pricing{prompt, completion, image}`` (USD per token strings), ``architecture.modality``
  (``"text+image->text"``), and ``supported_sampling_parameters`` + ``supported_features`` as
  the supported parameters.
- any gateway: OpenRouter-style ``pricing`` is read as USD per token; ``options["price_unit"]``
  (``usd_per_token``, ``usd_per_1k_tokens`` or ``usd_per_1m_tokens``) says otherwise. A
  ``deprecation_date``/``deprecation`` date, or a ``status`` of ``deprecated``/``retired``/
  ``inactive``, makes the model ``deprecated``.

xAI (:class:`XaiAdapter`): ``/v1/language-models`` answers ``{"models": [...]}`` with integer
prices in USD cents per 100M tokens (``prompt_text_token_price``,
``cached_prompt_text_token_price``, ``completion_text_token_price``; the image and search prices
and the ``aliases`` stay in ``extra``). The plain ``/v1/models`` ``{"data": [...]}`` shape is
accepted as well. Each of a model's ``aliases`` is expanded into an offer of its own (the
id customers call, the same canonical id and prices, ``alias_of`` in ``extra``).

Identity (:mod:`modelsync.identity`): the id in the gateway's dialect (Groq's ``-versatile``,
Nebius' ``-fast``...), the author of an id without one being ``owned_by`` when it names one (the
first of a ``"DeepSeek / Meta"`` pair; placeholders such as ``system`` name nobody), else the
model family's. Every xAI model is ``x-ai``'s. The author is the ``provider_slug``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from modelsync.domain import NO_PRICING, Model, ModelStatus, Pricing
from modelsync.errors import ConfigError, PayloadError
from modelsync.gateways.base import (
    GatewayAdapter,
    GatewayConfig,
    Page,
    PageRequest,
    RawEntry,
    expect_dict,
    iso_date,
    listed_entries,
    optional_text,
    positive_int,
    price,
    string_tuple,
    type_name,
)
from modelsync.gateways.openrouter import (
    architecture_modalities,
    openrouter_pricing,
    remaining,
    sub_object,
)
from modelsync.identity import Identity

PRICE_UNITS: Mapping[str, int] = {
    "usd_per_token": 6,
    "usd_per_1k_tokens": 3,
    "usd_per_1m_tokens": 0,
}
"""``options["price_unit"]`` -> the power of ten that turns it into USD per 1M tokens."""

VERBOSE_REFUSED = frozenset({400, 404, 422})
"""Statuses with which a server refuses ``?verbose=true``: the plain listing is asked instead."""

DEPRECATED_STATUSES = frozenset({"deprecated", "deprecating", "retired", "inactive"})


def price_scale(config: GatewayConfig) -> int:
    """The scale of ``options["price_unit"]`` (USD per token unless configured)."""
    unit = config.options.get("price_unit", "usd_per_token")
    scale = PRICE_UNITS.get(unit) if isinstance(unit, str) else None
    if scale is None:
        known = ", ".join(PRICE_UNITS)
        raise ConfigError(f"gateway {config.name!r}: price_unit {unit!r} is not one of {known}")
    return scale


def first_present(raw: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str, Any]:
    """The first of ``keys`` whose value is not null, and that value (``("", None)`` if none)."""
    for key in keys:
        value = raw.get(key)
        if value is not None:
            return key, value
    return "", None


def lifecycle(raw: Mapping[str, Any]) -> tuple[ModelStatus, str | None]:
    """Status and deprecation date from ``active``, ``status`` and a deprecation date."""
    key, value = first_present(raw, ("deprecation_date", "deprecation"))
    deprecated_on = iso_date(value, key) if key else None
    active = raw.get("active")
    if active is not None and type(active) is not bool:
        raise PayloadError(f"active must be true or false, got {active!r}")
    status = raw.get("status")
    flagged = type(status) is str and status.strip().lower() in DEPRECATED_STATUSES
    if active is False or flagged or deprecated_on:
        return ModelStatus.DEPRECATED, deprecated_on
    return ModelStatus.ACTIVE, None


def parameters(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """``supported_parameters``, else nebius's sampling parameters and features together."""
    listed = raw.get("supported_parameters")
    if listed is not None:
        return string_tuple(listed, "supported_parameters")
    sampling = string_tuple(
        raw.get("supported_sampling_parameters"), "supported_sampling_parameters"
    )
    features = string_tuple(raw.get("supported_features"), "supported_features")
    return tuple(sorted({*sampling, *features})) if features else sampling


_CONTEXT_KEYS = ("context_window", "context_length", "max_context_length", "max_prompt_length")
_OUTPUT_KEYS = ("max_completion_tokens", "max_output_tokens")
_USED = frozenset({
    "id", "name", "display_name", "description", *_CONTEXT_KEYS, *_OUTPUT_KEYS, "architecture",
    "input_modalities", "output_modalities", "supported_parameters",
    "supported_sampling_parameters", "supported_features", "active", "deprecation_date",
    "deprecation", "pricing",
})  # fmt: skip


class OpenAICompatAdapter(GatewayAdapter):
    """Any OpenAI-style ``/v1/models`` list (rules in the module docstring)."""

    kind = "openai_compat"

    def __init__(
        self, gateway: str, *, id_dialect: str | None = None, price_unit: str = "usd_per_token"
    ) -> None:
        super().__init__(gateway, id_dialect=id_dialect)
        self.price_scale = PRICE_UNITS[price_unit]

    def first_request(self, config: GatewayConfig) -> PageRequest:
        """Bearer and the configured params; also reads ``options["price_unit"]``."""
        self.price_scale = price_scale(config)
        return super().first_request(config)

    def fallback_request(self, request: PageRequest, status: int | None) -> PageRequest | None:
        """Nebius' verbose listing refused (400, 404 or 422): the plain one, without prices."""
        if status in VERBOSE_REFUSED and request.params.get("verbose") == "true":
            params = {k: v for k, v in request.params.items() if k != "verbose"}
            return PageRequest(url=request.url, params=params, headers=request.headers)
        return None

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Each object of every page's ``data`` array (or of a bare array)."""
        for number, page in enumerate(pages, 1):
            where = f"{self.gateway} page {number}"
            yield from listed_entries(self.listed(page.document, where), where)

    def listed(self, document: Any, where: str) -> list[Any]:
        """The array of models in a page: ``data``, or the page itself when it is an array."""
        if type(document) is list:
            return document
        data = expect_dict(document, where).get("data")
        if type(data) is not list:
            raise PayloadError(f"{where}: data must be a list, got {type_name(data)}")
        return data

    def prices(self, raw: Mapping[str, Any], extra: dict[str, Any]) -> Pricing:
        """The entry's prices; keys it does not convert go to ``extra``."""
        pricing, rest = openrouter_pricing(raw.get("pricing"), scale=self.price_scale)
        if rest:
            extra["pricing"] = rest
        return pricing

    def identify(self, gateway_model_id: str, fields: Mapping[str, Any]) -> Identity:
        """The id, with ``owned_by`` as the author of an id that names none."""
        return self.resolve(gateway_model_id, author=fields.get("owned_by"))

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        owned_by = raw.get("owned_by")
        if owned_by is not None and type(owned_by) is not str:
            raise PayloadError(f"owned_by must be a string, got {type_name(owned_by)}")
        identity = self.identify(gateway_model_id, raw)
        architecture = raw.get("architecture")
        if architecture is not None:
            inputs, outputs, arch_rest = architecture_modalities(sub_object(raw, "architecture"))
        else:
            arch_rest = {}
            inputs = string_tuple(raw.get("input_modalities"), "input_modalities")
            outputs = string_tuple(raw.get("output_modalities"), "output_modalities")
        context_key, context = first_present(raw, _CONTEXT_KEYS)
        output_key, output = first_present(raw, _OUTPUT_KEYS)
        status, deprecated_on = lifecycle(raw)
        extra = remaining(raw, _USED)
        if arch_rest:
            extra["architecture"] = arch_rest
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=identity.id,
            name=optional_text(raw.get("name") or raw.get("display_name"), "name"),
            description=optional_text(raw.get("description"), "description"),
            provider_slug=identity.author,
            context_length=positive_int(context, context_key),
            max_output_tokens=positive_int(output, output_key),
            pricing=self.prices(raw, extra),
            input_modalities=inputs,
            output_modalities=outputs,
            supported_parameters=parameters(raw),
            status=status,
            deprecation_date=deprecated_on,
            variants=identity.variants,
            extra=extra,
        )


_XAI_PRICES = (
    ("prompt", "prompt_text_token_price"),
    ("cache_read", "cached_prompt_text_token_price"),
    ("completion", "completion_text_token_price"),
)
_XAI_PRICE_KEYS = frozenset(key for _, key in _XAI_PRICES)


class XaiAdapter(OpenAICompatAdapter):
    """xAI's ``/v1/language-models`` (prices in USD cents per 100M tokens) or ``/v1/models``."""

    kind = "xai"
    dialect = "xai"

    def listed(self, document: Any, where: str) -> list[Any]:
        """``models`` of ``/v1/language-models``, else ``data`` of ``/v1/models``."""
        if type(document) is dict and "models" in document:
            models = document["models"]
            if type(models) is not list:
                raise PayloadError(f"{where}: models must be a list, got {type_name(models)}")
            return models
        return super().listed(document, where)

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Every model, then each of its ``aliases`` (the ids customers also call, such as
        ``grok-3-latest``) as an offer of its own: the model's entry under the alias, with
        ``alias_of`` naming the model (its identity and prices). An alias that is also a listed
        id, or repeats, is left to that entry."""
        listed = list(super().entries(pages))
        seen = {model_id for model_id, _ in listed}
        for model_id, raw in listed:
            yield model_id, raw
            aliases = raw.get("aliases") if type(raw) is dict else None
            if type(aliases) is not list:
                continue
            for alias in aliases:
                if type(alias) is str and alias.strip() and alias not in seen:
                    seen.add(alias)
                    yield alias, {**raw, "id": alias, "alias_of": model_id}

    def identify(self, gateway_model_id: str, fields: Mapping[str, Any]) -> Identity:
        """An alias is the model it names (``alias_of``), whatever it is called."""
        target = fields.get("alias_of")
        return super().identify(target if type(target) is str else gateway_model_id, fields)

    def prices(self, raw: Mapping[str, Any], extra: dict[str, Any]) -> Pricing:
        """The three token prices, cents per 100M tokens -> USD per 1M; the rest stays in extra."""
        for key in _XAI_PRICE_KEYS:
            extra.pop(key, None)
        values: dict[str, Any] = {
            field: price(raw.get(key), key, scale=-4) for field, key in _XAI_PRICES
        }
        if all(value is None for value in values.values()):
            return NO_PRICING
        return Pricing(**values)
