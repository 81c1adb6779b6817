"""PURE: how each gateway spells model ids (its *dialect*), as data.

A dialect names what a gateway adds to a model's name that is not the model: serving tiers
(Groq's ``-versatile``, Nebius' ``-fast``, Together's ``-Turbo``), account paths (Fireworks'
``accounts/<account>/models/<name>``), version spellings (Fireworks' ``v3p3``), context suffixes
(Groq's ``llama3-70b-8192``), and whether a bare family name means the instruct model (a chat API
serving ``llama-3.1-8b`` serves the instruct model). A gateway's dialect is its name unless its
options set ``id_dialect``; an unknown dialect gets the generic rules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    """The id conventions of one gateway (every field defaults to "none of that")."""

    name: str
    serving_suffixes: frozenset[str] = frozenset()
    """Trailing words naming how this gateway serves a model, kept as the offer's variants."""
    chat_only: bool = False
    """A bare name of a model released as base + instruct means the instruct model here."""
    account_paths: bool = False
    """Ids read ``accounts/<account>/models/<name>`` (the account is the author...)."""
    host_accounts: frozenset[str] = frozenset()
    """...unless it is one of these: the gateway's own account, hosting other authors' models."""
    p_versions: bool = False
    """Versions are spelled with ``p`` for the point: ``v3p3`` is ``3.3``, ``qwen2p5`` is 2.5."""
    context_suffix: bool = False
    """A trailing context size after the parameter count (``llama3-70b-8192``) is dropped."""
    fixed_author: str | None = None
    """Every model of this gateway is this author's."""
    colon_variants: bool = False
    """``model:tag`` is a variant of the offer (OpenRouter's ``:free``, ``:thinking``)."""


GENERIC = Dialect("generic")

DIALECTS: Mapping[str, Dialect] = {
    dialect.name: dialect
    for dialect in (
        Dialect("openrouter", colon_variants=True),
        Dialect(
            "groq",
            serving_suffixes=frozenset({"versatile", "instant", "specdec"}),
            chat_only=True,
            context_suffix=True,
        ),
        Dialect("cerebras", chat_only=True),
        Dialect(
            "together",
            serving_suffixes=frozenset({"turbo", "lite", "free", "tput", "reference"}),
        ),
        Dialect(
            "fireworks",
            serving_suffixes=frozenset({"basic"}),
            account_paths=True,
            host_accounts=frozenset({"fireworks"}),
            p_versions=True,
        ),
        Dialect("google", fixed_author="google"),
        Dialect("nebius", serving_suffixes=frozenset({"fast"})),
        Dialect("xai", chat_only=True, fixed_author="x-ai"),
        Dialect("huggingface"),
        Dialect("near"),
        Dialect("fal"),
        Dialect("vercel-ai-gateway", chat_only=True),
        Dialect("aimo"),
    )
}
"""The shipped gateways' dialects, by gateway name."""


def dialect_for(name: str) -> Dialect:
    """The dialect called ``name``, or the generic one."""
    return DIALECTS.get(name, GENERIC)
