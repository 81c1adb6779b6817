"""Group commit of webhook deliveries: many concurrent deliveries, one store transaction.

Each caller of :meth:`GroupCommitRecorder.record` waits for the commit of the batch that holds
its delivery, so a delivery is durable before its 2xx answer. While one batch commits, the
deliveries that arrive queue up and go together in the next: there is no timer and no added
latency when the receiver is idle, and one transaction per batch when it is busy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import structlog

from modelsync.errors import StoreError
from modelsync.store.base import WebhookDelivery

log = structlog.get_logger(__name__)


class DeliveryStore(Protocol):
    """The part of :class:`~modelsync.store.base.Store` the recorder needs."""

    async def record_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> list[bool]:
        """Record in order and durably; ``False`` for a live duplicate key."""
        ...


class GroupCommitRecorder:
    """A :class:`~modelsync.webhooks.receiver.DeliveryRecorder` that batches into the store."""

    def __init__(self, store: DeliveryStore, *, max_batch: int = 256) -> None:
        self._store = store
        self._max_batch = max_batch
        self._pending: list[tuple[WebhookDelivery, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0
        """Committed batches so far (for tests and status)."""
        self.largest_batch = 0
        self._failing = False

    async def record(self, delivery: WebhookDelivery) -> bool:
        """Queue the delivery and wait for its batch to commit; ``True`` when it was new.

        A failed commit raises :class:`~modelsync.errors.StoreError` in every caller of the batch.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def aclose(self) -> None:
        """Wait until every queued delivery is committed (at shutdown)."""
        while self._flusher is not None:
            await self._flusher

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._commit(batch)
        except asyncio.CancelledError:
            for _, future in self._pending:
                future.cancel()
            self._pending.clear()
            raise
        finally:
            self._flusher = None

    async def _commit(self, batch: list[tuple[WebhookDelivery, asyncio.Future[bool]]]) -> None:
        """Commit one batch; a key repeated inside it goes to the store once, repeats are dupes."""
        first: dict[str, int] = {}
        deliveries: list[WebhookDelivery] = []
        for delivery, _ in batch:
            if delivery.key not in first:
                first[delivery.key] = len(deliveries)
                deliveries.append(delivery)
        try:
            results = await self._store.record_deliveries(deliveries)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # every caller of the batch learns of it, as a StoreError
            if not self._failing:  # logged once when failing starts, and once on recovery
                self._failing = True
                log.exception("webhook_delivery_commit_failing", size=len(batch))
            _fail(batch, exc)
            return
        if len(results) != len(deliveries):
            _fail(batch, StoreError(f"store answered {len(results)} results for {len(batch)}"))
            return
        if self._failing:
            self._failing = False
            log.info("webhook_delivery_commit_recovered")
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        for delivery, future in batch:
            index = first.pop(delivery.key, None)
            if not future.done():
                future.set_result(index is not None and results[index])


def _fail(batch: list[tuple[WebhookDelivery, asyncio.Future[bool]]], cause: Exception) -> None:
    """Raise a fresh StoreError (caused by ``cause``) in every caller still waiting."""
    for _, future in batch:
        if not future.done():
            error = StoreError("could not record the webhook delivery")
            error.__cause__ = cause
            future.set_exception(error)
