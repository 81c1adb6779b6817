"""Canonical identity: the rules, table by table, on ids the recorded captures really hold."""

from __future__ import annotations

import pytest

from modelsync.domain import Model
from modelsync.errors import ConfigError, PayloadError
from modelsync.identity import (
    CANONICAL_ID,
    RULES_VERSION,
    Identity,
    IdentityInput,
    IdentityOverrides,
    resolve,
    with_identity,
)
from modelsync.identity.authors import canonical_author, family_author
from modelsync.identity.dialects import GENERIC, dialect_for
from modelsync.identity.slugs import instruct, join_versions, spelled, strip_variants


@pytest.mark.parametrize(
    ("text", "author"),
    [
        ("Meta", "meta-llama"),
        ("meta", "meta-llama"),
        ("meta-llama", "meta-llama"),
        ("xai", "x-ai"),
        ("x-ai", "x-ai"),
        ("deepseek-ai", "deepseek"),
        ("DeepSeek / Meta", "deepseek"),
        ("Mistral AI", "mistralai"),
        ("mistral", "mistralai"),
        ("gemini", "google"),
        ("Alibaba Cloud", "qwen"),
        ("Qwen", "qwen"),
        ("Moonshot AI", "moonshotai"),
        ("perplexity-ai", "perplexity"),
        ("zai-org", "z-ai"),
        ("arcee_ai", "arcee-ai"),
        ("Hugging Face", "huggingface"),
        ("CohereForAI", "cohereforai"),
        ("system", None),
        ("organization-owner", None),
        ("  ", None),
        (None, None),
    ],
)
def test_canonical_authors(text: str | None, author: str | None) -> None:
    """Every spelling of an author becomes OpenRouter's; placeholders name nobody."""
    assert canonical_author(text) == author


@pytest.mark.parametrize(
    ("slug", "author"),
    [
        ("llama-3.3-70b", "meta-llama"),
        ("llama-4-scout-instruct", "meta-llama"),
        ("qwen-3-32b", "qwen"),
        ("qwq-32b", "qwen"),
        ("deepseek-r1-distill-llama-70b", "deepseek"),
        ("gemma-2-9b-it", "google"),
        ("mixtral-8x22b-instruct", "mistralai"),
        ("kimi-k2-instruct", "moonshotai"),
        ("grok-3", "x-ai"),
        ("whisper-large-v3", "openai"),
        ("gpt-oss-120b", "openai"),
        ("o3-mini", "openai"),
        ("flux-1-dev", "black-forest-labs"),
        ("r1-1776", "perplexity"),
        ("gpt-2", None),
        ("distil-whisper-large-v3-en", None),
        ("firesearch-ocr-v6", None),
        ("compound-beta", None),
    ],
)
def test_family_authors(slug: str, author: str | None) -> None:
    """A bare id's family names its author; anything else names nobody."""
    assert family_author(slug) == author


