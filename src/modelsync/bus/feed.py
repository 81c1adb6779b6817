"""The change feed: this process tails the change log and fans each new batch out in order.

:class:`ChangeFeed` keeps a cursor (the last ``seq`` and the catalog version it has applied) and
catches up whenever it is woken: by a PostgreSQL notification (:class:`~modelsync.bus.listen.
PgListener`), by an in-process run (:meth:`ChangeFeed.wake`), or by its poll (at most
``poll_s`` on SQLite and whenever PostgreSQL's listener is down, ``notified_poll_s`` while it
listens). Catching up reads everything after the cursor, so a lost notification or a dropped
listener connection delays a change by one poll at most, and the cursor makes each change go out
exactly once. See :mod:`modelsync.bus` for the subscriber interface.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from types import TracebackType
from typing import Any, Self

import structlog
from sqlalchemy import func, select

from modelsync.bus.events import FeedBatch, Health, MissingMarks, health_changes
from modelsync.config import Settings
from modelsync.domain import ChangeRecord, GatewayHealth, Presence
from modelsync.errors import StoreError
from modelsync.observability import FailureStreaks
from modelsync.store.base import Store
from modelsync.store.schema import catalog_meta, changes, gateways, models, sync_runs
from modelsync.store.sql import SqlStore
from modelsync.sync.offload import collector_paused

log = structlog.get_logger("modelsync.bus")

PAGE = 200
"""Changes read per query while catching up. Each page is typed on the serving loop (its JSON
parsed, its ChangeRecords built: about 60 us a change), between reads that let requests run: a
page of 1,000 held ``/healthz`` up to 60 ms while a 50,000-model first sync was read back."""
MISSING_IDS_CAP = 10_000
"""At most this many missing ids per gateway in one :class:`MissingMarks`."""

Listener = Callable[[FeedBatch], Awaitable[None] | None]


class FeedSource:
    """What the feed reads: the head, the changes after a seq, missing marks, health."""

    def __init__(self, store: SqlStore, *, failing_after: int, breaker_threshold: int) -> None:
        self.store = store
        self._failing_after = failing_after
        self._breaker_threshold = breaker_threshold

    async def last_seq(self) -> int:
        async with self.store.database.read("read the change log's head") as conn:
            found = (await conn.execute(select(func.max(changes.c.seq)))).scalar_one_or_none()
        return int(found or 0)

    async def oldest_seq(self) -> int | None:
        """The oldest change the log still holds (``None``: empty)."""
        async with self.store.database.read("read the change log's tail") as conn:
            found = (await conn.execute(select(func.min(changes.c.seq)))).scalar_one_or_none()
        return None if found is None else int(found)

    async def catalog_version(self) -> int:
        return (await self.head())[0]

    async def head(self) -> tuple[int, int]:
        """The catalog version and the newest seq, in one statement."""
        version, newest, _ = await self.bounds()
        return version, newest

    async def bounds(self) -> tuple[int, int, int]:
        """The catalog version, the newest seq and the oldest seq (0: empty log), in one
        statement (the idle poll's read; both ends of ``seq``'s index)."""
        newest = select(func.max(changes.c.seq)).scalar_subquery()
        oldest = select(func.min(changes.c.seq)).scalar_subquery()
        statement = select(catalog_meta.c.version, newest, oldest).where(catalog_meta.c.id == 1)
        async with self.store.database.read("read the change log's head") as conn:
            version, seq, first = (await conn.execute(statement)).one()
        return int(version), int(seq or 0), int(first or 0)

    async def changes_after(self, seq: int, limit: int = PAGE) -> list[ChangeRecord]:
        return await self.store.list_changes(since=seq, limit=limit)

    async def health(self) -> dict[str, Health]:
        """Every gateway's health (:func:`~modelsync.sync.health.gateway_health`'s rule), read
        from the four columns it needs."""
        g = gateways.c
        statement = select(g.name, g.enabled, g.consecutive_failures, g.last_success_at)
        async with self.store.database.read("read gateway health") as conn:
            rows = (await conn.execute(statement)).all()
        found = {}
        for name, enabled, failures, last_success in rows:
            if not enabled:
                status = GatewayHealth.DISABLED
            elif failures == 0:
                status = GatewayHealth.OK
            elif failures >= self._failing_after or last_success is None:
                status = GatewayHealth.FAILING
            else:
                status = GatewayHealth.DEGRADED
            found[name] = Health(status, failures >= self._breaker_threshold)
        return found

    async def missing_between(self, after: int, upto: int) -> tuple[MissingMarks, ...]:
        """Gateways with runs in catalog versions ``(after, upto]`` that marked models missing."""
        if upto <= after:
            return ()
        runs = (
            select(sync_runs.c.gateway, func.max(sync_runs.c.catalog_version))
            .where(
                sync_runs.c.catalog_version > after,
                sync_runs.c.catalog_version <= upto,
                sync_runs.c.missing > 0,
            )
            .group_by(sync_runs.c.gateway)
            .order_by(func.max(sync_runs.c.catalog_version))
        )
        marks = []
        async with self.store.database.read("read missing marks") as conn:
            for gateway, version in (await conn.execute(runs)).all():
                ids = (
                    select(models.c.model_id)
                    .where(models.c.gateway == gateway, models.c.presence == Presence.MISSING.value)
                    .distinct()
                    .order_by(models.c.model_id)
                    .limit(MISSING_IDS_CAP)
                )
                found = (await conn.execute(ids)).scalars().all()
                marks.append(MissingMarks(gateway, tuple(found), int(version)))
        return tuple(marks)


class Subscription:
    """One subscriber's bounded buffer of batches; iterate it (``async for batch in sub``).

    When the subscriber falls more than ``max_events`` events behind it is closed and
    ``overflowed`` is set: iteration ends after what it already holds is dropped, so a slow
    subscriber never holds memory or the feed back. Close it (or use ``with``) when done.
    """

    def __init__(self, feed: ChangeFeed, max_events: int) -> None:
        self._feed = feed
        self._max = max_events
        self._batches: deque[FeedBatch] = deque()
        self._pending = 0
        self._ready = asyncio.Event()
        self.closed = False
        self.overflowed = False
        self.start_seq = feed.last_seq
        """The feed's cursor when this subscription began: it gets every change after it."""

    def offer(self, batch: FeedBatch) -> None:
        """Called by the feed; never blocks."""
        if self.closed:
            return
        size = _size(batch)
        if self._batches and self._pending + size > self._max:
            self.overflowed = True
            self._batches.clear()
            self.close()
            return
        self._batches.append(batch)
        self._pending += size
        self._ready.set()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._feed._unsubscribe(self)
        self._ready.set()

    def __aiter__(self) -> AsyncIterator[FeedBatch]:
        return self

    async def __anext__(self) -> FeedBatch:
        while not self._batches:
            if self.closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        batch = self._batches.popleft()
        self._pending -= _size(batch)
        return batch

    async def next(self, timeout_s: float) -> FeedBatch | None:
        """The next batch, or ``None`` after ``timeout_s`` without one (raises
        StopAsyncIteration once closed)."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout_s)
        except TimeoutError:
            return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _size(batch: FeedBatch) -> int:
    return len(batch.changes) + len(batch.missing) + len(batch.health)


class ChangeFeed:
    """Tails the change log and fans out every new :class:`FeedBatch`, in commit order, once.

    ``listener_connect`` (PostgreSQL) is a :class:`~modelsync.bus.listen.PgListener` that wakes
    the feed on each notification; without one (SQLite), or while it is disconnected, the feed
    polls every ``poll_s`` seconds.
    """

    def __init__(
        self,
        source: FeedSource,
        *,
        poll_s: float = 0.5,
        notified_poll_s: float = 5.0,
        max_events: int = 10_000,
    ) -> None:
        self._source = source
        self._poll_s = poll_s
        self._notified_poll_s = notified_poll_s
        self._max_events = max_events
        self._subscriptions: list[Subscription] = []
        self._listeners: list[Listener] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._listener: Any = None
        self._health: dict[str, Health] = {}
        self._streaks = FailureStreaks(log)
        self.last_seq = 0
        """The ``seq`` of the last change fanned out (or the log's head at start)."""
        self.oldest_kept = 0
        """The oldest ``seq`` the log held at the last catch-up (a rise: retention pruned)."""
        self.applied_version = 0
        """The catalog version this process has applied: every change up to it went out."""
        self.batches = 0
        self.fast_batches = 0
        """Batches of this process's own runs, fanned out without reading them back."""
        self.started = False

    # -- the interface --------------------------------------------------------------------

    def subscribe(self, *, max_events: int | None = None) -> Subscription:
        """A new subscription: every batch after the feed's cursor now, until it is closed."""
        subscription = Subscription(self, max_events or self._max_events)
        self._subscriptions.append(subscription)
        return subscription

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(batch)`` (sync or async) for every batch, in order, inside the feed's
        loop: keep it quick (queue slow work). Its errors are logged, never raised."""
        self._listeners.append(listener)

    async def oldest_seq(self) -> int | None:
        """The oldest ``seq`` the log still holds (older ones were pruned); ``None``: empty."""
        return await self._source.oldest_seq()

    def wake(self) -> None:
        """Catch up now (a run of this process committed, or a notification arrived)."""
        self._wake.set()

    @property
    def listening(self) -> bool:
        """Whether PostgreSQL notifications are arriving (else the feed polls every ``poll_s``)."""
        return bool(self._listener is not None and self._listener.connected)

    def describe(self) -> dict[str, Any]:
        """For the status API: the applied version and cursor, how the feed is woken."""
        mode = "listen" if self.listening else "poll"
        return {
            "applied_catalog_version": self.applied_version,
            "last_seq": self.last_seq,
            "mode": mode,
            "subscribers": len(self._subscriptions),
            "batches": self.batches,
        }

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, listener: Any = None) -> None:
        """Take the log's head as the cursor (only later changes fan out) and start tailing.
        ``listener`` has ``run()``, ``connected`` and calls :meth:`wake` on notifications."""
        self.applied_version, self.last_seq, self.oldest_kept = await self._source.bounds()
        self._health = await self._source.health()
        self._listener = listener
        self._task = asyncio.create_task(self._run(), name="modelsync-change-feed")
        self.started = True

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        for subscription in list(self._subscriptions):
            subscription.close()

    async def _run(self) -> None:
        listen_task = None
        if self._listener is not None:
            listen_task = asyncio.create_task(self._listener.run(), name="modelsync-pg-listen")
        try:
            while True:
                interval = self._notified_poll_s if self.listening else self._poll_s
                woken = False
                with suppress(TimeoutError):
                    woken = await asyncio.wait_for(self._wake.wait(), interval)
                self._wake.clear()
                try:
                    await self.catch_up(expect=woken)
                except (StoreError, OSError):
                    self._streaks.failed("catch_up", "feed.catch_up_failed", exc_info=True)
                else:
                    self._streaks.recovered("catch_up", "feed.catch_up_recovered")
        finally:
            if listen_task is not None:
                listen_task.cancel()
                with suppress(asyncio.CancelledError):
                    await listen_task

    async def catch_up(self, *, expect: bool = False) -> FeedBatch | None:
        """Read everything after the cursor and fan it out; the batch (``None``: nothing new).

        ``expect``: woken (a notification, a run of this process), so something is probably
        new: the log's bounds and its first page are read at once, not one after the other
        (an idle poll reads the bounds alone, and the page only when they moved)."""
        # reading a big run back builds a record for each of its changes: no full collection
        # meanwhile (each would walk every one of them, for hundreds of ms, on the loop)
        async with self._lock:
            with collector_paused():
                return await self._catch_up(expect=expect)

    async def _catch_up(self, *, expect: bool) -> FeedBatch | None:
        """:meth:`catch_up` under its lock, the collector paused."""
        records: list[ChangeRecord] = []
        after = self.last_seq
        if expect:
            (version, newest, oldest), page = await asyncio.gather(
                self._source.bounds(), self._source.changes_after(after)
            )
        else:
            version, newest, oldest = await self._source.bounds()
            moved = newest > after or version > self.applied_version
            page = await self._source.changes_after(after) if moved else []
        while page:
            records.extend(page)
            after = page[-1].seq
            if len(page) < PAGE and after >= newest:
                break
            page = await self._source.changes_after(after)
        # the oldest seq rose, or the log emptied: retention pruned changes
        pruned = self.oldest_kept > 0 and (oldest == 0 or oldest > self.oldest_kept)
        self.oldest_kept = oldest
        applied = max([version, self.applied_version, *(r.catalog_version for r in records)])
        missing, health = await asyncio.gather(
            self._source.missing_between(self.applied_version, applied),
            self._source.health(),
        )
        batch = FeedBatch(
            applied, tuple(records), missing, health_changes(self._health, health), pruned
        )
        self._health = health
        self.applied_version = applied
        if records:
            self.last_seq = records[-1].seq
        if batch.is_empty:
            return None
        await self._fan_out(batch)
        return batch

    async def committed(self, records: Sequence[ChangeRecord], catalog_version: int) -> bool:
        """A run of this process just committed ``records`` as ``catalog_version``: fan them out
        without reading them back when they follow the cursor exactly (the next version, the
        next seqs); otherwise wake a catch-up. Whether the fast path was taken. (A run that marks
        models missing is woken, not fast-pathed: its marks are read from the store.)"""
        async with self._lock:
            first = self.last_seq + 1
            seqs = [record.seq for record in records]
            if (
                not records
                or catalog_version != self.applied_version + 1
                or seqs != list(range(first, first + len(records)))
            ):
                self.wake()
                return False
            batch = FeedBatch(catalog_version, tuple(records))
            self.applied_version = catalog_version
            self.last_seq = seqs[-1]
            self.fast_batches += 1
            await self._fan_out(batch)
            return True

    async def _fan_out(self, batch: FeedBatch) -> None:
        self.batches += 1
        for subscription in list(self._subscriptions):
            subscription.offer(batch)
        for listener in self._listeners:
            try:
                result = listener(batch)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("feed.listener_failed")

    def _unsubscribe(self, subscription: Subscription) -> None:
        with suppress(ValueError):
            self._subscriptions.remove(subscription)


@asynccontextmanager
async def open_feed(store: Store, settings: Settings) -> AsyncIterator[ChangeFeed]:
    """A started feed on ``store`` (listening on PostgreSQL), stopped on exit."""
    from modelsync.bus.listen import PgListener  # noqa: PLC0415 - asyncpg only when needed

    if not isinstance(store, SqlStore):
        raise TypeError("the change feed reads a SqlStore")
    scheduler, options = settings.scheduler, settings.feed
    source = FeedSource(
        store,
        failing_after=scheduler.breaker_threshold,
        breaker_threshold=scheduler.breaker_threshold,
    )
    feed = ChangeFeed(
        source,
        poll_s=options.poll_s,
        notified_poll_s=options.notified_poll_s,
        max_events=options.subscriber_buffer,
    )
    listener = None
    if store.flags.name == "postgresql":
        listener = PgListener(store.database.url, feed.wake, retry_s=options.poll_s)
    await feed.start(listener)
    try:
        yield feed
    finally:
        await feed.stop()
