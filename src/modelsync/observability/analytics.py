"""Product analytics: what the catalog did, sent to PostHog's capture API or a JSON-lines file.

Events (``distinct_id`` is ``gateway:<name>``; every event has ``gateway`` and ``process``):

=================================  ==============================================================
``models synced``                  a run that succeeded: ``outcome``, ``trigger``,
                                   ``added``, ``updated``, ``removed``, ``restored``,
                                   ``total_models``, ``duration_ms``
``gateway availability changed``   a gateway became failing, or recovered: ``available``,
                                   ``status``, ``previous_status``
``models added``                   ``count`` and ``model_ids`` (the first 100)
``models removed``                 the same
=================================  ==============================================================

:meth:`Analytics.capture` never waits: it appends to a bounded queue (the oldest event is
dropped, and counted, when a sink is away for long) and a background task sends batches of
``batch_size``, or whatever is queued every ``flush_interval_s``. A failing sink is logged once
per failing streak and retried on the next flush; at shutdown what is queued is sent once more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
import structlog

from modelsync.clock import Clock
from modelsync.observability import FailureStreaks

log = structlog.get_logger("modelsync.analytics")

Event = dict[str, Any]


class AnalyticsSink(Protocol):
    """Where batches go; raises on failure (the batch is kept and retried)."""

    async def send(self, batch: Sequence[Event]) -> None: ...


class PostHogSink:
    """PostHog's batch capture endpoint (``POST {host}/batch/``), through the shared client."""

    def __init__(self, client: httpx.AsyncClient, host: str, key: str) -> None:
        self._client = client
        self._url = host.rstrip("/") + "/batch/"
        self._key = key

    async def send(self, batch: Sequence[Event]) -> None:
        body = orjson.dumps({"api_key": self._key, "batch": list(batch)})
        response = await self._client.post(
            self._url, content=body, headers={"content-type": "application/json"}, timeout=10.0
        )
        if response.status_code >= 300:
            raise RuntimeError(f"PostHog answered {response.status_code}")


class JsonLinesSink:
    """One JSON object per line, appended to ``path`` (written off the event loop)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    async def send(self, batch: Sequence[Event]) -> None:
        data = b"".join(orjson.dumps(event) + b"\n" for event in batch)
        await asyncio.to_thread(self._append, data)

    def _append(self, data: bytes) -> None:
        with self._path.open("ab") as file:
            file.write(data)


class Analytics:
    """The queue in front of a sink, and its background sender."""

    def __init__(
        self,
        sink: AnalyticsSink,
        clock: Clock,
        *,
        process: str,
        batch_size: int = 100,
        flush_interval_s: float = 5.0,
        max_queue: int = 10_000,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._process = process
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._queue: deque[Event] = deque(maxlen=max_queue)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._streaks = FailureStreaks(log)
        self.dropped = 0
        self.sent = 0

    def capture(self, event: str, gateway: str, **properties: Any) -> None:
        """Queue one event; returns at once."""
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(
            {
                "event": event,
                "distinct_id": f"gateway:{gateway}",
                "timestamp": self._clock.now().isoformat(),
                "properties": {"gateway": gateway, "process": self._process, **properties},
            }
        )
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="modelsync-analytics")

    async def aclose(self) -> None:
        """Stop the sender, then send what is queued once more (best effort)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.flush()

    async def flush(self) -> bool:
        """Send everything queued, a batch at a time; ``False`` when the sink failed."""
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
            try:
                await self._sink.send(batch)
            except Exception as exc:  # noqa: BLE001 - any sink failure: keep the batch, retry
                self._queue.extendleft(reversed(batch))
                self._streaks.failed("sink", "analytics.sink_failing", error=type(exc).__name__)
                return False
            self.sent += len(batch)
            self._streaks.recovered("sink", "analytics.sink_recovered")
        return True

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()
