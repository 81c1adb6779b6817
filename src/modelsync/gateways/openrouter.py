"""OpenRouter's list-models API, and the OpenRouter-shaped field helpers other adapters reuse.

Request: ``GET {base_url}?output_modalities=all`` (the default hides image, audio, embedding and
rerank models); ``options["params"]`` adds or overrides query parameters. A key is optional and
sent as ``Authorization: Bearer`` when configured.

Pagination: none in practice. A non-null ``links.next`` is followed: a URL (absolute or relative)
replaces the request URL, anything else is an opaque cursor sent as ``cursor``.

Fields: prices are USD per token as decimal strings, scaled to USD per 1M tokens; ``"-1"`` (router
models such as ``openrouter/auto``) is "variable", so ``None``; ``"0"`` is a real free price.
``input_cache_read``/``input_cache_write`` become ``cache_read``/``cache_write``; ``request`` and
``web_search`` (per request) and ``image`` (per image) are kept unscaled; ``internal_reasoning``
and ``audio`` are per token like the prompt; every other price key stays in
``extra["pricing"]``. ``top_provider.max_completion_tokens`` is the output limit. Modalities come
from ``architecture.input_modalities``/``output_modalities``, or (older captures) from
``architecture.modality`` such as ``"text+image->text"``. A non-null ``expiration_date`` is the
deprecation date and makes the model ``deprecated``.

Identity (:mod:`modelsync.identity`): the id, with ``hugging_face_id`` as evidence of the released
model when it names the same author (``deepseek/deepseek-chat`` is ``deepseek/deepseek-v3``); a
``:free``/``:thinking``... suffix is a variant of the offer. The author is the ``provider_slug``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

from modelsync.domain import NO_PRICING, Model, ModelStatus, Pricing
from modelsync.errors import PayloadError
from modelsync.gateways.base import (
    GatewayAdapter,
    GatewayConfig,
    Page,
    PageRequest,
    RawEntry,
    expect_dict,
    iso_date,
    optional_text,
    page_entries,
    positive_int,
    price,
    string_tuple,
    type_name,
)
from modelsync.identity import Identity

# --------------------------------------------------------------------------------------------
# Helpers shared by the openrouter, openai_compat, together, fireworks and google adapters


def sub_object(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A nested object field (``{}`` when null or absent)."""
    value = raw.get(key)
    if value is None:
        return {}
    return expect_dict(value, key)


def remaining(raw: Mapping[str, Any], used: frozenset[str]) -> dict[str, Any]:
    """The fields of ``raw`` not in ``used``: what an adapter keeps in ``extra``."""
    return {key: value for key, value in raw.items() if key not in used}


