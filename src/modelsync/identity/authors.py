"""PURE: who made a model, spelled one way whatever the gateway says.

Gateways name authors differently: ``meta-llama`` (OpenRouter, Hugging Face), ``meta`` (Vercel),
``Meta`` (Groq's ``owned_by``); ``x-ai`` and ``xai``; ``deepseek-ai`` and ``deepseek``. The
canonical spelling is OpenRouter's, which the front end's model pages already use
(:data:`AUTHOR_ALIASES`). A gateway that names no author (Cerebras' ``llama3.1-8b``, Fireworks'
``accounts/fireworks/models/deepseek-r1``) gets the author of the model family the id starts with
(:data:`FAMILY_AUTHORS`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

AUTHOR_ALIASES: Mapping[str, str] = {
    "meta": "meta-llama",
    "facebook": "meta-llama",
    "xai": "x-ai",
    "deepseek-ai": "deepseek",
    "mistral": "mistralai",
    "mistral-ai": "mistralai",
    "gemini": "google",
    "alibaba": "qwen",
    "alibaba-cloud": "qwen",
    "moonshot": "moonshotai",
    "moonshot-ai": "moonshotai",
    "perplexity-ai": "perplexity",
    "nvidia-corporation": "nvidia",
    "hugging-face": "huggingface",
    "zai": "z-ai",
    "zai-org": "z-ai",
    "minimaxai": "minimax",
    "ai21labs": "ai21",
    "bytedance-seed": "bytedance",
    "stabilityai": "stability-ai",
    "featherless-ai": "featherless",
    "bfl": "black-forest-labs",
}
"""A spelling of an author (already slugified) -> the canonical spelling."""

NOT_AUTHORS = frozenset({"system", "user", "organization", "organization-owner", "unknown", "n-a"})
"""``owned_by`` values that name no author."""

PatternTable = tuple[tuple[re.Pattern[str], str], ...]


def pattern_table(*rows: tuple[str, str]) -> PatternTable:
    """``(regular expression, value)`` rows, compiled."""
    return tuple((re.compile(pattern), value) for pattern, value in rows)


FAMILY_AUTHORS = pattern_table(
    (r"^(meta-)?(code)?llama", "meta-llama"),
    (r"^(qwen|qwq)", "qwen"),
    (r"^deepseek", "deepseek"),
    (r"^(gemma|gemini|learnlm|imagen|veo-)", "google"),
    (r"^(mistral|mixtral|ministral|codestral|devstral|pixtral|magistral)", "mistralai"),
    (r"^kimi", "moonshotai"),
    (r"^grok", "x-ai"),
    (
        r"^(gpt-([345]|oss|image|realtime|audio)|o[134](-|$)|whisper|dall-e|tts-1|chatgpt)",
        "openai",
    ),
    (r"^claude", "anthropic"),
    (r"^flux", "black-forest-labs"),
    (r"^phi-", "microsoft"),
    (r"^command", "cohere"),
    (r"^minimax", "minimax"),
    (r"^(sonar|r1-1776)", "perplexity"),
    (r"^jamba", "ai21"),
)
"""The first pattern matching a normalized slug names its author, when the gateway names none."""

_DROP = re.compile(r"[^a-z0-9.-]+")


@lru_cache(maxsize=4096)
def canonical_author(text: str | None) -> str | None:
    """The canonical spelling of an author, or ``None`` when ``text`` names nobody.

    ``"Meta"`` -> ``meta-llama``; ``"DeepSeek / Meta"`` -> ``deepseek`` (the first of a pair);
    ``"Alibaba Cloud"`` -> ``qwen``; ``"system"`` -> ``None``.
    """
    if not text:
        return None
    first = text.split("/", 1)[0].strip().lower().replace(" ", "-").replace("_", "-")
    slug = _DROP.sub("", first).strip("-.")
    while "--" in slug:
        slug = slug.replace("--", "-")
    if not slug or slug in NOT_AUTHORS:
        return None
    return AUTHOR_ALIASES.get(slug, slug)


@lru_cache(maxsize=4096)
def family_author(slug: str) -> str | None:
    """The author of the model family a normalized slug starts with (``llama-3.3-70b`` -> meta)."""
    for pattern, author in FAMILY_AUTHORS:
        if pattern.match(slug):
            return author
    return None
