"""A run's lease while the run lasts: renewed by a heartbeat, and the bound on the run's time.

A lease is short (``ttl_s``, tens of seconds, measured by the database's clock), so a process
that dies holds its gateways for no longer than that. While a run is in progress,
:class:`LeaseKeeper` renews the lease every ``ttl_s / 3`` and bounds the run's work
(:meth:`LeaseKeeper.bounded`) by the first of:

* the run's total deadline (``deadline_s`` from the start);
* the lease lost: a renewal found it taken over (another process's token) or released;
* the lease possibly lapsed: no renewal got through (the database away) for ``ttl_s`` minus a
  safety margin since the last one was sent, so the run stops before anyone could take over.

When a bound fires the work is cancelled and :attr:`LeaseKeeper.stop_reason` says why; the run is
then recorded as failed. Times are the event loop's (monotonic); the database's clock decides
the lease itself, the keeper only errs on the early side.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType

import structlog

from modelsync.errors import StoreError
from modelsync.store.base import Lease, Store

log = structlog.get_logger("modelsync.sync")

SAFETY_SHARE = 0.2
"""The share of the lease time a run stops early by, when renewals do not get through."""


class LeaseKeeper:
    """Renews ``lease`` while the ``async with`` block lasts; :meth:`bounded` limits the work."""

    def __init__(self, store: Store, lease: Lease, *, ttl_s: float, deadline_s: float) -> None:
        self.lease = lease
        self.stop_reason: str | None = None
        self._store = store
        self._ttl_s = ttl_s
        self._deadline_s = deadline_s
        self._loop = asyncio.get_running_loop()
        started = self._loop.time()
        self._deadline = started + deadline_s
        self._valid_until = started + ttl_s * (1 - SAFETY_SHARE)
        self._lost: str | None = None
        self._timeout: asyncio.Timeout | None = None
        self._beat: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LeaseKeeper:
        self._beat = asyncio.create_task(self._heartbeat(), name=f"lease-{self.lease.gateway}")
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat

    def remaining(self) -> float:
        """Seconds left before the run's deadline (what a fetch may still spend)."""
        return max(0.0, self._deadline - self._loop.time())

    @contextlib.asynccontextmanager
    async def bounded(self) -> AsyncIterator[None]:
        """Run the block until a bound fires: then it is cancelled, :attr:`stop_reason` set, and
        ``TimeoutError`` raised (other exceptions pass through)."""
        async with asyncio.timeout_at(self._until()) as timeout:
            self._timeout = timeout
            try:
                yield
            finally:
                self._timeout = None
                if timeout.expired():
                    self.stop_reason = self._reason()

    def _until(self) -> float:
        if self._lost is not None:
            return self._loop.time()
        return min(self._deadline, self._valid_until)

    def _reason(self) -> str:
        if self._lost is not None:
            return f"lost its lease while running: {self._lost}"
        if self._loop.time() >= self._deadline:
            return f"took longer than its deadline of {self._deadline_s:g}s"
        return (
            "stopped before its lease could lapse: the lease could not be renewed for "
            f"{self._ttl_s * (1 - SAFETY_SHARE):g}s (the database is unavailable)"
        )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            sent = self._loop.time()
            try:
                renewed = await self._store.renew_lease(self.lease, ttl_s=self._ttl_s)
            except StoreError as exc:  # the bound stops the run if this goes on too long
                log.debug("sync.lease_renewal_failed", gateway=self.lease.gateway, error=str(exc))
                continue
            if renewed is None:
                self._lost = "another process took it over, or it was released"
            else:
                self.lease = renewed
                self._valid_until = sent + self._ttl_s * (1 - SAFETY_SHARE)
            if self._timeout is not None and not self._timeout.expired():
                # an expiring bound (it fired; the cancelled block is still cleaning up) is
                # final: rescheduling it raises
                self._timeout.reschedule(self._until())
            if renewed is None:
                return