@pytest.mark.parametrize(
    ("text", "p_versions", "expected"),
    [
        ("Meta-Llama-3.1-8B-Instruct", False, "meta-llama-3.1-8b-instruct"),
        ("Llama-3_1-Nemotron-Ultra-253B-v1", False, "llama-3.1-nemotron-ultra-253b-v1"),
        ("arcee_ai spotlight", False, "arcee-ai-spotlight"),
        ("anthropic.claude-v2:1", False, "anthropic.claude-v2-1"),
        ("llama-v3p3-70b-instruct", True, "llama-3.3-70b-instruct"),
        ("qwen2p5-vl-32b-instruct", True, "qwen2.5-vl-32b-instruct"),
        ("kimi-k2p6", True, "kimi-k2.6"),
        ("llama-v3p3-70b-instruct", False, "llama-v3p3-70b-instruct"),
        ("@cf/meta//llama", False, "cf/meta/llama"),
        ("--x--", False, "x"),
    ],
)
def test_spelling(text: str, p_versions: bool, expected: str) -> None:
    """Case, separators and (Fireworks') point spelling."""
    assert spelled(text, p_versions=p_versions) == expected


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("qwen3-32b", "qwen-3-32b"),
        ("qwen2.5-vl-72b-instruct", "qwen-2.5-vl-72b-instruct"),
        ("llama3.1-8b", "llama-3.1-8b"),
        ("llama4-scout-instruct", "llama-4-scout-instruct"),
        ("gemma2-9b-it", "gemma-2-9b-it"),
        ("flux.1-dev", "flux-1-dev"),
        ("flux.1.1-pro", "flux-1.1-pro"),
        ("qwen-3-32b", "qwen-3-32b"),
        ("gpt-4o", "gpt-4o"),
        ("o3-mini", "o3-mini"),
        ("deepseek-r1t2-chimera", "deepseek-r1t2-chimera"),
        ("scb10x-llama3-1", "scb10x-llama-3-1"),
        ("qwen3-235b-a22b-fp8", "qwen-3-235b-a22b-fp8"),
        ("mistral-7b-instruct-v0.3", "mistral-7b-instruct-v0.3"),
        ("gemma-3n-e4b-it", "gemma-3n-e4b-it"),
        ("m2-bert-80m", "m2-bert-80m"),
    ],
)
def test_family_and_version_joined_by_a_hyphen(slug: str, expected: str) -> None:
    """A family name of two letters or more runs into its version with a hyphen, nothing else."""
    assert join_versions(slug) == expected


def test_a_first_word_naming_the_author_keeps_its_digits() -> None:
    """``ai21/ai21-jamba`` stays ``ai21-jamba``, not ``ai-21-jamba``."""
    assert join_versions("ai21-jamba-large-1.6", "ai21") == "ai21-jamba-large-1.6"
    assert join_versions("ai21-jamba-large-1.6") == "ai-21-jamba-large-1.6"


@pytest.mark.parametrize(
    ("dialect", "slug", "expected", "variants"),
    [
        ("together", "llama-3.3-70b-instruct-turbo-free", "llama-3.3-70b-instruct",
         ("turbo", "free")),
        ("together", "qwen3-235b-a22b-fp8-tput", "qwen3-235b-a22b", ("fp8", "tput")),
        ("together", "meta-llama-3-8b-instruct-lite", "meta-llama-3-8b-instruct", ("lite",)),
        ("nebius", "qwen3-32b-fast", "qwen3-32b", ("fast",)),
        ("groq", "llama-3.3-70b-versatile", "llama-3.3-70b", ("versatile",)),
        ("groq", "llama3-70b-8192", "llama3-70b", ("context-8192",)),
        ("groq", "whisper-large-v3-turbo", "whisper-large-v3-turbo", ()),
        ("fireworks", "flux-1-dev-fp8", "flux-1-dev", ("fp8",)),
        ("fireworks", "deepseek-r1-basic", "deepseek-r1", ("basic",)),
        ("xai", "grok-3-fast", "grok-3-fast", ()),
        ("generic", "gpt-3.5-turbo", "gpt-3.5-turbo", ()),
        ("generic", "llama-2-70b-hf", "llama-2-70b", ("hf",)),
        ("generic", "fp8", "fp8", ()),
        ("generic", "flux/dev-bf16", "flux/dev", ("bf16",)),
    ],
)  # fmt: skip
def test_serving_variants(
    dialect: str, slug: str, expected: str, variants: tuple[str, ...]
) -> None:
    """Trailing serving words come off into the variants, per dialect; model names stay."""
    assert strip_variants(slug, dialect_for(dialect)) == (expected, variants)


@pytest.mark.parametrize(
    ("slug", "chat_only", "expected"),
    [
        ("llama-3.3-70b", False, "llama-3.3-70b-instruct"),
        ("llama-3.1-8b", True, "llama-3.1-8b-instruct"),
        ("llama-3.1-8b", False, "llama-3.1-8b"),
        ("llama-3.2-11b-vision", True, "llama-3.2-11b-vision-instruct"),
        ("llama-4-scout", True, "llama-4-scout-instruct"),
        ("gemma-2-9b", True, "gemma-2-9b-it"),
        ("gemma-3n-e4b", True, "gemma-3n-e4b-it"),
        ("kimi-k2", True, "kimi-k2-instruct"),
        ("mixtral-8x22b", True, "mixtral-8x22b-instruct"),
        ("qwen-2.5-coder-32b", True, "qwen-2.5-coder-32b-instruct"),
        ("qwen-3-32b", True, "qwen-3-32b"),
        ("deepseek-r1", True, "deepseek-r1"),
        ("llama-3.1-8b-instruct", True, "llama-3.1-8b-instruct"),
    ],
)
def test_instruct(slug: str, chat_only: bool, expected: str) -> None:
    """The instruct model where the bare name can only mean it; Qwen3 and DeepSeek untouched."""
    assert instruct(slug, chat_only=chat_only) == expected


