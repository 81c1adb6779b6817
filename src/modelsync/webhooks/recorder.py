"""Group commit of webhook deliveries: a delivery is committed before its 2xx answer.

Each caller of :meth:`GroupCommitRecorder.record` waits for the commit of the batch that holds
its delivery. While one batch commits, the deliveries that arrive meanwhile queue up and go
together in the next one: no timer, no added latency when the receiver is idle, and one
transaction for many deliveries when it is busy. So a 2xx always means the record is in the
database (and with it the gateway's ``last_webhook_at``, from which a restarted process replays
the verification syncs still owed: :mod:`modelsync.webhooks.verification`).

A commit that fails raises :class:`~modelsync.errors.StoreError` in every caller of its batch,
which the receiver answers 503 so that the sender retries: nothing is accepted that is not
stored. The failure is logged once per failing streak (with its traceback), and once on recovery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import structlog

from modelsync.errors import StoreError
from modelsync.store.base import WebhookDelivery

log = structlog.get_logger(__name__)

Waiting = tuple[WebhookDelivery, "asyncio.Future[bool]"]


class DeliveryStore(Protocol):
    """The part of :class:`~modelsync.store.base.Store` the recorder needs."""

    async def record_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> list[bool]:
        """Record in order and durably; ``False`` for a live duplicate key."""
        ...


class GroupCommitRecorder:
    """A :class:`~modelsync.webhooks.receiver.DeliveryRecorder` that batches into the store."""

    def __init__(self, store: DeliveryStore, *, max_batch: int = 500) -> None:
        self._store = store
        self._max_batch = max_batch
        self._pending: list[Waiting] = []
        self._flusher: asyncio.Task[None] | None = None
        self._failing = False
        self.batches = 0
        """Committed batches so far (for tests and the benchmark)."""
        self.largest_batch = 0

    async def record(self, delivery: WebhookDelivery) -> bool:
        """Queue the delivery and wait until its batch is committed; ``True`` when it was new.

        A caller that goes away (a cancelled request) does not take its delivery out of the
        batch: what was queued is committed.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="webhook-group-commit")
        return await future

    async def aclose(self) -> None:
        """Wait until every queued delivery is committed or has failed (at shutdown)."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._commit(batch)
        finally:
            self._flusher = None
            for _, future in self._pending:  # only on cancellation: nothing may wait forever
                future.cancel()
            self._pending.clear()

    async def _commit(self, batch: list[Waiting]) -> None:
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
            _fail(batch, StoreError("shutting down"))
            raise
        except Exception as exc:  # every caller of the batch learns of it, as a StoreError
            if not self._failing:
                self._failing = True
                log.exception("webhook_deliveries_failing", batch=len(batch))
            _fail(batch, exc)
            return
        if self._failing:
            self._failing = False
            log.info("webhook_deliveries_recovered")
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        for delivery, future in batch:
            index = first.pop(delivery.key, None)
            if not future.done():
                future.set_result(index is not None and results[index])


def _fail(batch: list[Waiting], cause: BaseException) -> None:
    """Raise a fresh StoreError (caused by ``cause``) in every caller still waiting."""
    for _, future in batch:
        if not future.done():
            error = StoreError("could not record the webhook delivery")
            error.__cause__ = cause
            future.set_exception(error)
