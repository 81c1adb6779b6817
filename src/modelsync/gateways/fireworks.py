"""Fireworks AI's OpenAI-compatible list: ``GET /inference/v1/models``.

Request: ``GET {base_url}`` with ``options["params"]`` and Bearer. No pagination; the body is
``{"data": [...]}``.

The list mixes the public catalog with the key owner's private models and fine-tunes (the
recorded one holds ``accounts/instacart/...``): only ids under an account named in
``options["public_accounts"]`` (default ``["fireworks"]``) are kept; the option is read when a
listing starts (:meth:`FireworksAdapter.first_request`).

Fields: ``context_length``; ``supports_image_input`` adds ``image`` to the input modalities;
``kind`` ``FLUMINA_BASE_MODEL`` (FLUX and other image models) outputs ``image``, every other kind
``text``; ``supports_tools`` becomes the supported parameter ``tools``. There are no prices.

Canonical id (table-tested): ``accounts/<account>/models/<name>`` -> ``<account>/<name>`` in lower
case (``accounts/fireworks/models/deepseek-v3`` -> ``fireworks/deepseek-v3``); the account is the
``provider_slug``. Any other id: its ``author/slug`` if it has one, else ``{gateway}/{id}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from modelsync.domain import Model
from modelsync.errors import ConfigError, PayloadError
from modelsync.gateways.base import (
    GatewayAdapter,
    GatewayConfig,
    Page,
    PageRequest,
    RawEntry,
    canonical_id,
    expect_dict,
    listed_entries,
    optional_text,
    positive_int,
    slugify,
    split_author,
    type_name,
)
from modelsync.gateways.openrouter import remaining

DEFAULT_PUBLIC_ACCOUNTS = ("fireworks",)
IMAGE_KINDS = frozenset({"FLUMINA_BASE_MODEL"})
"""``kind`` values of models that generate images."""


@lru_cache(maxsize=4096)
def fireworks_identity(raw_id: str, gateway: str) -> tuple[str, str | None]:
    """``(canonical id, provider_slug)`` of a Fireworks id (rules in the module docstring)."""
    parts = raw_id.strip().split("/", 3)
    if len(parts) == 4 and parts[0] == "accounts" and parts[2] == "models" and parts[1]:
        author: str | None = parts[1]
        slug = parts[3]
    else:
        author, slug = split_author(raw_id.strip())
    owner = slugify(author) if author else None
    return canonical_id(owner, slug, gateway), owner


def account_of(raw_id: str) -> str | None:
    """The account of ``accounts/<account>/models/<name>``, else ``None``."""
    if not raw_id.startswith("accounts/"):
        return None
    return raw_id.split("/", 2)[1] or None


def public_accounts(config: GatewayConfig) -> frozenset[str]:
    """``options["public_accounts"]`` (a list of account names, or one name)."""
    value = config.options.get("public_accounts", DEFAULT_PUBLIC_ACCOUNTS)
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, Iterable) or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"gateway {config.name!r}: public_accounts must be a list of names")
    return frozenset(names)


def flag(raw: dict[str, Any], key: str) -> bool:
    """A boolean capability flag (absent or null is false)."""
    value = raw.get(key)
    if value is None:
        return False
    if type(value) is not bool:
        raise PayloadError(f"{key} must be true or false, got {value!r}")
    return value


_USED = frozenset(
    {"id", "display_name", "context_length", "supports_image_input", "supports_tools"}
)


class FireworksAdapter(GatewayAdapter):
    """``GET /inference/v1/models`` of Fireworks AI, public accounts only."""

    kind = "fireworks"

    def __init__(
        self, gateway: str, *, public_accounts: Iterable[str] = DEFAULT_PUBLIC_ACCOUNTS
    ) -> None:
        super().__init__(gateway)
        self.public_accounts = frozenset(public_accounts)

    def first_request(self, config: GatewayConfig) -> PageRequest:
        """Bearer and the configured params; also reads ``options["public_accounts"]``."""
        self.public_accounts = public_accounts(config)
        return super().first_request(config)

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """The entries of ``data`` whose account is public (``owned_by`` for other ids)."""
        accounts = self.public_accounts
        for number, page in enumerate(pages, 1):
            where = f"{self.gateway} page {number}"
            data = expect_dict(page.document, where).get("data")
            if type(data) is not list:
                raise PayloadError(f"{where}: data must be a list, got {type_name(data)}")
            for model_id, raw in listed_entries(data, where):
                account = account_of(model_id)
                if account is None:
                    owner = raw.get("owned_by")
                    account = owner if type(owner) is str else None
                if account in accounts:
                    yield model_id, raw

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        model_id, provider = fireworks_identity(gateway_model_id, self.gateway)
        kind = optional_text(raw.get("kind"), "kind")
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=model_id,
            name=optional_text(raw.get("display_name"), "display_name"),
            provider_slug=provider,
            context_length=positive_int(raw.get("context_length"), "context_length"),
            input_modalities=("image", "text") if flag(raw, "supports_image_input") else ("text",),
            output_modalities=("image",) if kind in IMAGE_KINDS else ("text",),
            supported_parameters=("tools",) if flag(raw, "supports_tools") else (),
            extra=remaining(raw, _USED),
        )
