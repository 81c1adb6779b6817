"""fal.ai Platform API model search: ``GET https://api.fal.ai/v1/models``.

Shape: ``{"models": [{endpoint_id, metadata{display_name, category, description, status, tags,
updated_at, is_favorited, thumbnail_url, thumbnail_animated_url?, model_url, license_type, date,
group?, highlighted, kind ("inference"/"training"), pinned, ...}}], "next_cursor", "has_more"}``.
Auth ``Authorization: Key <FAL_KEY>`` (optional). Paged by cursor: ``cursor=<next_cursor>`` while
``has_more``; option ``page_size`` sets ``limit`` (the server's default is 100).

- Training endpoints (``kind`` or ``category`` "training") are not models and are dropped.
- Prices come from a separate API, ``GET /v1/models/pricing?endpoint_id=...`` (up to
  :data:`PRICING_BATCH` ids a request; auth required by fal, so it is asked only with a key or
  through the simulator): ``{"prices": [{endpoint_id, unit_price, unit, currency}]}``. The runner
  fetches it after the listing and attaches each endpoint's price to its entry as ``pricing``
  (:meth:`FalAdapter.attach_prices`), so the raw entry (and its hash) carries its price. A unit
  price per image, second, megapixel, video, ... is ``pricing.unit_price`` with ``per_unit``; only a
  price per token(s) goes into the per-1M-token field ``prompt`` (the endpoint gives one price, the
  input's). A non-USD price is unknown. When the pricing API fails, the runner attaches the
  stored prices instead (:meth:`FalAdapter.keep_prices`): prices stay as they were.
- status: ``metadata.status`` "deprecated" -> deprecated, anything else -> active.
- modalities from ``category``: ``a-to-b`` -> ``a`` in, ``b`` out (``speech`` counts as
  ``audio``; unknown words are left out), ``llm`` text -> text, ``vision`` image + text -> text.
- extra: the remaining metadata without ``is_favorited`` (per user) and the thumbnails.

Identity (:mod:`modelsync.identity`): the ``endpoint_id``, its first segment the author
(``fal-ai/flux/dev`` -> ``fal-ai/flux/dev``, ``bytedance/seedance-2.0/text-to-video`` stays).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from modelsync.domain import (
    COMPARED_FIELDS,
    NO_PRICING,
    CatalogEntry,
    Model,
    ModelStatus,
    Pricing,
)
from modelsync.errors import ConfigError, PayloadError
from modelsync.gateways.base import (
    GatewayAdapter,
    GatewayConfig,
    Page,
    PageRequest,
    RawEntry,
    expect_dict,
    optional_dict,
    optional_text,
    page_entries,
    price,
    type_name,
)

PRICING_BATCH = 50
"""Endpoint ids per pricing request (fal takes 1-50 ``endpoint_id`` parameters)."""

_TOKENS = re.compile(
    r"^(?:(1m|1k|1 ?million|million|1 ?thousand|thousand)\s+)?(?:input\s+)?tokens?$"
)
_TOKEN_SCALES = {"": 6, "1k": 3, "thousand": 3, "1thousand": 3, "1 thousand": 3}
_UNIT_WORD = re.compile(r"[^a-z0-9]+")
_UNIT_PRICE = COMPARED_FIELDS.index("pricing.unit_price")
_PER_UNIT = COMPARED_FIELDS.index("pricing.per_unit")
_PROMPT = COMPARED_FIELDS.index("pricing.prompt")


def fal_unit(unit: str) -> tuple[str, int | None]:
    """``(per_unit, None)`` for a unit price, ``("token", scale)`` for a token price (``scale``
    turns it into USD per 1M tokens): ``"images"`` -> ``("image", None)``, ``"1M tokens"`` ->
    ``("token", 0)``, ``"tokens"`` -> ``("token", 6)``."""
    lowered = " ".join(unit.lower().split())
    match = _TOKENS.match(lowered)
    if match:
        size = match.group(1) or ""
        return "token", _TOKEN_SCALES.get(size, 0)
    word = _UNIT_WORD.sub("_", lowered).strip("_")
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    return word, None


def unit_pricing(raw: Any) -> Pricing:
    """The :class:`Pricing` of one attached fal price ``{unit_price, unit, currency?}``."""
    if raw is None:
        return NO_PRICING
    if type(raw) is not dict:
        raise PayloadError(f"pricing must be an object, got {type_name(raw)}")
    currency = raw.get("currency", "USD")
    if currency is not None and (type(currency) is not str or currency.upper() != "USD"):
        return NO_PRICING  # a price in another currency is not comparable: unknown
    unit = raw.get("unit")
    if type(unit) is not str or not unit.strip():
        raise PayloadError(f"pricing.unit must be a non-empty string, got {unit!r}")
    per_unit, scale = fal_unit(unit)
    if not per_unit:
        raise PayloadError(f"pricing.unit {unit!r} names no unit")
    if scale is not None:
        return Pricing(prompt=price(raw.get("unit_price"), "pricing.unit_price", scale=scale))
    value = price(raw.get("unit_price"), "pricing.unit_price")
    return NO_PRICING if value is None else Pricing(unit_price=value, per_unit=per_unit)


def stored_price(entry: CatalogEntry) -> dict[str, str] | None:
    """A stored fal offer's price in the pricing API's shape (what :meth:`keep_prices` attaches)."""
    values = entry.values
    unit_price, per_unit, prompt = values[_UNIT_PRICE], values[_PER_UNIT], values[_PROMPT]
    if isinstance(unit_price, str) and isinstance(per_unit, str):
        return {"unit_price": unit_price, "unit": per_unit, "currency": "USD"}
    if isinstance(prompt, str):
        return {"unit_price": prompt, "unit": "1M tokens", "currency": "USD"}
    return None


def _models(pages: Sequence[Page]) -> Iterator[dict[str, Any]]:
    """Each listing item that is an object with a string ``endpoint_id``."""
    for page in pages:
        document = page.document
        items = document.get("models") if type(document) is dict else None
        if type(items) is not list:
            continue
        for item in items:
            if type(item) is dict and type(item.get("endpoint_id")) is str:
                yield item


_DROPPED = frozenset(
    {"display_name", "description", "status", "is_favorited", "thumbnail_url",
     "thumbnail_animated_url"}
)  # fmt: skip
_ITEM_KEYS = frozenset({"endpoint_id", "metadata", "pricing"})
_MEDIA = {"text": "text", "image": "image", "video": "video", "audio": "audio", "speech": "audio"}
_SPECIAL: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "llm": (("text",), ("text",)),
    "vision": (("image", "text"), ("text",)),
}


@lru_cache(maxsize=256)
def category_modalities(category: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(input, output)`` modalities a fal category implies; ``((), ())`` when unclear."""
    if not category:
        return (), ()
    special = _SPECIAL.get(category)
    if special is not None:
        return special
    source, sep, target = category.partition("-to-")
    if not sep:
        return (), ()
    inputs = _MEDIA.get(source)
    outputs = _MEDIA.get(target)
    return ((inputs,) if inputs else ()), ((outputs,) if outputs else ())


