"""The change-log fan-out: every serving process tails the change log and tells its subscribers.

The change log (the ``changes`` table, ``seq`` increasing in commit order) is the source of truth,
whoever wrote it: this server's scheduler, another server, or ``modelsync sync`` in another
process. Each serving process runs one :class:`ChangeFeed` (started and stopped by the app's
lifespan, reachable as ``services.feed``) that catches up with the log:

* on PostgreSQL when a notification arrives (every committed run sends ``NOTIFY
  modelsync_changes`` inside its transaction; :class:`~modelsync.bus.listen.PgListener`), with a
  poll every few seconds as a safety net, and a short poll (``poll_s``) while the listening
  connection is down;
* on SQLite by polling the catalog version and the log every ``poll_s`` (at most 1 s);
* at once after a run of this process (:meth:`ChangeFeed.wake`).

It records the catalog version it has applied (:attr:`ChangeFeed.applied_version`, shown under
``"feed"`` in ``GET /api/sync/status``) and fans out each catch-up as one :class:`FeedBatch`:
the new changes (:class:`~modelsync.domain.ChangeRecord`: ``seq``, kind, gateway, canonical id,
fields, ``catalog_version``), models marked ``missing`` (:class:`MissingMarks`) and gateway
health changes (:class:`HealthChange`). :meth:`FeedBatch.invalidation` gives the tags and paths
of DESIGN section 7 for all of it.

The interface, for in-process subscribers (the tagged cache, the purgers, the live stream)::

    feed.add_listener(callback)          # callback(batch) -> None | awaitable; every batch, in
                                         # order, in the feed's task: quick (queue slow work)

    with feed.subscribe() as batches:    # a bounded buffer of its own, from the cursor now on
        async for batch in batches:      # ends when closed, or when it fell more than
            ...                          # max_events behind (batches.overflowed is then set)

A change goes out exactly once per process: the cursor is the last ``seq`` fanned out, and a
catch-up reads everything after it, so a lost notification or a dropped connection delays a
change by one poll at most and never loses or repeats it.
"""

from __future__ import annotations

from modelsync.bus.events import FeedBatch, Health, HealthChange, MissingMarks
from modelsync.bus.feed import ChangeFeed, FeedSource, Listener, Subscription, open_feed

__all__ = [
    "ChangeFeed",
    "FeedBatch",
    "FeedSource",
    "Health",
    "HealthChange",
    "Listener",
    "MissingMarks",
    "Subscription",
    "open_feed",
]
