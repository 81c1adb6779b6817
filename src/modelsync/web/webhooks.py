"""``/api/webhooks/models-updated``: the HTTP side of the webhook receiver (DESIGN section 8)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.types import Message, Receive, Scope, Send

from modelsync.observability.metrics import metrics
from modelsync.web.deps import services_of
from modelsync.web.guards import answer_json, declared_length
from modelsync.webhooks.receiver import WebhookReceiver

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
    503: {"description": "the delivery could not be recorded; retry (a recorder that raises)"},
}


class _TooLarge(Exception):
    pass


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` (declared or streamed)."""
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def is_delivery(scope: Scope) -> bool:
    """Whether a request is a webhook delivery (``POST`` on the webhook path)."""
    return bool(scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST")


async def serve_delivery(
    receiver: WebhookReceiver, receive: Receive, send: Send, scope: Scope
) -> None:
    """Answer one delivery, as a bare ASGI exchange.

    The webhook is the service's ingestion hot path: the application hands it here before any
    of FastAPI's layers (telemetry, middleware, routing, exception handling, exit stacks), which
    roughly doubles the deliveries one worker takes. The receiver answers every error itself.
    """
    try:
        body = await _read_body(scope, receive, receiver.max_body_bytes)
    except _TooLarge:
        detail = f"body over the limit of {receiver.max_body_bytes} bytes"
        metrics().webhook_delivery(413)
        await answer_json(send, 413, {"status": "rejected", "detail": detail})
        return
    headers = {name.decode("latin-1"): value.decode("latin-1")
               for name, value in scope["headers"]}  # fmt: skip
    result = await receiver.receive(headers, body)
    metrics().webhook_delivery(result.status_code)
    await answer_json(send, result.status_code, result.body_json)


@router.post(PATH, openapi_extra=_BODY_DOC, responses=_ANSWERS, response_class=Response)
async def receive_webhook(request: Request) -> Response:
    """A signed "models changed" hint: verified, recorded, invalidates at once, triggers a sync.

    Documentation only, in practice: the application answers deliveries before routing (see
    :func:`serve_delivery`); this route answers the same way if it is reached.
    """
    responses: list[Message] = []

    async def collect(message: Message) -> None:
        responses.append(message)

    receiver = services_of(request).receiver
    await serve_delivery(receiver, request.receive, collect, request.scope)
    start, body = responses
    return Response(body["body"], status_code=start["status"], media_type="application/json")


@router.get(PATH)
async def describe_webhook(request: Request) -> dict[str, Any]:
    """Whether the endpoint is active, which events and schemes it takes, if a secret is set."""
    return services_of(request).receiver.describe()
