"""This process in the fleet: the catalog version it has applied, its heartbeat, its gauges.

Every ``heartbeat_s`` the :class:`ProcessHeartbeat` reads the gateways' state and the store's
catalog version (one statement each), refreshes the per-gateway gauges of ``/metrics`` (models,
breaker, failures) and this process's lag, records the process in the store's registry with
the version it has applied (:meth:`~modelsync.store.base.Store.heartbeat_process`), and reads
the live processes back, so every process's ``/api/sync/status`` lists the fleet (as of its
last heartbeat: the status read itself stays one statement).

A process has *applied* a catalog version when its caches were invalidated for every change up
to it: its own runs advance it as they commit, and so does the change-log tail that follows other
processes' commits. :func:`~modelsync.sync.health.lagging` says when being behind is a problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from datetime import datetime

import structlog

from modelsync import __version__
from modelsync.clock import Clock
from modelsync.errors import StoreError
from modelsync.observability import FailureStreaks
from modelsync.observability.metrics import Metrics
from modelsync.store.base import GatewayState, ProcessBeat, ProcessRow, Store
from modelsync.sync.health import lagging, process_json

__all__ = ["AppliedVersion", "ProcessHeartbeat", "lagging", "process_json"]
from modelsync.sync.schedule import BreakerState

log = structlog.get_logger("modelsync.processes")


class AppliedVersion:
    """The catalog version this process has applied; only ever goes up."""

    def __init__(self, version: int = 0) -> None:
        self.version = version

    def advance(self, version: int) -> None:
        self.version = max(self.version, version)


class ProcessHeartbeat:
    """The background loop described in the module docstring."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        applied: AppliedVersion,
        clock: Clock,
        *,
        owner: str,
        breaker: Callable[[GatewayState], BreakerState],
        heartbeat_s: float = 5.0,
        expire_after_s: float = 30.0,
        started_at: datetime | None = None,
    ) -> None:
        self._expire_after_s = expire_after_s
        self._started_at = started_at or clock.now()
        self._store = store
        self._metrics = metrics
        self._applied = applied
        self._clock = clock
        self._owner = owner
        self._breaker = breaker
        self._heartbeat_s = heartbeat_s
        self._task: asyncio.Task[None] | None = None
        self._streaks = FailureStreaks(log)
        self.behind_since: datetime | None = None
        self.store_version = 0
        self.fleet: list[ProcessRow] = []
        """The live processes as of the last heartbeat (what the status API lists: a status read
        stays one statement)."""

    async def start(self) -> None:
        await self.beat()
        self._task = asyncio.create_task(self._loop(), name="modelsync-heartbeat")

    async def stop(self) -> None:
        """Stop beating and leave the registry (best effort: else the row expires)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            with contextlib.suppress(StoreError):
                await self._store.leave_process(self._owner)

    async def beat(self) -> None:
        """One heartbeat: gauges refreshed, lag measured."""
        states = await self._store.gateway_states()
        for state in states:
            self._metrics.gateway_state(
                state.name,
                models=state.model_count,
                breaker=self._breaker(state).value,
                failures=state.consecutive_failures,
            )
        self._metrics.gateways.forget({state.name for state in states})
        self.store_version = version = await self._store.catalog_version()
        now = self._clock.now()
        applied = self._applied.version
        if applied >= version:
            self.behind_since = None
        elif self.behind_since is None:
            self.behind_since = now
        behind_s = (now - self.behind_since).total_seconds() if self.behind_since else 0.0
        self._metrics.process_lag(
            self._owner, store_version=version, applied=applied, behind_s=behind_s
        )
        beat = ProcessBeat(
            id=self._owner,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            started_at=self._started_at,
            applied_version=applied,
        )
        await self._store.heartbeat_process(beat, expire_after_s=self._expire_after_s)
        self.fleet = await self._store.live_processes(expire_after_s=self._expire_after_s)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            try:
                await self.beat()
            except Exception:  # noqa: BLE001 - the database away: once a streak, next beat
                self._streaks.failed("beat", "process.heartbeat_failed", exc_info=True)
            else:
                self._streaks.recovered("beat", "process.heartbeat_recovered")
