"""PURE: a model name (the part after the author) in its one canonical spelling.

Steps, in order (each table-tested in ``tests/unit/test_identity.py``):

1. case and separators: lower case; ``_`` between digits is a point (``Llama-3_1`` -> ``3.1``),
   any other ``_``, ``:`` or space a hyphen; characters outside ``[a-z0-9./-]`` dropped.
2. the dialect's version spelling: Fireworks' ``v3p3`` -> ``3.3``, ``qwen2p5`` -> ``qwen2.5``.
3. serving variants: trailing words that say how a gateway serves the model, not which model
   (quantizations such as ``fp8`` and ``bf16`` and the ``hf`` weight format everywhere, plus the
   dialect's own: Together's ``turbo``/``lite``/``free``/``tput``, Nebius' ``fast``, Groq's
   ``versatile``/``instant`` and context size) come off and become the offer's variants.
4. family and version joined the same way: a word of two letters or more runs into its version
   with a hyphen (``qwen3`` -> ``qwen-3``, ``llama3.1`` -> ``llama-3.1``, ``FLUX.1`` ->
   ``flux-1``), so ``qwen/qwen3-32b`` (OpenRouter) and ``qwen-3-32b`` (Cerebras) agree.
5. family spellings of one author: Meta's ``meta-llama-3.1`` and ``llamaguard``, Anthropic's
   two orders (``claude-4-opus`` = ``claude-opus-4``, ``claude-3-5-sonnet`` =
   ``claude-3.5-sonnet``), Google's ``gemini-flash-1.5`` = ``gemini-1.5-flash``, Black Forest
   Labs' ``flux-dev`` = ``flux-1-dev``.
6. instruct: where a model was released as base and instruct, a chat-only gateway serving the
   bare name serves the instruct one (``llama-3.1-8b`` -> ``llama-3.1-8b-instruct``,
   ``gemma-2-9b`` -> ``gemma-2-9b-it``); Llama 3.3 70B exists only as instruct.

Sizes, versions and dates are never touched: ``llama-3.1-70b`` != ``llama-3.3-70b``,
``gemini-2.0-flash`` != ``gemini-2.0-flash-lite``, ``gpt-4o`` != ``gpt-4o-2024-08-06``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from modelsync.identity.authors import pattern_table
from modelsync.identity.dialects import Dialect

QUANTIZATIONS = frozenset(
    {"fp4", "fp8", "fp16", "bf16", "int4", "int8", "awq", "gptq", "gguf", "hf", "mlx"}
)
"""Trailing words every gateway uses for a serving format of the same weights."""

_POINT_BETWEEN_DIGITS = re.compile(r"(?<=\d)_(?=\d)")
_SEPARATORS = re.compile(r"[\s_:]+")
_DROP = re.compile(r"[^a-z0-9./-]+")
_HYPHENS = re.compile(r"-{2,}")
_P_VERSION = re.compile(r"(?<=\d)p(?=\d)")
_LLAMA_V = re.compile(r"^llama-v(?=\d)")
_FAMILY_VERSION = re.compile(
    r"(?<![a-z0-9])(?!(?:fp|bf|int|nf|mxfp)\d)([a-z]{2,})\.?(?=\d+(?:\.\d+)*(?:[-/]|$))"
)
_CONTEXT = re.compile(r"\d{4,6}")
_SIZE = re.compile(r"\d+(\.\d+)?[bm]")


@lru_cache(maxsize=16384)
def spelled(text: str, *, p_versions: bool = False) -> str:
    """Steps 1 and 2: case, separators and version spelling, nothing else."""
    slug = _POINT_BETWEEN_DIGITS.sub(".", text.strip().lower())
    slug = _DROP.sub("", _SEPARATORS.sub("-", slug))
    if p_versions:
        slug = _LLAMA_V.sub("llama-", _P_VERSION.sub(".", slug))
    return _tidy(slug)


def _tidy(slug: str) -> str:
    slug = _HYPHENS.sub("-", slug)
    return "/".join(part.strip("-.") for part in slug.split("/") if part.strip("-."))


def strip_variants(slug: str, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    """Step 3: the slug without its trailing serving words, and those words (in id order)."""
    head, _, last = slug.rpartition("/")
    words = last.split("-")
    found: list[str] = []
    while len(words) > 1:
        word = words[-1]
        if word in QUANTIZATIONS or word in dialect.serving_suffixes:
            found.append(word)
        elif dialect.context_suffix and _CONTEXT.fullmatch(word) and _SIZE.fullmatch(words[-2]):
            found.append(f"context-{word}")
        else:
            break
        words.pop()
    last = "-".join(words)
    return (f"{head}/{last}" if head else last), tuple(reversed(found))


def join_versions(slug: str, author: str = "") -> str:
    """Step 4: ``qwen3`` -> ``qwen-3``, ``flux.1`` -> ``flux-1`` (quantization words and a first
    word that is the author's name, as in ``ai21/ai21-jamba``, kept)."""
    first, sep, rest = slug.partition("-")
    if author and first == author and sep:
        return f"{first}-{join_versions(rest)}"
    return _tidy(_FAMILY_VERSION.sub(r"\1-", slug))


_CLAUDE = re.compile(
    r"^claude-(?:(?P<v1>\d+(?:[.-]\d(?!\d))?)-(?P<t1>opus|sonnet|haiku)"
    r"|(?P<t2>opus|sonnet|haiku)-(?P<v2>\d+(?:[.-]\d(?!\d))?))(?P<rest>-.*)?$"
)


def _claude(slug: str) -> str:
    """``claude-<version>-<tier>`` below 4 and ``claude-<tier>-<version>`` from 4 on."""
    match = _CLAUDE.match(slug)
    if match is None:
        return slug
    version = (match["v1"] or match["v2"]).replace("-", ".")
    tier = match["t1"] or match["t2"]
    rest = match["rest"] or ""
    if int(version.partition(".")[0]) < 4:
        return f"claude-{version}-{tier}{rest}"
    return f"claude-{tier}-{version}{rest}"


def _substitutions(*rules: tuple[str, str]) -> Callable[[str], str]:
    compiled = pattern_table(*rules)

    def apply(slug: str) -> str:
        for pattern, replacement in compiled:
            slug = pattern.sub(replacement, slug)
        return slug

    return apply


FAMILY_RULES: dict[str, Callable[[str], str]] = {
    "meta-llama": _substitutions(
        (r"^meta-llama-", "llama-"),
        (r"^llamaguard-", "llama-guard-"),
        (r"^llama-3-(\d+b)-chat$", r"llama-3-\1-instruct"),
    ),
    "anthropic": _claude,
    "google": _substitutions(
        (r"^gemini-(pro|flash|ultra)-(\d+(?:\.\d+)?)(?=-|$)", r"gemini-\2-\1")
    ),
    "black-forest-labs": _substitutions((r"^flux-(dev|schnell|kontext)", r"flux-1-\1")),
}
"""Step 5, by canonical author."""

INSTRUCT_ONLY = re.compile(r"^llama-3\.3-70b$")
"""Models released only as instruct models: the bare name means the instruct one everywhere."""

PAIRED = pattern_table(
    (r"^llama-3(\.[12])?-\d+b(-vision)?$", "-instruct"),
    (r"^llama-4-(scout|maverick)(-\d+b-\d+e)?$", "-instruct"),
    (r"^gemma-\d+(\.\d+)?n?-e?\d+b$", "-it"),
    (r"^kimi-k2$", "-instruct"),
    (r"^mixtral-8x\d+b$", "-instruct"),
    (r"^qwen-2(\.5)?(-coder|-vl|-math)?-\d+(\.\d+)?b$", "-instruct"),
)
"""Families released as base + instruct, and the suffix their instruct models carry (step 6)."""


def instruct(slug: str, *, chat_only: bool) -> str:
    """Step 6: the instruct model's name where the bare name can only mean it."""
    if INSTRUCT_ONLY.match(slug):
        return slug + "-instruct"
    if chat_only:
        for pattern, suffix in PAIRED:
            if pattern.match(slug):
                return slug + suffix
    return slug


@lru_cache(maxsize=16384)
def canonical_slug(slug: str, author: str, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    """Steps 3-6 on a slug that went through :func:`spelled`: the name and its variants."""
    slug, variants = strip_variants(slug, dialect)
    slug = join_versions(slug, author)
    rule = FAMILY_RULES.get(author)
    if rule is not None:
        slug = rule(slug)
    return instruct(slug, chat_only=dialect.chat_only), variants
