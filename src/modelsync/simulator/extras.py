"""The endpoints a simulated gateway serves beside its listing, and the reference catalogs.

- fal's pricing API, ``GET /fal/v1/models/pricing?endpoint_id=...`` (1-50 ids): a deterministic
  unit price for each listed endpoint from its category (per image, per second of video or
  audio, per megapixel for upscalers, per 1M tokens for LLMs) and its id.
- The reference price catalogs, at the paths ``MODELSYNC_UPSTREAM`` routes their default URLs to:
  models.dev's ``api.json`` (``/modelsdev/api.json``) prices the simulated Groq, Cerebras,
  Google, Together and Fireworks models; LiteLLM's ``model_prices_and_context_window.json``
  (``/litellm/BerriAI/litellm/main/...``) prices Nebius and Groq (models.dev comes first). Built
  from the gateways' current entries (so a model the demo adds is priced too), prices estimated
  from the parameter count as the Nebius enrichment does; audio, guard and embedding models get
  none.
- ``POST /_admin/reference-factor`` ``{"factor": 1.5}``: every reference price times ``factor``
  from now on (a reference catalog repricing).
- ``POST /_admin/side-fault`` ``{"endpoint": "fal-pricing" | "modelsdev" | "litellm", "times":
  n}``: the next ``n`` requests to that endpoint answer 500 (``times`` 0 clears).

Pure rules (:func:`fal_price`, :func:`modelsdev_catalog`, :func:`litellm_catalog`) plus thin
Starlette endpoints.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelsync.simulator.enrich import estimate_price
from modelsync.simulator.responses import error_body, json_response
from modelsync.simulator.shapes import entry_id
from modelsync.simulator.state import SimulatorState

LITELLM_PATH = "/litellm/BerriAI/litellm/main/model_prices_and_context_window.json"
MODELSDEV_PROVIDERS = {
    "groq": "groq", "cerebras": "cerebras", "google": "google", "together": "togetherai",
    "fireworks": "fireworks-ai",
}  # fmt: skip
LITELLM_PROVIDERS = {"nebius": "nebius", "groq": "groq"}
_UNPRICED = ("whisper", "tts", "guard", "embed", "orpheus", "playai", "bge", "e5-", "aqa", "imagen",
             "veo", "flux", "sdxl", "rerank")  # fmt: skip


def estimated(model_id: str, factor: Decimal = Decimal(1)) -> tuple[Decimal, Decimal] | None:
    """USD per 1M tokens (prompt, completion) a reference catalog lists, None for non-chat."""
    lowered = model_id.lower()
    if any(word in lowered for word in _UNPRICED):
        return None
    prompt, completion = estimate_price(model_id, "text")
    return prompt * factor, completion * factor


def modelsdev_catalog(ids: dict[str, list[str]], factor: Decimal = Decimal(1)) -> dict[str, Any]:
    """models.dev's ``api.json`` for these gateways' model ids."""
    document: dict[str, Any] = {}
    for gateway, provider in MODELSDEV_PROVIDERS.items():
        models: dict[str, Any] = {}
        for model_id in ids.get(gateway, []):
            prices = estimated(model_id, factor)
            if prices is None:
                continue
            models[model_id] = {
                "id": model_id,
                "name": model_id,
                "cost": {"input": float(prices[0]), "output": float(prices[1])},
                "limit": {"context": 131072, "output": 8192},
                "modalities": {"input": ["text"], "output": ["text"]},
            }
        document[provider] = {"id": provider, "name": provider, "env": [], "models": models}
    return document


def litellm_catalog(ids: dict[str, list[str]], factor: Decimal = Decimal(1)) -> dict[str, Any]:
    """LiteLLM's price file for these gateways' model ids (USD per token)."""
    document: dict[str, Any] = {"sample_spec": {"litellm_provider": "one of the providers"}}
    for gateway, provider in LITELLM_PROVIDERS.items():
        for model_id in ids.get(gateway, []):
            prices = estimated(model_id, factor)
            if prices is None:
                continue
            document[f"{provider}/{model_id}"] = {
                "litellm_provider": provider,
                "mode": "chat",
                "input_cost_per_token": float(prices[0] / 1_000_000),
                "output_cost_per_token": float(prices[1] / 1_000_000),
                "max_input_tokens": 131072,
            }
    return document


SIDE_ENDPOINTS = ("fal-pricing", "modelsdev", "litellm")
"""The endpoints ``/_admin/side-fault`` can fail."""

_UNITS = (
    (("text-to-image", "image-to-image", "image-to-3d", "text-to-3d"), "image", "0.01"),
    (("text-to-video", "image-to-video", "video-to-video"), "second", "0.05"),
    (("text-to-speech", "text-to-audio", "audio-to-audio", "speech-to-text"), "second", "0.001"),
    (("upscale", "image-upscale"), "megapixels", "0.002"),
    (("llm", "vision"), "1M tokens", "0.1"),
)
PRICING_BATCH = 50


def fal_price(endpoint_id: str, category: str | None) -> dict[str, Any]:
    """fal's price of one endpoint: ``{endpoint_id, unit_price, unit, currency}``."""
    unit, base = "request", "0.005"
    for categories, name, cheapest in _UNITS:
        if category in categories:
            unit, base = name, cheapest
            break
    step = int(hashlib.sha256(endpoint_id.encode()).hexdigest()[:4], 16) % 8 + 1
    value = (Decimal(base) * step).normalize()
    return {
        "endpoint_id": endpoint_id,
        "unit_price": float(value),
        "unit": unit,
        "currency": "USD",
    }


