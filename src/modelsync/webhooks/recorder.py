"""Recording webhook deliveries: deduplicated in memory at once, written to the store in batches.

A delivery's idempotency key is checked against the keys of this process's unexpired deliveries
(loaded from the store at start, so a restart still knows the last window's deliveries) and the
answer is immediate: no request waits for a database round trip. The deliveries are written
behind, in one statement per batch, ``flush_delay_s`` after the first of a batch arrives (or at
once when ``max_batch`` are waiting), so under load one transaction carries hundreds of them.

What this trades: the record (not the effect) of a delivery answered 2xx is durable within
``flush_delay_s``, not before the answer. The effect, invalidating tags and requesting a
verification sync, has already happened; a crash inside that window loses the record of a hint
whose sync the next poll repeats anyway. Across processes, the store's unique key still catches a
delivery that two processes accepted in the same flush window; the later one is logged.

A failing store is retried with back-off; deliveries wait in memory (at most ``max_pending``;
past that the oldest records are dropped, counted and logged, never silently).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

import structlog

from modelsync.clock import Clock
from modelsync.store.base import WebhookDelivery

log = structlog.get_logger(__name__)


class DeliveryStore(Protocol):
    """The part of :class:`~modelsync.store.base.Store` the recorder needs."""

    async def record_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> list[bool]:
        """Record in order and durably; ``False`` for a live duplicate key."""
        ...


class BufferedRecorder:
    """A :class:`~modelsync.webhooks.receiver.DeliveryRecorder`: memory first, store behind."""

    def __init__(
        self,
        store: DeliveryStore,
        clock: Clock,
        *,
        flush_delay_s: float = 0.02,
        max_batch: int = 500,
        max_pending: int = 100_000,
        retry_s: float = 1.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._flush_delay_s = flush_delay_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._retry_s = retry_s
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._pending: list[WebhookDelivery] = []
        self._flusher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._failing = False
        self.batches = 0
        """Batches written so far (for tests and status)."""
        self.largest_batch = 0
        self.dropped = 0
        """Records dropped because the store stayed down past ``max_pending`` deliveries."""
        self.late_duplicates = 0
        """Deliveries the store knew although this process did not (another process took them)."""

    def remember(self, keys: Iterable[tuple[str, datetime]]) -> None:
        """Know these stored ``(key, expires_at)``: the start-up load of the live window."""
        for key, expires_at in sorted(keys, key=lambda item: item[1]):
            self._seen[key] = expires_at

    async def record(self, delivery: WebhookDelivery) -> bool:
        """``True`` for a new delivery (queued for the store), ``False`` for a live duplicate."""
        self._expire(delivery.received_at)
        if delivery.key in self._seen:
            return False
        self._seen[delivery.key] = delivery.expires_at
        self._pending.append(delivery)
        if len(self._pending) > self._max_pending:
            excess = len(self._pending) - self._max_pending
            del self._pending[:excess]
            self.dropped += excess
            log.error("webhook_records_dropped", dropped=excess, total=self.dropped)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="webhook-recorder")
        elif len(self._pending) >= self._max_batch:
            self._wake.set()
        return True

    async def aclose(self) -> None:
        """Write what is waiting (at shutdown); gives up after one failed attempt."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
        if self._pending:
            await self._write_batches(retry=False)

    def _expire(self, now: datetime) -> None:
        seen = self._seen
        while seen:
            key, expires_at = next(iter(seen.items()))
            if expires_at > now:
                break
            del seen[key]

    async def _flush(self) -> None:
        try:
            while self._pending:
                if len(self._pending) < self._max_batch:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._flush_delay_s)
                await self._write_batches(retry=True)
        finally:
            if asyncio.current_task() is self._flusher:
                self._flusher = None

    async def _write_batches(self, *, retry: bool) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            try:
                results = await self._store.record_deliveries(batch)
            except Exception:  # the store is away: keep the records, log once, retry
                if not self._failing:
                    self._failing = True
                    log.exception("webhook_records_failing", waiting=len(self._pending))
                if not retry:
                    return
                await asyncio.sleep(self._retry_s)
                continue
            del self._pending[: len(batch)]
            if self._failing:
                self._failing = False
                log.info("webhook_records_recovered")
            self.batches += 1
            self.largest_batch = max(self.largest_batch, len(batch))
            late = len(results) - sum(results)
            if late:
                self.late_duplicates += late
                log.info("webhook_late_duplicates", count=late)
