"""The endpoints a simulated gateway serves beside its listing, and the reference catalogs.

- fal's pricing API, ``GET /fal/v1/models/pricing?endpoint_id=...`` (1-50 ids): a deterministic
  unit price for each listed endpoint from its category (per image, per second of video or
  audio, per megapixel for upscalers, per 1M tokens for LLMs) and its id.
- ``POST /_admin/side-fault`` ``{"endpoint": "fal-pricing", "times": n}``: the next ``n``
  requests to that endpoint answer 500 (``times`` 0 clears).

Pure pricing rules (:func:`fal_price`) plus thin Starlette endpoints.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelsync.simulator.responses import error_body, json_response
from modelsync.simulator.state import SimulatorState

SIDE_ENDPOINTS = ("fal-pricing",)
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
        Route("/_admin/side-fault", side_fault, methods=["POST"]),
    ]