@pytest.mark.parametrize(
    ("gateway", "raw_id", "author", "hf_id", "expected", "variants"),
    [
        # OpenRouter, with its hugging_face_id as evidence
        ("openrouter", "meta-llama/llama-3.3-70b-instruct:free", None,
         "meta-llama/Llama-3.3-70B-Instruct", "meta-llama/llama-3.3-70b-instruct", ("free",)),
        ("openrouter", "deepseek/deepseek-chat", None, "deepseek-ai/DeepSeek-V3",
         "deepseek/deepseek-v3", ()),
        ("openrouter", "meta-llama/llama-4-scout", None,
         "meta-llama/Llama-4-Scout-17B-16E-Instruct",
         "meta-llama/llama-4-scout-17b-16e-instruct", ()),
        ("openrouter", "cohere/command-a", None, "CohereForAI/c4ai-command-a-03-2025",
         "cohere/command-a", ()),
        ("openrouter", "anthropic/claude-3.7-sonnet:thinking", None, None,
         "anthropic/claude-3.7-sonnet", ("thinking",)),
        ("openrouter", "google/gemini-flash-1.5-8b", None, None, "google/gemini-1.5-flash-8b", ()),
        ("openrouter", "~anthropic/claude-opus-latest", None, None,
         "anthropic/claude-opus-latest", ()),
        ("openrouter", "openrouter/auto", None, None, "openrouter/auto", ()),
        # the other gateways of the 2025-07-25 captures
        ("groq", "llama-3.3-70b-versatile", "Meta", None,
         "meta-llama/llama-3.3-70b-instruct", ("versatile",)),
        ("groq", "gemma2-9b-it", "Google", None, "google/gemma-2-9b-it", ()),
        ("groq", "deepseek-r1-distill-llama-70b", "DeepSeek / Meta", None,
         "deepseek/deepseek-r1-distill-llama-70b", ()),
        ("groq", "mistral-saba-24b", "Mistral AI", None, "mistralai/mistral-saba-24b", ()),
        ("cerebras", "llama3.1-8b", "Meta", None, "meta-llama/llama-3.1-8b-instruct", ()),
        ("cerebras", "qwen-3-235b-a22b", "Qwen", None, "qwen/qwen-3-235b-a22b", ()),
        ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo-Free", "Meta", None,
         "meta-llama/llama-3.3-70b-instruct", ("free", "turbo")),
        ("together", "meta-llama/Llama-3-70b-chat-hf", "Meta", None,
         "meta-llama/llama-3-70b-instruct", ("hf",)),
        ("together", "meta-llama/LlamaGuard-2-8b", "Meta", None, "meta-llama/llama-guard-2-8b", ()),
        ("together", "black-forest-labs/FLUX.1-schnell-Free", None, None,
         "black-forest-labs/flux-1-schnell", ("free",)),
        ("fireworks", "accounts/fireworks/models/llama-v3p3-70b-instruct", None, None,
         "meta-llama/llama-3.3-70b-instruct", ()),
        ("fireworks", "accounts/fireworks/models/llama4-maverick-instruct-basic", None, None,
         "meta-llama/llama-4-maverick-17b-128e-instruct", ("basic",)),
        ("fireworks", "accounts/perplexity/models/r1-1776", None, None, "perplexity/r1-1776", ()),
        ("fireworks", "accounts/fireworks/models/flux-kontext-pro", None, None,
         "black-forest-labs/flux-1-kontext-pro", ()),
        ("nebius", "meta-llama/Meta-Llama-3.1-8B-Instruct-fast", "system", None,
         "meta-llama/llama-3.1-8b-instruct", ("fast",)),
        ("nebius", "nvidia/Llama-3_3-Nemotron-Super-49B-v1", "system", None,
         "nvidia/llama-3.3-nemotron-super-49b-v1", ()),
        ("nebius", "black-forest-labs/flux-dev", "system", None,
         "black-forest-labs/flux-1-dev", ()),
        ("vercel-ai-gateway", "meta/llama-3.2-11b", "meta", None,
         "meta-llama/llama-3.2-11b-vision-instruct", ()),
        ("vercel-ai-gateway", "anthropic/claude-4-opus", "anthropic", None,
         "anthropic/claude-opus-4", ()),
        ("vercel-ai-gateway", "alibaba/qwen-3-235b", "alibaba", None, "qwen/qwen-3-235b-a22b", ()),
        ("vercel-ai-gateway", "xai/grok-3", "xai", None, "x-ai/grok-3", ()),
        ("xai", "grok-2-vision-1212", "xai", None, "x-ai/grok-2-vision-1212", ()),
        ("google", "gemini-2.0-flash-lite-001", None, None, "google/gemini-2.0-flash-lite-001", ()),
        ("google", "gemma-3-27b-it", None, None, "google/gemma-3-27b-it", ()),
        # generic rules for a gateway modelsync does not ship
        ("acme", "Claude-3-5-Sonnet-20241022", None, None,
         "anthropic/claude-3.5-sonnet-20241022", ()),
        ("acme", "claude-opus-4-1-20250805", None, None, "anthropic/claude-opus-4.1-20250805", ()),
        ("acme", "tiny-1", None, None, "acme/tiny-1", ()),
        ("acme", "x:y", None, None, "acme/x-y", ()),
    ],
)  # fmt: skip
def test_resolve(
    gateway: str,
    raw_id: str,
    author: str | None,
    hf_id: str | None,
    expected: str,
    variants: tuple[str, ...],
) -> None:
    """Every step together, on ids the gateways really use."""
    identity = resolve(IdentityInput(gateway, raw_id, author=author, hf_id=hf_id))
    assert identity == Identity(expected, expected.partition("/")[0], variants)
    assert CANONICAL_ID.fullmatch(identity.id)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("openrouter", "meta-llama/llama-3.1-70b-instruct"),
         ("openrouter", "meta-llama/llama-3.3-70b-instruct")),
        (("openrouter", "deepseek/deepseek-r1"),
         ("openrouter", "deepseek/deepseek-r1-distill-llama-70b")),
        (("google", "gemini-2.0-flash"), ("google", "gemini-2.0-flash-lite")),
        (("google", "gemini-2.0-flash"), ("google", "gemini-2.0-flash-001")),
        (("openrouter", "openai/gpt-4o"), ("openrouter", "openai/gpt-4o-2024-08-06")),
        (("openrouter", "meta-llama/llama-3.1-405b"),
         ("openrouter", "meta-llama/llama-3.1-405b-instruct")),
        (("nebius", "Qwen/Qwen2.5-Coder-7B"), ("nebius", "Qwen/Qwen2.5-Coder-7B-Instruct")),
        (("openrouter", "mistralai/mistral-7b-instruct-v0.2"),
         ("openrouter", "mistralai/mistral-7b-instruct-v0.3")),
        (("xai", "grok-3"), ("xai", "grok-3-fast")),
        (("xai", "grok-4-0709"), ("vercel-ai-gateway", "xai/grok-4")),
        (("together", "meta-llama/Llama-2-70b-hf"), ("together", "meta-llama/Llama-3-70b-chat-hf")),
        (("vercel-ai-gateway", "mistral/pixtral-12b"),
         ("vercel-ai-gateway", "mistral/pixtral-large")),
        (("openrouter", "qwen/qwen3-235b-a22b"), ("openrouter", "qwen/qwen3-30b-a3b")),
    ],
)  # fmt: skip
def test_sizes_versions_and_dates_stay_distinct(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    """Two different released models never share an id."""
    assert resolve(IdentityInput(*first)).id != resolve(IdentityInput(*second)).id


def test_dialect_option_and_generic_fallback() -> None:
    """A gateway speaks its name's dialect, or the one it is told to; unknown names: generic."""
    assert dialect_for("nope") is GENERIC
    groq_like = IdentityInput("my-groq", "llama-3.3-70b-versatile", dialect="groq")
    assert resolve(groq_like).id == "meta-llama/llama-3.3-70b-instruct"
    plain = IdentityInput("my-groq", "llama-3.3-70b-versatile")
    assert resolve(plain).id == "meta-llama/llama-3.3-70b-versatile"


@pytest.mark.parametrize("raw_id", ["", "///", "--", "~", "@@"])
def test_an_id_without_letters_or_digits_is_a_payload_error(raw_id: str) -> None:
    """Nothing to name a model by: the entry is malformed."""
    with pytest.raises(PayloadError, match="no letters or digits"):
        resolve(IdentityInput("acme", raw_id))


def test_overrides_pin_alias_and_keep_variants() -> None:
    """A pin wins over the rules, an alias renames a canonical id, the variants stay."""
    overrides = IdentityOverrides.parse(
        {"together:arcee_ai/arcee-spotlight": "arcee-ai/spotlight"},
        {"mistralai/pixtral-12b": "mistralai/pixtral-12b-2409"},
    )
    spotlight = resolve(IdentityInput("together", "arcee_ai/arcee-spotlight"))
    assert overrides.apply("together", "arcee_ai/arcee-spotlight", spotlight) == Identity(
        "arcee-ai/spotlight", "arcee-ai"
    )
    pixtral = Identity("mistralai/pixtral-12b", "mistralai", ("fp8",))
    assert overrides.apply("vercel-ai-gateway", "mistral/pixtral-12b", pixtral) == Identity(
        "mistralai/pixtral-12b-2409", "mistralai", ("fp8",)
    )
    other = Identity("openai/gpt-4o", "openai")
    assert overrides.apply("openrouter", "openai/gpt-4o", other) is other


@pytest.mark.parametrize(
    ("pins", "aliases", "message"),
    [
        ({"groq": "meta-llama/x"}, {}, "must read 'gateway:raw model id'"),
        ({":x": "meta-llama/x"}, {}, "must read 'gateway:raw model id'"),
        ({"groq:x": "Meta-Llama/X"}, {}, r"identity.pins\['groq:x'\]: 'Meta-Llama/X' is not"),
        ({"groq:x": "no-slash"}, {}, "is not a canonical id"),
        ({}, {"a/b": "c d/e"}, r"identity.aliases\['a/b'\]"),
        ({}, {"A/B": "a/b"}, "identity.aliases key: 'A/B'"),
    ],
)
def test_malformed_overrides_are_config_errors(
    pins: dict[str, str], aliases: dict[str, str], message: str
) -> None:
    """A malformed key or id names itself and what a canonical id looks like."""
    with pytest.raises(ConfigError, match=message):
        IdentityOverrides.parse(pins, aliases)


def test_fingerprint_follows_rules_and_overrides() -> None:
    """The fingerprint changes with the overrides, and only with them (and the rules version)."""
    empty = IdentityOverrides().fingerprint()
    pinned = IdentityOverrides.parse({"groq:x": "acme/x"}, {}).fingerprint()
    assert empty == IdentityOverrides.parse({}, {}).fingerprint()
    assert len({empty, pinned, IdentityOverrides.parse({}, {"a/b": "c/d"}).fingerprint()}) == 3
    assert RULES_VERSION


def test_with_identity_returns_the_same_model_when_nothing_changes() -> None:
    """An unchanged identity keeps the object (the diff's identity shortcut stays cheap)."""
    model = Model(gateway="groq", gateway_model_id="x", id="acme/x", provider_slug="acme")
    assert with_identity(model, Identity("acme/x", "acme")) is model
    moved = with_identity(model, Identity("meta-llama/x", "meta-llama", ("fast",)))
    assert (moved.id, moved.provider_slug, moved.variants) == (
        "meta-llama/x",
        "meta-llama",
        ("fast",),
    )
    assert moved.fields()["id"] == "meta-llama/x"
