"""Bring real but sparse captures into a richer served shape (pure and deterministic).

The recorded Nebius list is the plain ``/v1/models`` one and the recorded xAI list is the minimal
``/v1/models``; the gateways are polled with ``verbose=true`` and on ``/v1/language-models``, which
add names, context lengths and prices. Those are filled in here from the id: known xAI prices from
the docs example, and a size-based estimate for the rest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

XAI_PRICES: Mapping[str, tuple[int, int, int]] = {
    "grok-4-0709": (30000, 7500, 150000),
    "grok-3": (30000, 7500, 150000),
    "grok-3-fast": (50000, 12500, 250000),
    "grok-3-mini": (3000, 750, 5000),
    "grok-3-mini-fast": (6000, 1500, 40000),
    "grok-2-1212": (20000, 0, 100000),
    "grok-2-vision-1212": (20000, 0, 100000),
}
"""xAI id -> (prompt, cached prompt, completion) in USD cents per 100M tokens."""

_SIZE = re.compile(r"(\d+)B", re.IGNORECASE)


def xai_language_model(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A minimal xAI ``/v1/models`` entry as a ``/v1/language-models`` entry with prices."""
    model_id = str(entry["id"])
    prompt, cached, completion = XAI_PRICES.get(model_id, (20000, 5000, 100000))
    vision = "vision" in model_id or model_id.startswith("grok-4")
    inputs = ["text", "image"] if vision else ["text"]
    return {
        "id": model_id,
        "fingerprint": "fp_" + hashlib.sha256(model_id.encode()).hexdigest()[:10],
        "created": entry.get("created"),
        "object": "model",
        "owned_by": entry.get("owned_by", "xai"),
        "version": "1.0.0",
        "input_modalities": inputs,
        "output_modalities": ["text"],
        "prompt_text_token_price": prompt,
        "cached_prompt_text_token_price": cached,
        "prompt_image_token_price": prompt if vision else 0,
        "completion_text_token_price": completion,
        "search_price": 250000000,
        "aliases": [],
    }


def nebius_verbose(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A plain Nebius ``/v1/models`` entry as a ``verbose=true`` entry (prices per token)."""
    model_id = str(entry["id"])
    kind = _nebius_kind(model_id)
    prompt, completion = estimate_price(model_id, kind)
    modality = {
        "embedding": "text->embedding",
        "image": "text->image",
        "vision": "text+image->text",
    }.get(kind, "text->text")
    inputs, outputs = modality.split("->")
    pricing = {"prompt": _per_token(prompt), "completion": _per_token(completion)}
    return {
        **entry,
        "name": model_id.rpartition("/")[2].replace("-", " ").replace("_", "."),
        "context_length": None if kind == "image" else (8192 if kind == "embedding" else 131072),
        "pricing": pricing,
        "architecture": {
            "modality": modality,
            "input_modalities": inputs.split("+"),
            "output_modalities": outputs.split("+"),
        },
        "quantization": "fp8" if kind == "text" else "bf16",
        "status": "active",
    }


def _nebius_kind(model_id: str) -> str:
    lowered = model_id.lower()
    if any(word in lowered for word in ("bge", "e5-", "embedding")):
        return "embedding"
    if any(word in lowered for word in ("flux", "sdxl")):
        return "image"
    if "-vl-" in lowered:
        return "vision"
    return "text"


def estimate_price(model_id: str, kind: str) -> tuple[Decimal, Decimal]:
    """USD per 1M tokens from the parameter count in the id; ``-fast`` variants cost double."""
    if kind == "image":
        return Decimal(0), Decimal(0)
    if kind == "embedding":
        return Decimal("0.01"), Decimal(0)
    sizes = [int(number) for number in _SIZE.findall(model_id)]
    size = max(sizes) if sizes else 32
    prompt = (Decimal("0.01") + Decimal(size) * Decimal("0.0025")).quantize(Decimal("0.01"))
    if model_id.endswith("-fast"):
        prompt *= 2
    return prompt, prompt * 3


def _per_token(usd_per_million: Decimal) -> str:
    value = (usd_per_million / 1_000_000).normalize()
    return "0" if value == 0 else format(value, "f")
