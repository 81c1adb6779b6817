"""The gateways modelsync ships with: names, aliases, default tiers, endpoints and key variables.

Adapters are imported on first use, so listing gateways (the CLI's error message, the status page)
never imports every parser.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from modelsync.domain import Tier
from modelsync.errors import ConfigError
from modelsync.gateways.base import GatewayAdapter, GatewaySpec

ADAPTERS: Mapping[str, str] = {
    "openrouter": "modelsync.gateways.openrouter:OpenRouterAdapter",
    "openai_compat": "modelsync.gateways.openai_compat:OpenAICompatAdapter",
    "xai": "modelsync.gateways.openai_compat:XaiAdapter",
    "together": "modelsync.gateways.together:TogetherAdapter",
    "fireworks": "modelsync.gateways.fireworks:FireworksAdapter",
    "google": "modelsync.gateways.google:GoogleAdapter",
    "huggingface": "modelsync.gateways.huggingface:HuggingFaceAdapter",
    "near": "modelsync.gateways.near:NearAdapter",
    "fal": "modelsync.gateways.fal:FalAdapter",
    "vercel": "modelsync.gateways.vercel:VercelAdapter",
    "aimo": "modelsync.gateways.aimo:AimoAdapter",
    "litellm": "modelsync.gateways.litellm:LiteLLMAdapter",
    "modelsdev": "modelsync.gateways.modelsdev:ModelsDevAdapter",
}
"""Adapter kind -> ``module:class``. A configured gateway names one of these kinds."""

DEFAULT_INTERVALS: Mapping[Tier, int] = {
    Tier.HIGH: 15 * 60,
    Tier.MEDIUM: 60 * 60,
    Tier.LOW: 4 * 60 * 60,
}


def _spec(
    name: str,
    adapter: str,
    tier: Tier,
    base_url: str,
    key_env: str | None,
    *,
    key_required: bool,
    aliases: tuple[str, ...] = (),
    **options: object,
) -> GatewaySpec:
    return GatewaySpec(
        name=name,
        adapter=adapter,
        tier=tier,
        base_url=base_url,
        key_env=key_env,
        key_required=key_required,
        aliases=aliases,
        options=options,
    )


BUILTIN: tuple[GatewaySpec, ...] = (
    _spec("openrouter", "openrouter", Tier.HIGH, "https://openrouter.ai/api/v1/models",
          "OPENROUTER_API_KEY", key_required=False),
    _spec("groq", "openai_compat", Tier.HIGH, "https://api.groq.com/openai/v1/models",
          "GROQ_API_KEY", key_required=True),
    _spec("together", "together", Tier.HIGH, "https://api.together.xyz/v1/models",
          "TOGETHER_API_KEY", key_required=True),
    _spec("fireworks", "fireworks", Tier.HIGH, "https://api.fireworks.ai/inference/v1/models",
          "FIREWORKS_API_KEY", key_required=True),
    _spec("google", "google", Tier.MEDIUM,
          "https://generativelanguage.googleapis.com/v1beta/models",
          "GOOGLE_API_KEY", key_required=True, aliases=("gemini",)),
    _spec("cerebras", "openai_compat", Tier.MEDIUM, "https://api.cerebras.ai/v1/models",
          "CEREBRAS_API_KEY", key_required=True),
    _spec("nebius", "openai_compat", Tier.MEDIUM, "https://api.tokenfactory.nebius.com/v1/models",
          "NEBIUS_API_KEY", key_required=True, params={"verbose": "true"}),
    _spec("xai", "xai", Tier.MEDIUM, "https://api.x.ai/v1/language-models",
          "XAI_API_KEY", key_required=True, aliases=("grok",)),
    _spec("huggingface", "huggingface", Tier.LOW, "https://router.huggingface.co/v1/models",
          "HF_TOKEN", key_required=False, aliases=("hf",)),
    _spec("aimo", "aimo", Tier.LOW, "https://beta.aimo.network/api/v1/models",
          "AIMO_API_KEY", key_required=True),
    _spec("near", "near", Tier.LOW, "https://cloud-api.near.ai/v1/model/list",
          "NEAR_API_KEY", key_required=False),
    _spec("fal", "fal", Tier.LOW, "https://api.fal.ai/v1/models",
          "FAL_KEY", key_required=False),
    _spec("vercel-ai-gateway", "vercel", Tier.LOW, "https://ai-gateway.vercel.sh/v1/models",
          "AI_GATEWAY_API_KEY", key_required=False, aliases=("vercel",)),
)  # fmt: skip


def builtin_specs() -> dict[str, GatewaySpec]:
    return {spec.name: spec for spec in BUILTIN}


def build_adapter(kind: str, gateway: str, *, id_dialect: str | None = None) -> GatewayAdapter:
    """A fresh adapter of ``kind`` serving ``gateway`` (ids in ``id_dialect``, else its own)."""
    target = ADAPTERS.get(kind)
    if target is None:
        known = ", ".join(sorted(ADAPTERS))
        raise ConfigError(f"unknown adapter {kind!r} for gateway {gateway!r}; known: {known}")
    module_name, _, class_name = target.partition(":")
    adapter_class: type[GatewayAdapter] = getattr(importlib.import_module(module_name), class_name)
    return adapter_class(gateway, id_dialect=id_dialect)
