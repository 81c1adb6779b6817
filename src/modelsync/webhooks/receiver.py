"""The webhook receiver (DESIGN section 8): headers and raw body in, a status and JSON answer out.

Framework-independent; the web layer hands it the request's headers and body and sends back the
:class:`ReceiveResult`. The order is the contract::

    size     body over the limit                                  413
    secret   none configured: fail closed                         401
    verify   signature, timestamp (before any JSON is parsed)     401
    parse    orjson, then the seed scheme's body timestamp (401), 400 invalid JSON
             then the strict shape and known gateways             422 wrong shape
    record   commit the delivery (group commit, before any         200 duplicate, 503 when the
             answer; a recorder that cannot raises StoreError)     recorder raises StoreError
    act      invalidate the section 7 tags, request a coalesced
             verification sync of each gateway (never awaited)    202 accepted

A duplicate asks ``retrigger`` for each of its gateways: a retried delivery whose verification
sync never ran (see :mod:`modelsync.webhooks.verification`) gets it requested again.

A webhook is a signed hint: the sync it triggers diffs the gateway and is the authority. The hot
path does one HMAC, one ``orjson.loads`` and one validation; nothing per model beyond the tags.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from pydantic import SecretStr

from modelsync.cache.base import Invalidator
from modelsync.cache.hub import Invalidations
from modelsync.cache.tags import for_sync_status, for_webhook_event, union
from modelsync.clock import Clock
from modelsync.errors import SignatureError, StoreError, WebhookError, WebhookTooLarge
from modelsync.store.base import WebhookDelivery
from modelsync.webhooks.payloads import (
    EVENT_TYPES,
    WebhookEvent,
    gateway_table,
    load_document,
    validate_events,
)
from modelsync.webhooks.signing import (
    DEFAULT_TOLERANCE_S,
    HEX_SCHEME,
    STANDARD_SCHEME,
    WebhookKeys,
    check_body_timestamps,
    parse_secrets,
    verify,
)

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 1024 * 1024
REPORTED_ITEMS = 100
"""An answer lists at most this many tags and paths (a 5,000-model event has 5,000)."""


class DeliveryRecorder(Protocol):
    """Where accepted deliveries are committed for idempotency (see ``GroupCommitRecorder``).

    A recorder logs its own failures and raises :class:`~modelsync.errors.StoreError`, which the
    receiver answers with 503 so that the sender retries.
    """

    async def record(self, delivery: WebhookDelivery) -> bool:
        """Commit, then answer: ``True`` when new, ``False`` for a live duplicate key."""
        ...


CanonicalId = Callable[[str, Mapping[str, Any]], str]
"""``(gateway, model as the event names it) -> canonical id``, as the gateway's adapter maps it;
without one, a webhook invalidates the raw ids it names."""

SyncTrigger = Callable[[str], object]
"""Requests a coalesced sync of a gateway; must return at once (an awaitable runs as a task)."""


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    """The answer to send: HTTP status and JSON body."""

    status_code: int
    body_json: dict[str, Any]


class WebhookReceiver:
    """Verifies, parses, deduplicates and acts on ``POST /api/webhooks/models-updated``.

    ``secrets`` is ``MODEL_WEBHOOK_SECRET`` as configured (a bad ``whsec_`` secret is a
    ConfigError here, at start-up); ``known_gateways`` the gateway names, or a mapping of names
    and aliases to names; ``retrigger`` is called for the gateways of a duplicate. Counters for
    :meth:`describe` are per process.
    """

    def __init__(  # noqa: PLR0917 - the positional order is the documented contract
        self,
        secrets: WebhookKeys | SecretStr | str | None,
        known_gateways: Collection[str] | Mapping[str, str],
        recorder: DeliveryRecorder,
        invalidator: Invalidator,
        trigger: SyncTrigger,
        clock: Clock,
        *,
        tolerance_s: float = DEFAULT_TOLERANCE_S,
        max_body_bytes: int = MAX_BODY_BYTES,
        retrigger: SyncTrigger | None = None,
        canonical: CanonicalId | None = None,
        process: str | None = None,
    ) -> None:
        self._process = process
        if isinstance(secrets, SecretStr):
            secrets = secrets.get_secret_value()
        self._keys = secrets if isinstance(secrets, WebhookKeys) else parse_secrets(secrets)
        self._gateways = gateway_table(known_gateways)
        self._recorder = recorder
        self._invalidator = invalidator
        self._trigger = trigger
        self._retrigger = retrigger
        self._canonical = canonical
        self._clock = clock
        self._tolerance_s = tolerance_s
        self._expiry = timedelta(seconds=2 * tolerance_s)
        self._max_body_bytes = max_body_bytes
        self._background: set[asyncio.Future[Any]] = set()
        self._deliveries = self._events = self._models = self._duplicates = 0
        self._rejected: Counter[int] = Counter()
        self._last_accepted_at: datetime | None = None

    @property
    def max_body_bytes(self) -> int:
        """The body limit; the web layer should refuse a larger Content-Length before reading."""
        return self._max_body_bytes

    async def receive(self, headers: Mapping[str, str], body: bytes) -> ReceiveResult:
        """Handle one delivery; ``headers`` must answer lower-case names (Starlette's do)."""
        try:
            return await self._receive(headers, body)
        except WebhookError as exc:
            self._rejected[exc.status_code] += 1
            log.debug("webhook_rejected", status=exc.status_code, reason=str(exc))
            return ReceiveResult(exc.status_code, {"status": "rejected", "detail": str(exc)})

    async def _receive(self, headers: Mapping[str, str], body: bytes) -> ReceiveResult:
        if len(body) > self._max_body_bytes:
            raise WebhookTooLarge(f"body over the limit of {self._max_body_bytes} bytes")
        if not self._keys.configured:
            raise SignatureError("no webhook secret configured")
        now = self._clock.now()
        verified = verify(self._keys, headers, body, now=now, tolerance_s=self._tolerance_s)
        document = load_document(body)
        check_body_timestamps(verified, document, now=now, tolerance_s=self._tolerance_s)
        events = validate_events(document, self._gateways)
        gateways = list(dict.fromkeys(event.gateway for event in events))
        models = sum(len(event.models) for event in events)
        delivery = WebhookDelivery(
            key=verified.key,
            scheme=verified.scheme,
            gateway=gateways[0] if len(gateways) == 1 else None,
            event_types=tuple(dict.fromkeys(event.event_type for event in events)),
            model_count=models,
            received_at=now,
            expires_at=now + self._expiry,
            detail={"events": len(events), "gateways": gateways}
            | ({"process": self._process} if self._process else {}),
        )
        try:
            new = await self._recorder.record(delivery)
        except StoreError as exc:
            log.debug("webhook_record_failed", key=verified.key, error=str(exc))
            self._rejected[503] += 1
            detail = "could not record the delivery; retry later"
            return ReceiveResult(503, {"status": "unavailable", "detail": detail})
        if not new:
            self._duplicates += 1
            if self._retrigger is not None:
                for gateway in gateways:
                    self._call(self._retrigger, gateway)
            return ReceiveResult(200, {"status": "duplicate", "id": verified.key})
        invalidated, cache = await self._invalidate(events, verified.key)
        for gateway in gateways:
            self._call(self._trigger, gateway)
        self._deliveries += 1
        self._events += len(events)
        self._models += models
        self._last_accepted_at = now
        return ReceiveResult(
            202,
            {
                "status": "accepted",
                "id": verified.key,
                "scheme": verified.scheme,
                "events": len(events),
                "models": models,
                "gateways": gateways,
                "invalidated": invalidated,
                "cache": cache,
                "sync_requested": gateways,
            },
        )

    async def _invalidate(
        self, events: tuple[WebhookEvent, ...], key: str
    ) -> tuple[dict[str, int] | None, dict[str, Any] | None]:
        """Drop the events' tags now; a failing invalidator is logged, the sync still runs.

        Answers the counts, and (from an :class:`Invalidations` hub) what was invalidated,
        cut at :data:`REPORTED_ITEMS`, and which purgers queued it.
        """
        invalidation = (
            union(
                for_webhook_event(event.gateway, event.event_type, self._model_ids(event))
                for event in events
            )
            | for_sync_status()
        )
        reason = f"webhook {key}"
        try:
            if isinstance(self._invalidator, Invalidations):
                report = await self._invalidator.apply(invalidation, reason=reason)
                purgers: tuple[str, ...] = report.purgers
            else:
                await self._invalidator.invalidate(invalidation, reason=reason)
                purgers = ()
        except Exception:  # the delivery is recorded, and its sync invalidates again
            log.warning("webhook_invalidation_failed", key=key, exc_info=True)
            return None, None
        tags, paths = sorted(invalidation.tags), sorted(invalidation.paths)
        detail = {
            "tags": tags[:REPORTED_ITEMS],
            "paths": paths[:REPORTED_ITEMS],
            "truncated": len(tags) > REPORTED_ITEMS or len(paths) > REPORTED_ITEMS,
            "purgers": list(purgers),
        }
        return {"tags": len(tags), "paths": len(paths)}, detail

    def _model_ids(self, event: WebhookEvent) -> list[str]:
        canonical = self._canonical
        if canonical is None:
            return event.model_ids
        return list(dict.fromkeys(canonical(event.gateway, model) for model in event.models))

    def _call(self, trigger: SyncTrigger, gateway: str) -> None:
        """Call a trigger; an awaitable it returns runs in the background, never awaited."""
        try:
            result = trigger(gateway)
        except Exception:  # the delivery is recorded, and the next poll catches up
            log.warning("webhook_sync_trigger_failed", gateway=gateway, exc_info=True)
            return
        if result is not None and inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._background.add(task)
            task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("webhook_sync_trigger_failed", exc_info=task.exception())

    def describe(self) -> dict[str, Any]:
        """What ``GET /api/webhooks/models-updated`` answers: never a secret."""
        keys = self._keys
        return {
            "active": True,
            "secret_configured": keys.configured,
            "events": list(EVENT_TYPES),
            "schemes": [
                {
                    "name": HEX_SCHEME,
                    "headers": ["X-Webhook-Signature"],
                    "configured": bool(keys.hex_keys),
                },
                {
                    "name": STANDARD_SCHEME,
                    "headers": ["webhook-id", "webhook-timestamp", "webhook-signature"],
                    "configured": bool(keys.standard_keys),
                },
            ],
            "tolerance_s": self._tolerance_s,
            "max_body_bytes": self._max_body_bytes,
            "accepted": {
                "deliveries": self._deliveries,
                "events": self._events,
                "models": self._models,
            },
            "duplicates": self._duplicates,
            "rejected": {str(status): count for status, count in sorted(self._rejected.items())},
            "last_accepted_at": (
                self._last_accepted_at.isoformat() if self._last_accepted_at else None
            ),
        }