def is_training(metadata: dict[str, Any]) -> bool:
    """Whether a listing item is a training endpoint rather than a model."""
    return metadata.get("kind") == "training" or metadata.get("category") == "training"


class FalAdapter(GatewayAdapter):
    """fal's model search, cursor-paged; prices from its pricing API, attached by the runner."""

    kind = "fal"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        """fal takes ``Authorization: Key <key>``."""
        return {"Authorization": f"Key {api_key}"} if api_key else {}

    def first_request(self, config: GatewayConfig) -> PageRequest:
        """The first page (``limit`` only when ``page_size`` is configured)."""
        size = config.options.get("page_size")
        if size is not None and (type(size) is not int or size <= 0):
            raise ConfigError(f"{self.gateway}: page_size must be a positive integer, not {size!r}")
        params = {} if size is None else {"limit": str(size)}
        return PageRequest(
            url=config.base_url, params=params, headers=self.auth_headers(config.api_key)
        )

    def next_request(
        self, config: GatewayConfig, previous: PageRequest, page: Page
    ) -> PageRequest | None:
        """``cursor=<next_cursor>`` while ``has_more`` is not false and a cursor is given."""
        where = f"{self.gateway} page {previous.page}"
        document = expect_dict(page.document, where)
        has_more = document.get("has_more")
        cursor = document.get("next_cursor")
        if has_more is False or (has_more is None and cursor is None):
            return None
        if type(cursor) is not str or not cursor:
            raise PayloadError(f"{where}: has_more without a next_cursor (got {cursor!r})")
        if cursor == previous.params.get("cursor"):
            raise PayloadError(f"{where}: next_cursor {cursor!r} repeats the current page")
        return previous.following(params={**previous.params, "cursor": cursor})

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Each ``models[]`` item keyed by ``endpoint_id``, training endpoints dropped."""
        self.filtered = {}
        for endpoint_id, item in page_entries(self.gateway, pages, "models", id_key="endpoint_id"):
            metadata = item.get("metadata")
            if type(metadata) is dict and is_training(metadata):
                self.drop("training endpoint")
            else:
                yield endpoint_id, item

    # -- prices (a separate API: the runner fetches, the adapter reads) -------------------

    def pricing_url(self, config: GatewayConfig) -> str:
        """``options.pricing_url``, else ``<base_url>/pricing``."""
        url = config.options.get("pricing_url")
        if url is not None and (type(url) is not str or not url):
            raise ConfigError(f"{self.gateway}: pricing_url must be a URL, not {url!r}")
        return url or config.base_url.rstrip("/") + "/pricing"

    def price_requests(self, config: GatewayConfig, pages: Sequence[Page]) -> list[PageRequest]:
        """The pricing requests for every model of the listing, :data:`PRICING_BATCH` ids each
        (none when ``options.prices`` is false)."""
        if config.options.get("prices") is False:
            return []
        ids = sorted({item["endpoint_id"] for item in _models(pages)})
        url = self.pricing_url(config)
        headers = self.auth_headers(config.api_key)
        batches = [ids[at : at + PRICING_BATCH] for at in range(0, len(ids), PRICING_BATCH)]
        return [
            PageRequest(
                url=f"{url}?{urlencode([('endpoint_id', i) for i in batch])}",
                headers=headers,
                page=number,
            )
            for number, batch in enumerate(batches, 1)
        ]

    def read_prices(self, documents: Sequence[Any]) -> dict[str, dict[str, Any]]:
        """``endpoint_id -> {unit_price, unit, currency}`` from the pricing answers; a malformed
        answer is a PayloadError (the whole pricing then counts as failed)."""
        prices: dict[str, dict[str, Any]] = {}
        for number, document in enumerate(documents, 1):
            where = f"{self.gateway} pricing answer {number}"
            items = expect_dict(document, where).get("prices")
            if type(items) is not list:
                raise PayloadError(f"{where}: prices must be a list, got {type_name(items)}")
            for item in items:
                if type(item) is not dict or type(item.get("endpoint_id")) is not str:
                    raise PayloadError(f"{where}: a price without an endpoint_id")
                prices[item["endpoint_id"]] = {
                    k: item[k] for k in ("unit_price", "unit", "currency") if k in item
                }
        return prices

    def attach_prices(self, pages: Sequence[Page], prices: Mapping[str, Any]) -> None:
        """Put each model's price on its listing item as ``pricing`` (none: no key)."""
        for item in _models(pages):
            found = prices.get(item["endpoint_id"])
            if found is None:
                item.pop("pricing", None)
            else:
                item["pricing"] = found

    def keep_prices(self, pages: Sequence[Page], previous: Mapping[str, CatalogEntry]) -> None:
        """The pricing API failed: attach each model's stored price, so prices stay as they were."""
        kept: dict[str, Any] = {}
        for key, entry in previous.items():
            stored = stored_price(entry)
            if stored is not None:
                kept[key] = stored
        self.attach_prices(pages, kept)

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        entry = raw
        meta = optional_dict(entry.get("metadata"), "metadata")
        category = optional_text(meta.get("category"), "metadata.category")
        status = optional_text(meta.get("status"), "metadata.status")
        inputs, outputs = category_modalities(category)
        identity = self.identify(gateway_model_id, entry)
        extra = {k: v for k, v in entry.items() if k not in _ITEM_KEYS}
        extra.update((k, v) for k, v in meta.items() if k not in _DROPPED)
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=identity.id,
            name=optional_text(meta.get("display_name"), "metadata.display_name"),
            description=optional_text(meta.get("description"), "metadata.description"),
            provider_slug=identity.author,
            pricing=unit_pricing(entry.get("pricing")),
            input_modalities=inputs,
            output_modalities=outputs,
            status=ModelStatus.DEPRECATED if status == "deprecated" else ModelStatus.ACTIVE,
            variants=identity.variants,
            extra=extra,
        )
