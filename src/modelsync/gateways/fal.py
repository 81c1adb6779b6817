"""fal.ai Platform API model search: ``GET https://api.fal.ai/v1/models``.

Shape: ``{"models": [{endpoint_id, metadata{display_name, category, description, status, tags,
updated_at, is_favorited, thumbnail_url, thumbnail_animated_url?, model_url, license_type, date,
group?, highlighted, kind ("inference"/"training"), pinned, ...}}], "next_cursor", "has_more"}``.
Auth ``Authorization: Key <FAL_KEY>`` (optional). Paged by cursor: ``cursor=<next_cursor>`` while
``has_more``; option ``page_size`` sets ``limit`` (the server's default is 100).

- Training endpoints (``kind`` or ``category`` "training") are not models and are dropped.
- No token prices here (pricing is a separate per-endpoint API): pricing stays unknown.
- status: ``metadata.status`` "deprecated" -> deprecated, anything else -> active.
- modalities from ``category``: ``a-to-b`` -> ``a`` in, ``b`` out (``speech`` counts as
  ``audio``; unknown words are left out), ``llm`` text -> text, ``vision`` image + text -> text.
- extra: the remaining metadata without ``is_favorited`` (per user) and the thumbnails.

Identity (:mod:`modelsync.identity`): the ``endpoint_id``, its first segment the author
(``fal-ai/flux/dev`` -> ``fal-ai/flux/dev``, ``bytedance/seedance-2.0/text-to-video`` stays).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from modelsync.domain import Model, ModelStatus
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
)

_DROPPED = frozenset(
    {"display_name", "description", "status", "is_favorited", "thumbnail_url",
     "thumbnail_animated_url"}
)  # fmt: skip
_ITEM_KEYS = frozenset({"endpoint_id", "metadata"})
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
    """fal's model search, cursor-paged, without prices."""

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
            input_modalities=inputs,
            output_modalities=outputs,
            status=ModelStatus.DEPRECATED if status == "deprecated" else ModelStatus.ACTIVE,
            variants=identity.variants,
            extra=extra,
        )
