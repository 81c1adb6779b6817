"""The simulator's signed webhook sender: after a scripted change, tell the service about it.

A ``whsec_`` secret signs with Standard Webhooks headers; any other secret with the seed front
end's ``X-Webhook-Signature``. A failed delivery is logged, never raised: a webhook is a hint and
the service's polls catch up anyway.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import structlog

from modelsync.webhooks.signing import STANDARD_PREFIX, sign_hex, sign_standard

log = structlog.get_logger(__name__)

OP_EVENTS = {
    "add": "models.added",
    "restore": "models.added",
    "remove": "models.removed",
    "reprice": "models.updated",
    "rename": "models.updated",
    "set_field": "models.updated",
}


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where to send, and the secret to sign with (never logged)."""

    url: str
    secret: str


def event_for(result: Mapping[str, Any], *, now_ms: int) -> dict[str, Any] | None:
    """The webhook event for a mutation's result (``None`` for steps that are not mutations)."""
    event_type = OP_EVENTS.get(str(result.get("op")))
    model_id = result.get("model_id")
    if event_type is None or not isinstance(model_id, str):
        return None
    return {
        "gateway": result["gateway"],
        "event_type": event_type,
        "models": [{"id": model_id}],
        "timestamp": now_ms,
    }


def signed_headers(secret: str, body: bytes, *, now_s: int) -> dict[str, str]:
    """Headers that sign ``body`` with ``secret`` in the scheme the secret's form selects."""
    headers = {"content-type": "application/json"}
    if secret.startswith(STANDARD_PREFIX):
        msg_id = f"msg_{uuid.uuid4().hex}"
        headers.update(
            {
                "webhook-id": msg_id,
                "webhook-timestamp": str(now_s),
                "webhook-signature": sign_standard(secret, msg_id, now_s, body),
            }
        )
    else:
        headers["x-webhook-signature"] = sign_hex(secret, body)
    return headers


class WebhookSender:
    def __init__(self, target: WebhookTarget, client: httpx.AsyncClient) -> None:
        self._target = target
        self._client = client

    async def send(self, result: Mapping[str, Any]) -> int | None:
        """Send the event for ``result``; the answer's status, or ``None`` when nothing was sent."""
        now = time.time()
        event = event_for(result, now_ms=int(now * 1000))
        if event is None:
            return None
        body = orjson.dumps(event)
        headers = signed_headers(self._target.secret, body, now_s=int(now))
        try:
            response = await self._client.post(self._target.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("simulator webhook failed", url=self._target.url, error=repr(exc))
            return None
        log.info("simulator webhook sent", gateway=event["gateway"], status=response.status_code)
        return response.status_code
