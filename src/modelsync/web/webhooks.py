"""``/api/webhooks/models-updated``: the HTTP side of the webhook receiver (DESIGN section 8)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from modelsync.web.deps import services_of

router = APIRouter(tags=["webhooks"])

PATH = "/api/webhooks/models-updated"

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "One event or a JSON list of events, signed with X-Webhook-Signature (hex HMAC-SHA256 "
            "of the raw body, optional sha256= prefix) or Standard Webhooks headers."
        ),
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["gateway", "event_type", "timestamp"],
                    "properties": {
                        "gateway": {"type": "string"},
                        "event_type": {
                            "type": "string",
                            "enum": [
                                "models.added",
                                "models.updated",
                                "models.removed",
                                "gateway.status_changed",
                            ],
                        },
                        "models": {"type": "array", "items": {"type": "object"}},
                        "timestamp": {"type": "integer", "description": "milliseconds"},
                    },
                }
            }
        },
    }
}

_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "a duplicate delivery, already processed"},
    202: {"description": "accepted: tags invalidated, a verification sync requested"},
    400: {"description": "invalid JSON"},
    401: {"description": "missing or bad signature, stale timestamp, or no secret configured"},
    413: {"description": "body over the limit (1 MiB)"},
    422: {"description": "valid JSON of the wrong shape, an unknown gateway or event"},
    503: {"description": "the delivery could not be recorded; retry"},
}


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _json(status_code: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


@router.post(PATH, openapi_extra=_BODY_DOC, responses=_ANSWERS, response_class=Response)
async def receive_webhook(request: Request) -> Response:
    """A signed "models changed" hint: verified, recorded, invalidates at once, triggers a sync."""
    receiver = services_of(request).receiver
    try:
        body = await _read_body(request, receiver.max_body_bytes)
    except _TooLarge:
        detail = f"body over the limit of {receiver.max_body_bytes} bytes"
        return _json(413, {"status": "rejected", "detail": detail})
    result = await receiver.receive(request.headers, body)
    return _json(result.status_code, result.body_json)


@router.get(PATH)
async def describe_webhook(request: Request) -> dict[str, Any]:
    """Whether the endpoint is active, which events and schemes it takes, if a secret is set."""
    return services_of(request).receiver.describe()