def extra_routes(state: SimulatorState) -> list[Route]:
    """fal's pricing endpoint and the side-fault admin route."""

    async def fal_pricing(request: Request) -> Response:
        if state.take_side_failure("fal-pricing"):
            return json_response(error_body("fal", 500, "pricing is having a moment"), 500)
        wanted = request.query_params.getlist("endpoint_id")
        if not wanted or len(wanted) > PRICING_BATCH:
            message = f"endpoint_id must be given 1 to {PRICING_BATCH} times"
            return json_response(error_body("fal", 400, message), 400)
        fal = state.gateway("fal")
        categories = {
            entry.get("endpoint_id"): (entry.get("metadata") or {}).get("category")
            for entry in fal.entries
            if isinstance(entry, dict)
        }
        prices = [fal_price(i, categories[i]) for i in wanted if i in categories]
        return json_response({"prices": prices, "next_cursor": None, "has_more": False})

    def current_ids() -> dict[str, list[str]]:
        return {
            name: [entry_id(gateway.shape, entry) for entry in gateway.entries]
            for name, gateway in state.gateways.items()
        }

    async def modelsdev(request: Request) -> Response:
        if state.take_side_failure("modelsdev"):
            return json_response({"error": "models.dev is having a moment"}, 500)
        return json_response(modelsdev_catalog(current_ids(), state.reference_factor))

    async def litellm(request: Request) -> Response:
        if state.take_side_failure("litellm"):
            return json_response({"error": "raw.githubusercontent.com is having a moment"}, 500)
        return json_response(litellm_catalog(current_ids(), state.reference_factor))

    async def reference_factor(request: Request) -> Response:
        try:
            payload = await request.json()
            factor = Decimal(str(payload["factor"]))
        except (ValueError, KeyError, TypeError, ArithmeticError):
            return json_response({"error": 'expected {"factor": <positive number>}'}, 422)
        if not factor.is_finite() or factor <= 0:
            return json_response({"error": "factor must be positive"}, 422)
        state.reference_factor = factor
        return json_response({"factor": str(factor)})

    async def side_fault(request: Request) -> Response:
        try:
            payload = await request.json()
        except ValueError:
            return json_response({"error": "the body is not valid JSON"}, 400)
        endpoint = payload.get("endpoint") if isinstance(payload, dict) else None
        times = payload.get("times", 1) if isinstance(payload, dict) else None
        if endpoint not in SIDE_ENDPOINTS:
            known = ", ".join(SIDE_ENDPOINTS)
            return json_response({"error": f"unknown endpoint {endpoint!r}; known: {known}"}, 422)
        if type(times) is not int or times < 0:
            return json_response({"error": f"times must be a count, got {times!r}"}, 422)
        state.side_failures[endpoint] = times
        return json_response({"endpoint": endpoint, "times": times})

    return [
        Route("/fal/v1/models/pricing", fal_pricing, methods=["GET"]),
        Route("/modelsdev/api.json", modelsdev, methods=["GET"]),
        Route(LITELLM_PATH, litellm, methods=["GET"]),
        Route("/_admin/side-fault", side_fault, methods=["POST"]),
        Route("/_admin/reference-factor", reference_factor, methods=["POST"]),
    ]
