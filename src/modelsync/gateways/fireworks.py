"""Fireworks AI's OpenAI-compatible list: ``GET /inference/v1/models``.

Request: ``GET {base_url}`` with ``options["params"]`` and Bearer. No pagination; the body is
``{"data": [...]}``.

The list mixes the public serverless catalog (Fireworks' own account, and other publishers such
as ``accounts/perplexity/models/r1-1776``) with the key owner's private fine-tunes (the recorded
one holds ``accounts/instacart/models/srl-finetune-0417-debug``, a ``HF_PEFT_ADDON``). Every model
a customer can call is kept, whatever account owns it; dropped, and counted in ``filtered``:

- add-ons (``kind`` ``*_ADDON``: LoRA fine-tunes) outside ``options["public_accounts"]``
  (default ``["fireworks"]``): fine-tunes of the key owner's account;
- every model of an account in ``options["private_accounts"]`` (default none: name the key
  owner's account there to leave its deployed models out too).

The options are read when a listing starts (:meth:`FireworksAdapter.first_request`).

Fields: ``context_length``; ``supports_image_input`` adds ``image`` to the input modalities;
``kind`` ``FLUMINA_BASE_MODEL`` (FLUX and other image models) outputs ``image``, every other kind
``text``; ``supports_tools`` becomes the supported parameter ``tools``. There are no prices.

Identity (:mod:`modelsync.identity`): ``accounts/<account>/models/<name>`` is ``<account>``'s
``<name>``, except on Fireworks' own account, which hosts other authors' models: there the model
family names the author (``accounts/fireworks/models/llama-v3p3-70b-instruct`` ->
``meta-llama/llama-3.3-70b-instruct``; ``v3p3`` is version 3.3, ``-basic`` a serving variant).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from modelsync.domain import Model
from modelsync.errors import ConfigError, PayloadError
from modelsync.gateways.base import (
    GatewayAdapter,
    GatewayConfig,
    Page,
    PageRequest,
    RawEntry,
    expect_dict,
    listed_entries,
    optional_text,
    positive_int,
    type_name,
)
from modelsync.gateways.openrouter import remaining

DEFAULT_PUBLIC_ACCOUNTS = ("fireworks",)
IMAGE_KINDS = frozenset({"FLUMINA_BASE_MODEL"})
"""``kind`` values of models that generate images."""


def account_of(raw_id: str) -> str | None:
    """The account of ``accounts/<account>/models/<name>``, else ``None``."""
    if not raw_id.startswith("accounts/"):
        return None
    return raw_id.split("/", 2)[1] or None


def account_names(config: GatewayConfig, option: str, default: Iterable[str]) -> frozenset[str]:
    """An option naming accounts (a list of names, or one name)."""
    value = config.options.get(option, default)
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, Iterable) or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"gateway {config.name!r}: {option} must be a list of account names")
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
    """``GET /inference/v1/models`` of Fireworks AI, without the key owner's fine-tunes."""

    kind = "fireworks"
    dialect = "fireworks"

    def __init__(
        self,
        gateway: str,
        *,
        id_dialect: str | None = None,
        public_accounts: Iterable[str] = DEFAULT_PUBLIC_ACCOUNTS,
        private_accounts: Iterable[str] = (),
    ) -> None:
        super().__init__(gateway, id_dialect=id_dialect)
        self.public_accounts = frozenset(public_accounts)
        self.private_accounts = frozenset(private_accounts)

    def first_request(self, config: GatewayConfig) -> PageRequest:
        """Bearer and the configured params; also reads the account options."""
        self.public_accounts = account_names(config, "public_accounts", DEFAULT_PUBLIC_ACCOUNTS)
        self.private_accounts = account_names(config, "private_accounts", ())
        return super().first_request(config)

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """The entries of ``data`` a customer can call (rules in the module docstring)."""
        self.filtered = {}
        for number, page in enumerate(pages, 1):
            where = f"{self.gateway} page {number}"
            data = expect_dict(page.document, where).get("data")
            if type(data) is not list:
                raise PayloadError(f"{where}: data must be a list, got {type_name(data)}")
            for model_id, raw in listed_entries(data, where):
                reason = self.private_reason(model_id, raw)
                if reason is None:
                    yield model_id, raw
                else:
                    self.drop(reason)

    def private_reason(self, model_id: str, raw: dict[str, Any]) -> str | None:
        """Why an entry is not in the public catalog, or ``None`` when it is."""
        owner = raw.get("owned_by")
        account = account_of(model_id) or (owner if type(owner) is str else None)
        if account in self.public_accounts:
            return None
        if account in self.private_accounts:
            return "account in private_accounts"
        kind = raw.get("kind")
        if type(kind) is str and kind.endswith("_ADDON"):
            return f"private fine-tune ({kind})"
        return None

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        identity = self.identify(gateway_model_id, raw)
        kind = optional_text(raw.get("kind"), "kind")
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=identity.id,
            name=optional_text(raw.get("display_name"), "display_name"),
            provider_slug=identity.author,
            context_length=positive_int(raw.get("context_length"), "context_length"),
            input_modalities=("image", "text") if flag(raw, "supports_image_input") else ("text",),
            output_modalities=("image",) if kind in IMAGE_KINDS else ("text",),
            supported_parameters=("tools",) if flag(raw, "supports_tools") else (),
            variants=identity.variants,
            extra=remaining(raw, _USED),
        )
