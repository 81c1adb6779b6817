"""NEAR AI Cloud: ``GET https://cloud-api.near.ai/v1/model/list?limit=100&offset=0``.

Shape: ``{"models": [{modelId, inputCostPerToken{amount, scale, currency}, outputCostPerToken,
cacheReadCostPerToken?, costPerImage?, textPricing?, metadata{contextLength, modelDisplayName,
modelDescription, ownedBy, aliases?, architecture?{inputModalities, outputModalities},
maxOutputLength?, supportedSamplingParameters?, supportedFeatures?, deprecationDate?, isReady?,
...}}], "limit", "offset", "total"}``. Paged by ``offset``: the next page starts at ``offset +
len(models)`` until that reaches ``total`` (or a page comes back empty, or short when ``total`` is
absent). Option ``page_size`` (default 100) sets ``limit``.

Price rule: a cost is ``amount * 10**-abs(scale)`` USD per token (per image for ``costPerImage``);
``scale`` missing -> 9. The live server sends ``scale: 9`` (nano-USD: amount 150 -> $0.15 per 1M
tokens); older clients and the gatewayz mock send ``scale: -6`` with the amount in $/1M (amount 1
-> $1 per 1M). Both fit the rule, which is why the sign of ``scale`` is ignored.

Also: ``metadata.displayName`` / ``description`` (the mock's names) are read when the
``model*`` names are absent; ``supportedSamplingParameters`` and ``supportedFeatures`` together
are the supported parameters; a ``deprecationDate`` marks the model ``deprecated``.

Identity (:mod:`modelsync.identity`): ``modelId`` (``zai-org/GLM-4.6`` -> ``z-ai/glm-4.6``), with
``metadata.huggingFaceId`` as evidence of the released model; ``metadata.ownedBy`` is the author of
an id without an org. Both stay in ``extra["metadata"]``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
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
    expect_list,
    iso_date,
    optional_dict,
    optional_text,
    page_entries,
    positive_int,
    price,
    string_tuple,
    type_name,
)
from modelsync.identity import Identity

DEFAULT_SCALE = 9
"""NEAR's documented unit: nano-USD (10⁻⁹ USD)."""

DEFAULT_PAGE_SIZE = 100

_TOP_CONSUMED = frozenset(
    {"modelId", "inputCostPerToken", "outputCostPerToken", "cacheReadCostPerToken",
     "costPerImage", "metadata"}
)  # fmt: skip
_META_CONSUMED = frozenset(
    {"contextLength", "modelDisplayName", "displayName", "modelDescription", "description",
     "architecture", "maxOutputLength", "supportedSamplingParameters",
     "supportedFeatures", "deprecationDate"}
)  # fmt: skip


def near_cost(value: Any, what: str, *, per_token: bool = True) -> Decimal | None:
    """A NEAR cost object in USD per 1M tokens (``per_token``) or per unit; ``None`` = unknown."""
    if value is None:
        return None
    if type(value) is not dict:
        raise PayloadError(f"{what} must be an object, got {type_name(value)}")
    scale = value.get("scale")
    if scale is None:
        scale = DEFAULT_SCALE
    elif type(scale) is not int:
        raise PayloadError(f"{what}.scale must be an integer, got {scale!r}")
    currency = value.get("currency")
    if currency is not None and currency != "USD":
        raise PayloadError(f"{what}.currency must be USD, got {currency!r}")
    return price(value.get("amount"), f"{what}.amount", scale=(6 if per_token else 0) - abs(scale))


def _count(value: Any, what: str) -> int:
    if type(value) is not int or value < 0:
        raise PayloadError(f"{what} must be a non-negative integer, got {value!r}")
    return value


