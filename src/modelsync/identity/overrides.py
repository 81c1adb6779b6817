"""PURE: the operator's corrections to the identity rules, from the ``[identity]`` TOML table.

::

    [identity.pins]        # one offer -> the canonical id it is ("gateway:raw id" = "id")
    "vercel-ai-gateway:mistral/devstral-small" = "mistralai/devstral-small-2505"
    "together:arcee_ai/arcee-spotlight" = "arcee-ai/arcee-spotlight"   # split it from a merge

    [identity.aliases]     # a canonical id -> the one it really is (merges every offer of it)
    "mistralai/pixtral-12b" = "mistralai/pixtral-12b-2409"

A pin wins over everything; an alias is applied to the id the rules produced. The fingerprint of
the rules and the overrides is stored with the catalog: when it changes, the stored ids are
migrated (:mod:`modelsync.identity.migrate`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import orjson

from modelsync.domain import Model
from modelsync.errors import ConfigError
from modelsync.identity.resolve import CANONICAL_ID, Identity

RULES_VERSION = "2026-11-29.1"
"""Bump with every change to the rules or tables of this package: stored ids are then migrated.
``tests/unit/test_identity_captures.py`` fails when the ids of the recorded captures change
without a bump."""


@dataclass(frozen=True, slots=True)
class IdentityOverrides:
    pins: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """``(gateway, raw id) -> canonical id``."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    """``canonical id -> canonical id``."""

    @classmethod
    def parse(cls, pins: Mapping[str, str], aliases: Mapping[str, str]) -> IdentityOverrides:
        """Overrides from the TOML tables; a malformed key or id is a ConfigError naming it."""
        parsed: dict[tuple[str, str], str] = {}
        for key, target in pins.items():
            gateway, sep, raw_id = key.partition(":")
            if not (sep and gateway.strip() and raw_id.strip()):
                raise ConfigError(
                    f"identity.pins key {key!r} must read 'gateway:raw model id' "
                    "(e.g. 'groq:llama-3.3-70b-versatile')"
                )
            parsed[gateway.strip(), raw_id.strip()] = _checked(f"identity.pins[{key!r}]", target)
        checked = {
            _checked("identity.aliases key", source): _checked(
                f"identity.aliases[{source!r}]", target
            )
            for source, target in aliases.items()
        }
        return cls(parsed, checked)

    def __bool__(self) -> bool:
        return bool(self.pins or self.aliases)

    def apply(self, gateway: str, raw_id: str, identity: Identity) -> Identity:
        """``identity`` as the overrides correct it (unchanged when none applies)."""
        target = self.pins.get((gateway, raw_id)) or self.aliases.get(identity.id)
        if target is None or target == identity.id:
            return identity
        return Identity(target, target.partition("/")[0], identity.variants)

    def fingerprint(self) -> str:
        """A digest of the rules version and these overrides (stored with the catalog)."""
        document = {
            "rules": RULES_VERSION,
            "pins": sorted(
                [gateway, raw_id, target] for (gateway, raw_id), target in self.pins.items()
            ),
            "aliases": sorted(self.aliases.items()),
        }
        return hashlib.sha256(orjson.dumps(document)).hexdigest()[:32]


NO_OVERRIDES = IdentityOverrides()


def _checked(where: str, value: str) -> str:
    if not isinstance(value, str) or not CANONICAL_ID.fullmatch(value):
        raise ConfigError(
            f"{where}: {value!r} is not a canonical id (lower case 'author/name', "
            "letters, digits, '.', '-' and '/')"
        )
    return value


def with_identity(model: Model, identity: Identity) -> Model:
    """``model`` under ``identity`` (the same object when nothing changes)."""
    if (
        model.id == identity.id
        and model.provider_slug == identity.author
        and model.variants == identity.variants
    ):
        return model
    return replace(model, id=identity.id, provider_slug=identity.author, variants=identity.variants)
