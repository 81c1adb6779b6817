"""Each committed run is purged outbound once per fleet: the process that claims it does it.

Every serving process tails the change log (:mod:`modelsync.bus`) and invalidates its own caches
for every run, whoever committed it. The outbound purgers (Next.js, Fastly, Cloudflare) must hear
of a run once, not once per server: :class:`FleetPurge` claims each run's catalog version in the
outbox table (a ``claimed`` row, subscriber :data:`SUBSCRIBER`, ``webhook-id``-like key
``version_<n>``, unique like every outbox row) and only the process whose insert took the row
hands that run's tags and paths to its purgers. Claiming is a background task: it never delays
the feed, a sync or a request. A claim that cannot be written (the database away) purges anyway
and logs it: a purge may then repeat, it is never dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import structlog
from sqlalchemy.dialects import postgresql, sqlite

from modelsync.bus.events import FeedBatch
from modelsync.cache.tags import Invalidation
from modelsync.clock import Clock
from modelsync.errors import StoreError
from modelsync.store.schema import webhook_outbox
from modelsync.store.sql import SqlStore

log = structlog.get_logger("modelsync.purge")

SUBSCRIBER = "purge:runs"
"""The outbox rows that claim a run's outbound purge (never delivered by the outbox itself)."""
CLAIMED = "claimed"

Purge = Callable[[Invalidation, str], object]
"""Hands an invalidation to the purgers (:meth:`modelsync.cache.hub.Invalidations.purge`)."""


class FleetPurge:
    """Claims the runs of each feed batch and purges the claimed ones (in the background)."""

    def __init__(self, purge: Purge, store: SqlStore | None, clock: Clock) -> None:
        self._purge = purge
        self._store = store
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self.claimed = 0
        """Runs this process claimed (and purged)."""

    def offer(self, batch: FeedBatch) -> None:
        """Claim and purge ``batch``'s runs without waiting (a batch without runs: nothing)."""
        if not batch.versions:
            return
        task = asyncio.create_task(self._claim_and_purge(batch), name="modelsync-purge-claim")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _claim_and_purge(self, batch: FeedBatch) -> None:
        try:
            mine = await self.claim(batch.versions)
        except (StoreError, OSError):
            log.warning("purge.claim_failed", catalog_version=batch.catalog_version, exc_info=True)
            mine = batch.versions
        if not mine:
            return
        self.claimed += len(mine)
        low, high = min(mine), max(mine)
        reason = f"change log v{high}" if low == high else f"change log v{low}..v{high}"
        self._purge(batch.only(mine, rest=False).invalidation(), reason)

    async def claim(self, versions: Iterable[int]) -> frozenset[int]:
        """The catalog versions whose claim this process's insert took (all without a store)."""
        wanted = sorted(set(versions))
        if self._store is None or not wanted:
            return frozenset(wanted)
        now = self._clock.now()
        rows = [
            {
                "subscriber": SUBSCRIBER,
                "msg_id": f"version_{version}",
                "payload": "",
                "status": CLAIMED,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "delivered_at": now,
            }
            for version in wanted
        ]
        dialect = postgresql if self._store.flags.name == "postgresql" else sqlite
        statement = (
            dialect.insert(webhook_outbox)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(webhook_outbox.c.msg_id)
        )
        async with self._store.database.write("claim runs' purges") as conn:
            taken = (await conn.execute(statement)).scalars().all()
        return frozenset(int(str(msg_id).removeprefix("version_")) for msg_id in taken)

    async def drain(self) -> None:
        """Wait for the claims under way (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
