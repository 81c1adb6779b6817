"""models.dev's ``https://models.dev/api.json`` as one big gateway (benchmarks, demo).

Shape: ``{provider_id: {id, name, api?, env, npm, doc, models: {model_id: {id, name, family?,
attachment, reasoning, tool_call, structured_output?, temperature?, knowledge?, release_date,
last_updated, modalities{input, output}, open_weights, cost?{input, output, cache_read?,
cache_write?, tiers?, context_over_200k?, ...}, limit{context, output, input?}, status?
("deprecated", "beta", "alpha"), ...}}}}``.

- gateway_model_id = ``"<provider_id>/<model_id>"`` (unique across the file).
- Costs are USD per 1M tokens already (numbers); the other cost keys (tiers, audio, long
  context) stay in ``extra["cost"]``, ``limit.input`` in ``extra["limit"]``. A limit of 0 is
  unknown, never 0.
- supported_parameters from the booleans: ``tool_call`` -> ``tools``, ``reasoning`` ->
  ``reasoning``, ``structured_output`` -> ``structured_outputs``, ``temperature`` ->
  ``temperature``.
- status ``deprecated`` -> deprecated; anything else (``beta``, ``alpha``, none) -> active; the
  raw ``status`` stays in ``extra``. models.dev has no deprecation date.
- ``last_updated`` changes whenever anything does: it stays in ``extra``, never compared.

Identity (:func:`modelsdev_model_id`, then :mod:`modelsync.identity`): a model id
``author/model...`` keeps its first segment as author (``openrouter`` /
``anthropic/claude-sonnet-4`` -> ``anthropic/claude-sonnet-4``), ``accounts/<a>/models/<m>``
becomes ``<a>/<m>``, and a bare id takes the provider as author (``openai`` / ``gpt-4o`` ->
``openai/gpt-4o``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from modelsync.domain import NO_PRICING, Model, ModelStatus, Pricing
from modelsync.errors import PayloadError
from modelsync.gateways.base import (
    GatewayAdapter,
    Page,
    RawEntry,
    expect_dict,
    optional_dict,
    positive_int,
    price,
    string_tuple,
    type_name,
)
from modelsync.identity import Identity

_CONSUMED = frozenset(
    {"id", "name", "cost", "limit", "modalities", "tool_call", "reasoning", "structured_output",
     "temperature"}
)  # fmt: skip
_COST_KEYS = ("input", "output", "cache_read", "cache_write")
_COST_KEY_SET = frozenset(_COST_KEYS)
_LIMIT_KEYS = frozenset({"context", "output"})
_FLAGS = ("tool_call", "reasoning", "structured_output", "temperature")
_PARAMETERS = ("tools", "reasoning", "structured_outputs", "temperature")
_PARAMETER_SETS = tuple(
    tuple(sorted(name for bit, name in enumerate(_PARAMETERS) if mask >> bit & 1))
    for mask in range(1 << len(_PARAMETERS))
)
"""supported_parameters for each combination of the four flags, indexed by bit mask."""


@lru_cache(maxsize=16384)
def modelsdev_model_id(provider_id: str, model_id: str) -> str:
    """The ``author/model`` a models.dev model names (rules in the module docstring)."""
    if model_id.startswith("accounts/"):
        account, _, tail = model_id[len("accounts/") :].partition("/models/")
        if account and tail and "/" not in account:
            return f"{account}/{tail}"
    author, sep, slug = model_id.partition("/")
    if sep and author and slug:
        return model_id
    return f"{provider_id}/{model_id}"


def _pricing(cost: Any, extra: dict[str, Any]) -> Pricing:
    """The prices of a ``cost`` object; its other keys go to ``extra["cost"]``."""
    if cost is None:
        return NO_PRICING
    if type(cost) is not dict:
        raise PayloadError(f"cost must be an object, got {type_name(cost)}")
    if not cost.keys() <= _COST_KEY_SET:
        extra["cost"] = {k: v for k, v in cost.items() if k not in _COST_KEY_SET}
    values = (
        cost.get("input"),
        cost.get("output"),
        cost.get("cache_read"),
        cost.get("cache_write"),
    )
    try:
        return _cached_pricing(*values)
    except TypeError:  # an unhashable value: not a price, _priced names it
        return _priced(*values)


def _priced(*values: Any) -> Pricing:
    if values == (None, None, None, None):
        return NO_PRICING
    prompt, completion, cache_read, cache_write = (
        price(value, f"cost.{key}") for value, key in zip(values, _COST_KEYS, strict=True)
    )
    return Pricing(prompt, completion, cache_read, cache_write)


_cached_pricing = lru_cache(maxsize=8192, typed=True)(_priced)
"""Models share prices across providers; ``typed`` keeps ``1``, ``1.0`` and ``True`` apart."""


class ModelsDevAdapter(GatewayAdapter):
    """The models.dev catalog, one model per (provider, model) pair."""

    kind = "modelsdev"

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Every ``models`` item of every provider, keyed ``<provider_id>/<model_id>``."""
        for number, page in enumerate(pages, 1):
            document = expect_dict(page.document, f"{self.gateway} page {number}")
            for provider_id, provider in document.items():
                where = f"{self.gateway} provider {provider_id!r}"
                models = expect_dict(provider, where).get("models")
                if type(models) is not dict:
                    raise PayloadError(
                        f"{where}: models must be an object, got {type_name(models)}"
                    )
                for model_id, model in models.items():
                    if not model_id:
                        raise PayloadError(f"{where}: a model has an empty id")
                    yield f"{provider_id}/{model_id}", model

    def identify(self, gateway_model_id: str, fields: Mapping[str, Any]) -> Identity:
        """The ``author/model`` of ``<provider_id>/<model_id>``."""
        provider_id, _, model_id = gateway_model_id.partition("/")
        return self.resolve(modelsdev_model_id(provider_id, model_id))

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        get = raw.get
        identity = self.identify(gateway_model_id, raw)
        extra = {k: v for k, v in raw.items() if k not in _CONSUMED}
        pricing = _pricing(get("cost"), extra)
        limit = optional_dict(get("limit"), "limit")
        if not limit.keys() <= _LIMIT_KEYS:
            extra["limit"] = {k: v for k, v in limit.items() if k not in _LIMIT_KEYS}
        context = limit.get("context")
        output = limit.get("output")
        modalities = optional_dict(get("modalities"), "modalities")
        name = get("name")
        if name is not None and type(name) is not str:
            raise PayloadError(f"name must be a string, got {type_name(name)}")
        mask = 0
        for bit, flag in enumerate(_FLAGS):
            if get(flag) is True:
                mask |= 1 << bit
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=identity.id,
            name=name or None,
            provider_slug=identity.author,
            context_length=context
            if type(context) is int and context > 0
            else positive_int(context, "limit.context"),
            max_output_tokens=output
            if type(output) is int and output > 0
            else positive_int(output, "limit.output"),
            pricing=pricing,
            input_modalities=string_tuple(modalities.get("input"), "modalities.input"),
            output_modalities=string_tuple(modalities.get("output"), "modalities.output"),
            supported_parameters=_PARAMETER_SETS[mask],
            status=ModelStatus.DEPRECATED if get("status") == "deprecated" else ModelStatus.ACTIVE,
            variants=identity.variants,
            extra=extra,
        )
