"""PURE data: short names that can only mean one released model, and the id they resolve to.

The rules of :mod:`~modelsync.identity.slugs` cannot know that Vercel's ``meta/llama-4-scout`` is
``Llama-4-Scout-17B-16E-Instruct`` (the only Llama 4 Scout there is) or that Groq's
``mistral-saba-24b`` is OpenRouter's ``mistral-saba``. Each entry here states one such fact about a
family with a single release; operators add their own in the ``[identity]`` table of the
configuration file (:mod:`~modelsync.identity.overrides`). Never add an alias between two dated
releases, two sizes or a moving alias (``gpt-4o``) and a dated release.
"""

from __future__ import annotations

from collections.abc import Mapping

KNOWN_ALIASES: Mapping[str, str] = {
    # Llama 4 comes in one size per name; Fireworks and Vercel leave the size out.
    "meta-llama/llama-4-scout-instruct": "meta-llama/llama-4-scout-17b-16e-instruct",
    "meta-llama/llama-4-maverick-instruct": "meta-llama/llama-4-maverick-17b-128e-instruct",
    # Llama 3.2 11B and 90B exist only as vision models.
    "meta-llama/llama-3.2-11b-instruct": "meta-llama/llama-3.2-11b-vision-instruct",
    "meta-llama/llama-3.2-90b-instruct": "meta-llama/llama-3.2-90b-vision-instruct",
    # Qwen3's 235B and 30B are the MoE models (there is no dense one of either size).
    "qwen/qwen-3-235b": "qwen/qwen-3-235b-a22b",
    "qwen/qwen-3-30b": "qwen/qwen-3-30b-a3b",
    # "Qwen3-Coder" is the 480B-A35B instruct model (the smaller coder says "30b-a3b").
    "qwen/qwen-3-coder": "qwen/qwen-3-coder-480b-a35b-instruct",
    # Mixtral had one instruct release per size: v0.1.
    "mistralai/mixtral-8x7b-instruct-v0.1": "mistralai/mixtral-8x7b-instruct",
    "mistralai/mixtral-8x22b-instruct-v0.1": "mistralai/mixtral-8x22b-instruct",
    # Mistral Saba exists in one size.
    "mistralai/mistral-saba": "mistralai/mistral-saba-24b",
    # Nebius' name for Hermes 3 on Llama 3.1 405B (there is no other Llama 405B).
    "nousresearch/hermes-3-llama-405b": "nousresearch/hermes-3-llama-3.1-405b",
    # Together's name for SCB 10X's Typhoon 2 on Llama 3.1 70B.
    "scb10x/scb10x-llama-3-1-typhoon-2-70b-instruct": "scb10x/llama-3.1-typhoon-2-70b-instruct",
}
"""Canonical id -> the canonical id of the one released model it names."""