@lru_cache(maxsize=256)
def modalities_from_arrow(modality: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``"text+image->text"`` -> ``(("image", "text"), ("text",))``."""
    left, arrow, right = modality.partition("->")
    if not arrow:
        raise PayloadError(
            f"architecture.modality must read like 'text+image->text', got {modality!r}"
        )
    return _plus_list(left), _plus_list(right)


def _plus_list(side: str) -> tuple[str, ...]:
    return tuple(sorted({part.strip().lower() for part in side.split("+") if part.strip()}))


_ARCH_USED = frozenset({"input_modalities", "output_modalities"})


def architecture_modalities(
    architecture: Mapping[str, Any],
) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, Any]]:
    """Input and output modalities of an ``architecture`` object, and its remaining fields."""
    modality = architecture.get("modality")
    derived: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    if modality is not None:
        if type(modality) is not str:
            raise PayloadError(f"architecture.modality must be a string, got {type_name(modality)}")
        derived = modalities_from_arrow(modality)
    inputs = architecture.get("input_modalities")
    outputs = architecture.get("output_modalities")
    return (
        derived[0] if inputs is None else string_tuple(inputs, "architecture.input_modalities"),
        derived[1] if outputs is None else string_tuple(outputs, "architecture.output_modalities"),
        remaining(architecture, _ARCH_USED),
    )


_PRICE_KEYS: Mapping[str, tuple[str, str, bool]] = {
    "prompt": ("prompt", "pricing.prompt", True),
    "completion": ("completion", "pricing.completion", True),
    "input_cache_read": ("cache_read", "pricing.input_cache_read", True),
    "input_cache_write": ("cache_write", "pricing.input_cache_write", True),
    "request": ("request", "pricing.request", False),
    "image": ("image", "pricing.image", False),
    "web_search": ("web_search", "pricing.web_search", False),
    "internal_reasoning": ("internal_reasoning", "pricing.internal_reasoning", True),
    "audio": ("audio", "pricing.audio", True),
}
"""OpenRouter price key -> (Pricing field, name in messages, priced per token)."""


def openrouter_pricing(raw: Any, *, scale: int = 6) -> tuple[Pricing, dict[str, Any]]:
    """An OpenRouter ``pricing`` object (per-token prices at ``scale``) and its unused keys."""
    if raw is None:
        return NO_PRICING, {}
    values: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in expect_dict(raw, "pricing").items():
        target = _PRICE_KEYS.get(key)
        if target is None:
            rest[key] = value
        else:
            field, what, per_token = target
            values[field] = price(value, what, scale=scale if per_token else 0)
    return (Pricing(**values) if values else NO_PRICING), rest


# --------------------------------------------------------------------------------------------
# The adapter


_USED = frozenset(
    {
        "id",
        "name",
        "description",
        "context_length",
        "architecture",
        "pricing",
        "top_provider",
        "supported_parameters",
        "expiration_date",
    }
)
_TOP_USED = frozenset({"max_completion_tokens"})


class OpenRouterAdapter(GatewayAdapter):
    """``GET /api/v1/models`` of OpenRouter (or any gateway serving the same shape)."""

    kind = "openrouter"
    default_params: Mapping[str, str] = {"output_modalities": "all"}

    def next_request(
        self, config: GatewayConfig, previous: PageRequest, page: Page
    ) -> PageRequest | None:
        """Follows a non-null ``links.next``; a link that points at the same request ends it."""
        document = page.document
        links = document.get("links") if type(document) is dict else None
        link = links.get("next") if type(links) is dict else None
        if link is None or link == "":
            return None
        if type(link) is not str:
            raise PayloadError(f"{self.gateway}: links.next must be a string, got {link!r}")
        following = follow_link(previous, link)
        if following.url == previous.url and following.params == previous.params:
            return None
        return following

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Each object of every page's ``data`` array."""
        return page_entries(self.gateway, pages, "data")

    def identify(self, gateway_model_id: str, fields: Mapping[str, Any]) -> Identity:
        """The id, with ``hugging_face_id`` as evidence."""
        return self.resolve(gateway_model_id, hf_id=fields.get("hugging_face_id"))

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        identity = self.identify(gateway_model_id, raw)
        inputs, outputs, architecture = architecture_modalities(sub_object(raw, "architecture"))
        top = sub_object(raw, "top_provider")
        pricing, pricing_rest = openrouter_pricing(raw.get("pricing"))
        expiration = iso_date(raw.get("expiration_date"), "expiration_date")
        context = positive_int(raw.get("context_length"), "context_length")
        if context is None:
            context = positive_int(top.get("context_length"), "top_provider.context_length")
        extra = remaining(raw, _USED)
        for key, rest in (
            ("architecture", architecture),
            ("pricing", pricing_rest),
            ("top_provider", remaining(top, _TOP_USED)),
        ):
            if rest:
                extra[key] = rest
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=identity.id,
            name=optional_text(raw.get("name"), "name"),
            description=optional_text(raw.get("description"), "description"),
            provider_slug=identity.author,
            context_length=context,
            max_output_tokens=positive_int(
                top.get("max_completion_tokens"), "top_provider.max_completion_tokens"
            ),
            pricing=pricing,
            input_modalities=inputs,
            output_modalities=outputs,
            supported_parameters=string_tuple(
                raw.get("supported_parameters"), "supported_parameters"
            ),
            status=ModelStatus.DEPRECATED if expiration else ModelStatus.ACTIVE,
            deprecation_date=expiration,
            variants=identity.variants,
            extra=extra,
        )


def follow_link(previous: PageRequest, link: str) -> PageRequest:
    """The request a ``next`` link names: a URL (query included) or an opaque ``cursor``."""
    if "/" in link or "?" in link:
        url = urljoin(previous.url, link)
        params = {} if urlsplit(url).query else dict(previous.params)
    else:
        url = previous.url
        params = {**previous.params, "cursor": link}
    return previous.following(url=url, params=params)
