"""The I/O shell of a purger: a bounded queue of tags and paths, drained by one task.

:meth:`PurgeWorker.enqueue` never blocks and never awaits the network: keys join the pending
set (repeats coalesce), up to ``queue_size`` keys; past that the new keys are refused, counted
as a failure and logged (never dropped silently). The worker's task takes everything pending,
turns it into calls (:mod:`modelsync.purge.targets`) and sends each with a per-call timeout,
retrying server errors, 408, 429 and transport errors with backoff and jitter up to the retry
budget; a call that still fails (or gets another 4xx) is given up and recorded. Its last
success, last failure, last error, queue depth and failure count are in :meth:`describe`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from typing import Any

import httpx
import structlog

from modelsync.clock import Clock
from modelsync.observability.metrics import purge_call, purge_queue_depth
from modelsync.purge.record import DeliveryRecord
from modelsync.purge.targets import Backoff, Call, Target, retryable

log = structlog.get_logger("modelsync.purge")

Sleep = Callable[[float], Awaitable[None]]


class PurgeWorker:
    """One purger: its queue, its task and its record."""

    def __init__(
        self,
        target: Target,
        client: httpx.AsyncClient,
        clock: Clock,
        *,
        backoff: Backoff,
        timeout_s: float,
        queue_size: int,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.target = target
        self.name = target.name
        self._client = client
        self._clock = clock
        self._backoff = backoff
        self._timeout_s = timeout_s
        self._queue_size = queue_size
        self._sleep = sleep
        self._tags: dict[str, None] = {}
        self._paths: dict[str, None] = {}
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.in_flight = 0
        self.record = DeliveryRecord()

    @property
    def queue_depth(self) -> int:
        """Keys waiting, and those of the batch being sent."""
        return len(self._tags) + len(self._paths) + self.in_flight

    def enqueue(self, tags: Iterable[str], paths: Iterable[str]) -> bool:
        """Queue keys (without waiting); ``False`` when the queue was full and they were refused."""
        new_tags = [t for t in tags if t not in self._tags]
        new_paths = [p for p in paths if p not in self._paths]
        if not (new_tags or new_paths):
            return True
        if self.queue_depth + len(new_tags) + len(new_paths) > self._queue_size:
            refused = len(new_tags) + len(new_paths)
            self.record.refused_keys += refused
            self._failed(f"queue full ({self._queue_size} keys): {refused} keys refused")
            return False
        self._tags.update(dict.fromkeys(new_tags))
        self._paths.update(dict.fromkeys(new_paths))
        self._idle.clear()
        self._ready.set()
        purge_queue_depth(self.name, self.queue_depth)
        return True

    def describe(self) -> dict[str, Any]:
        return self.record.describe(self.queue_depth)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"modelsync-purge-{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def drained(self, timeout_s: float) -> bool:
        """Wait until nothing is pending or in flight (tests, shutdown); whether it was."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            tags, paths = list(self._tags), list(self._paths)
            self._tags.clear()
            self._paths.clear()
            self.in_flight = len(tags) + len(paths)
            try:
                for call in self.target.calls(tags, paths):
                    await self._send(call)
            except Exception:
                log.exception("purge.worker_failed", purger=self.name)
                self._failed("internal error (see the log)")
            finally:
                self.in_flight = 0
                purge_queue_depth(self.name, self.queue_depth)
            if not (self._tags or self._paths):
                self._idle.set()

    async def _send(self, call: Call) -> None:
        """Send one call within the retry budget; record the outcome."""
        error = ""
        for attempt in range(1, self._backoff.attempts + 1):
            try:
                response = await self._client.request(
                    call.method,
                    call.url,
                    headers=call.headers,
                    content=call.body,
                    timeout=self._timeout_s,
                )
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__} calling {where(call.url)}"
            else:
                if response.is_success:
                    self.record.sent(self._clock.now())
                    purge_call(self.name, "ok")
                    return
                error = f"HTTP {response.status_code} from {where(call.url)}"
                if not retryable(response.status_code):
                    purge_call(self.name, "failed")
                    self._failed(f"{error}; not retried (check the purger's settings)")
                    return
            if attempt < self._backoff.attempts:
                purge_call(self.name, "retried")
                await self._sleep(self._backoff.delay(attempt))
        purge_call(self.name, "failed")
        self._failed(f"{error}; gave up after {self._backoff.attempts} attempts")

    def _failed(self, error: str) -> None:
        self.record.failed(self._clock.now(), error)
        log.warning("purge.failed", purger=self.name, error=error)


def where(url: str) -> str:
    """Scheme, host and path of a URL: never its query (a token could ride in it)."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}{parsed.path}"