class NearAdapter(GatewayAdapter):
    """NEAR AI Cloud's priced model list, paged by offset."""

    kind = "near"

    def first_request(self, config: GatewayConfig) -> PageRequest:
        """Offset 0 with the configured page size."""
        limit = config.options.get("page_size", DEFAULT_PAGE_SIZE)
        if type(limit) is not int or limit <= 0:
            raise ConfigError(
                f"{self.gateway}: page_size must be a positive integer, not {limit!r}"
            )
        return PageRequest(
            url=config.base_url,
            params={"limit": str(limit), "offset": "0"},
            headers=self.auth_headers(config.api_key),
        )

    def next_request(
        self, config: GatewayConfig, previous: PageRequest, page: Page
    ) -> PageRequest | None:
        """The page at ``offset + len(models)`` while that is below ``total``."""
        where = f"{self.gateway} page {previous.page}"
        document = expect_dict(page.document, where)
        models = expect_list(document.get("models"), f"{where}: models")
        if not models:
            return None
        asked = int(previous.params.get("offset", "0"))
        offset = asked if document.get("offset") is None else _count(document["offset"], "offset")
        limit = document.get("limit")
        limit = int(previous.params.get("limit", DEFAULT_PAGE_SIZE)) if limit is None else limit
        following = offset + len(models)
        total = document.get("total")
        if total is None:
            if len(models) < _count(limit, "limit"):
                return None
        elif following >= _count(total, "total"):
            return None
        return previous.following(params={**previous.params, "offset": str(following)})

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Each ``models[]`` item keyed by its ``modelId``."""
        return page_entries(self.gateway, pages, "models", id_key="modelId")

    def identify(self, gateway_model_id: str, fields: Mapping[str, Any]) -> Identity:
        """The id; ``metadata.huggingFaceId`` is evidence, ``metadata.ownedBy`` the author."""
        meta = fields.get("metadata")
        meta = meta if type(meta) is dict else {}
        return self.resolve(
            gateway_model_id, author=meta.get("ownedBy"), hf_id=meta.get("huggingFaceId")
        )

    def stored_identity(self, model: Model) -> Identity:
        """As :meth:`identify`; rows stored before ``ownedBy`` was kept name it as provider."""
        meta = model.extra.get("metadata")
        if type(meta) is dict and "ownedBy" in meta:
            return super().stored_identity(model)
        return self.identify(
            model.gateway_model_id, {"metadata": {**(meta or {}), "ownedBy": model.provider_slug}}
        )

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        entry = raw
        meta = optional_dict(entry.get("metadata"), "metadata")
        architecture = optional_dict(meta.get("architecture"), "metadata.architecture")
        prompt = near_cost(entry.get("inputCostPerToken"), "inputCostPerToken")
        completion = near_cost(entry.get("outputCostPerToken"), "outputCostPerToken")
        cache_read = near_cost(entry.get("cacheReadCostPerToken"), "cacheReadCostPerToken")
        image = near_cost(entry.get("costPerImage"), "costPerImage", per_token=False)
        pricing = (
            NO_PRICING
            if prompt is None and completion is None and cache_read is None and image is None
            else Pricing(prompt=prompt, completion=completion, cache_read=cache_read, image=image)
        )
        parameters = string_tuple(
            meta.get("supportedSamplingParameters"), "metadata.supportedSamplingParameters"
        ) + string_tuple(meta.get("supportedFeatures"), "metadata.supportedFeatures")
        deprecation = iso_date(meta.get("deprecationDate"), "metadata.deprecationDate")
        optional_text(meta.get("ownedBy"), "metadata.ownedBy")  # a non-string is malformed
        identity = self.identify(gateway_model_id, entry)
        name = optional_text(meta.get("modelDisplayName"), "metadata.modelDisplayName")
        description = optional_text(meta.get("modelDescription"), "metadata.modelDescription")
        extra: dict[str, Any] = {k: v for k, v in entry.items() if k not in _TOP_CONSUMED}
        rest = {k: v for k, v in meta.items() if k not in _META_CONSUMED}
        if rest:
            extra["metadata"] = rest
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=identity.id,
            name=name or optional_text(meta.get("displayName"), "metadata.displayName"),
            description=description
            or optional_text(meta.get("description"), "metadata.description"),
            provider_slug=identity.author,
            context_length=positive_int(meta.get("contextLength"), "metadata.contextLength"),
            max_output_tokens=positive_int(meta.get("maxOutputLength"), "metadata.maxOutputLength"),
            pricing=pricing,
            input_modalities=string_tuple(
                architecture.get("inputModalities"), "metadata.architecture.inputModalities"
            ),
            output_modalities=string_tuple(
                architecture.get("outputModalities"), "metadata.architecture.outputModalities"
            ),
            supported_parameters=tuple(sorted(set(parameters))),
            status=ModelStatus.DEPRECATED if deprecation else ModelStatus.ACTIVE,
            deprecation_date=deprecation,
            variants=identity.variants,
            extra=extra,
        )
