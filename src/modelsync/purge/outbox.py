"""Outbound change webhooks through an outbox table: a restart loses none.

Subscribers (``MODELSYNC_PURGE__WEBHOOKS``, each a URL and its own ``whsec_`` secret) get one
delivery per committed run: its changes and ``catalog_version``, signed with Standard Webhooks
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64>``)::

    {"type": "catalog.changed", "timestamp": "...",
     "data": {"run_id": 42, "gateway": "groq", "catalog_version": 7, "change_count": 3,
              "truncated": false, "changes": [<as GET /api/changes lists them>]}}

``webhook-id`` is ``run_<run id>`` (``version_<catalog version>`` for an identity migration),
the same for every retry and every process, so a subscriber deduplicates on it. At most
:data:`MAX_CHANGES` changes ride in one delivery (``truncated`` then, with the full count; the
rest is in ``GET /api/changes``).

:meth:`Outbox.fill` turns the change log after the stored cursor (``outbox_cursor``) into
``pending`` rows, one per subscriber and run, and advances the cursor in the same transaction;
the rows are unique per subscriber and ``webhook-id``, so several serving processes filling at
once add each delivery once. It runs after every batch of the change feed and at start, so a
run that committed while no server was up is sent when one starts. :meth:`Outbox.deliver_due`
claims due rows (a lock time, so two processes never send one row at once), sends each with a
per-call timeout, and marks it ``delivered``; a failure is retried with backoff and jitter until
the retry budget (``MODELSYNC_PURGE__WEBHOOK_BUDGET_S`` or ``ATTEMPTS``) is spent, then the row
is ``failed`` with its last error: recorded, never dropped silently.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import structlog
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from modelsync.clock import Clock
from modelsync.config import PurgeSettings
from modelsync.domain import ChangeRecord
from modelsync.errors import ConfigError, StoreError
from modelsync.observability.metrics import purge_call, purge_queue_depth
from modelsync.purge.record import DeliveryRecord
from modelsync.purge.targets import Backoff, retryable
from modelsync.purge.worker import where as _where
from modelsync.store.schema import changes, outbox_cursor, webhook_outbox
from modelsync.store.sql import SqlStore
from modelsync.webhooks.signing import sign_standard

log = structlog.get_logger("modelsync.purge")

MAX_CHANGES = 1_000
"""Changes carried by one delivery at most (``truncated`` past it)."""
CLAIM = 20
"""Rows claimed per round."""
LOCK_S = 120.0
"""A claimed row is not claimed again for this long (a process that died while sending)."""
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
NAME = "webhooks"


@dataclass(frozen=True, slots=True)
class Subscriber:
    url: str
    secret: str


def check_subscribers(settings: PurgeSettings) -> list[Subscriber]:
    """The configured subscribers; a ConfigError (one line) for a bad URL or secret."""
    found = []
    for position, subscriber in enumerate(settings.webhooks, start=1):
        where = f"MODELSYNC_PURGE__WEBHOOKS entry {position}"
        url = httpx.URL(subscriber.url.strip())
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(f"{where}: url must be an http(s) URL such as https://example.com/x")
        secret = subscriber.secret.get_secret_value().strip()
        body = secret.removeprefix("whsec_")
        try:
            valid = secret.startswith("whsec_") and bool(
                base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
            )
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ConfigError(f"{where}: secret must be a whsec_ secret (whsec_ and base64)")
        found.append(Subscriber(str(url), secret))
    return found


def deliveries(records: list[ChangeRecord], now: datetime) -> list[tuple[str, bytes]]:
    """PURE: ``(webhook-id, body)`` per run of ``records`` (in seq order), in run order."""
    runs: dict[str, list[ChangeRecord]] = defaultdict(list)
    for record in records:  # an identity migration has no run: its catalog version names it
        key = (
            f"run_{record.run_id}"
            if record.run_id is not None
            else (f"version_{record.catalog_version}")
        )
        runs[key].append(record)
    out = []
    for msg_id, group in runs.items():
        body = {
            "type": "catalog.changed",
            "timestamp": now.isoformat(),
            "data": {
                "run_id": group[0].run_id,
                "gateway": group[0].change.gateway if group[0].run_id is not None else None,
                "catalog_version": max(r.catalog_version for r in group),
                "change_count": len(group),
                "truncated": len(group) > MAX_CHANGES,
                "changes": [r.to_json() for r in group[:MAX_CHANGES]],
            },
        }
        out.append((msg_id, orjson.dumps(body)))
    return out


class Outbox:
    """The outbox of one serving process: fills from the log, delivers due rows."""

    def __init__(
        self,
        store: SqlStore,
        subscribers: list[Subscriber],
        client: httpx.AsyncClient,
        clock: Clock,
        *,
        backoff: Backoff,
        timeout_s: float,
        budget_s: float,
        poll_s: float = 1.0,
    ) -> None:
        self._store = store
        self._subscribers = subscribers
        self._secrets = {s.url: s.secret for s in subscribers}
        self._client = client
        self._clock = clock
        self._backoff = backoff
        self._timeout_s = timeout_s
        self._budget = timedelta(seconds=budget_s)
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._fill_lock = asyncio.Lock()
        self.pending = 0
        self.record = DeliveryRecord()

    @property
    def enabled(self) -> bool:
        return bool(self._subscribers)

    def wake(self) -> None:
        self._wake.set()

    def describe(self) -> dict[str, Any]:
        return self.record.describe(self.pending)

    def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._run(), name="modelsync-outbox")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.fill()
                while await self.deliver_due():
                    pass
                await self._count_pending()
            except (StoreError, OSError):
                log.warning("outbox.round_failed", exc_info=True)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            self._wake.clear()

    async def fill(self) -> int:
        """Turn the log after the cursor into pending rows; how many rows were added."""
        if not self.enabled:
            return 0
        async with self._fill_lock:
            database = self._store.database
            async with database.read("read the outbox cursor") as conn:
                cursor = (await conn.execute(select(outbox_cursor.c.last_seq))).scalar_one_or_none()
                head = (await conn.execute(select(func.max(changes.c.seq)))).scalar_one()
            if cursor is None:  # first start: only what commits from now on
                async with database.write("start the outbox") as conn:
                    await conn.execute(
                        self._insert(outbox_cursor).values(id=1, last_seq=int(head or 0))
                    )
                return 0
            records: list[ChangeRecord] = []
            after = int(cursor)
            while True:
                page = await self._store.list_changes(since=after, limit=MAX_CHANGES)
                records += page
                if len(page) < MAX_CHANGES:
                    break
                after = page[-1].seq
            if not records:
                return 0
            now = self._clock.now()
            rows = [
                {
                    "subscriber": subscriber.url,
                    "msg_id": msg_id,
                    "payload": body.decode(),
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for msg_id, body in deliveries(records, now)
                for subscriber in self._subscribers
            ]
            async with database.write("fill the outbox") as conn:
                insert = self._insert(webhook_outbox)
                await conn.execute(insert, rows)
                await conn.execute(
                    update(outbox_cursor)
                    .where(outbox_cursor.c.id == 1, outbox_cursor.c.last_seq < records[-1].seq)
                    .values(last_seq=records[-1].seq)
                )
            self.pending += len(rows)
            return len(rows)

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self._store.flags.name == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    async def _count_pending(self) -> None:
        async with self._store.database.read("count the outbox") as conn:
            found = await conn.execute(
                select(func.count()).where(webhook_outbox.c.status == PENDING)
            )
            self.pending = int(found.scalar_one())
        purge_queue_depth(NAME, self.pending)

    async def deliver_due(self) -> int:
        """Claim and send the due rows (at most :data:`CLAIM`); how many were claimed."""
        now = self._clock.now()
        o = webhook_outbox.c
        due = (
            select(o.id)
            .where(
                o.status == PENDING,
                o.next_attempt_at <= now,
                or_(o.locked_until.is_(None), o.locked_until < now),
            )
            .order_by(o.id)
            .limit(CLAIM)
        )
        if self._store.flags.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        async with self._store.database.write("claim outbox rows") as conn:
            claimed = (
                await conn.execute(
                    update(webhook_outbox)
                    .where(o.id.in_(due.scalar_subquery()))
                    .values(locked_until=now + timedelta(seconds=LOCK_S))
                    .returning(o.id, o.subscriber, o.msg_id, o.payload, o.attempts, o.created_at)
                )
            ).all()
        for row in sorted(claimed, key=lambda r: r[0]):
            await self._deliver(row)
        return len(claimed)

    async def _deliver(self, row: Any) -> None:
        row_id, url, msg_id, payload, attempts, created = row
        secret = self._secrets.get(url)
        now = self._clock.now()
        error: str | None
        give_up = False
        if secret is None:
            error, give_up = "subscriber no longer configured", True
        else:
            body = payload.encode()
            stamp = int(now.timestamp())
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign_standard(secret, msg_id, stamp, body),
            }
            try:
                response = await self._client.post(
                    url, content=body, headers=headers, timeout=self._timeout_s
                )
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__} calling {_where(url)}"
            else:
                error = None
                if not response.is_success:
                    error = f"HTTP {response.status_code} from {_where(url)}"
                    give_up = not retryable(response.status_code)  # the subscriber refused
        o = webhook_outbox.c
        done = self._clock.now()
        gave_up = False
        if error is None:
            values: dict[str, Any] = {
                "status": DELIVERED,
                "delivered_at": done,
                "attempts": attempts + 1,
                "locked_until": None,
                "last_error": None,
            }
        else:
            attempts += 1
            spent = attempts >= self._backoff.attempts or done - created >= self._budget
            gave_up = give_up or spent
            values = {"attempts": attempts, "locked_until": None, "last_error": error}
            if gave_up:
                error = f"{error}; gave up after {attempts} attempt{'s' if attempts > 1 else ''}"
                values |= {"status": FAILED, "last_error": error}
            else:
                values["next_attempt_at"] = done + timedelta(seconds=self._backoff.delay(attempts))
        async with self._store.database.write("record an outbox delivery") as conn:
            await conn.execute(update(webhook_outbox).where(and_(o.id == row_id)).values(values))
        # the record follows the row: whoever reads the status reads what the table holds
        purge_call(NAME, "ok" if error is None else "failed" if gave_up else "retried")
        if error is None:
            self.record.sent(done)
            return
        if gave_up:
            self.record.failed(done, error)
            log.warning("outbox.gave_up", msg_id=msg_id, subscriber=_where(url), error=error)
        else:  # to be retried: the status shows why it waits
            self.record.last_error = error

    async def rows(self) -> list[dict[str, Any]]:
        """Every row, oldest first (tests and the status of deliveries)."""
        async with self._store.database.read("read the outbox") as conn:
            found = await conn.execute(select(webhook_outbox).order_by(webhook_outbox.c.id))
            return [dict(row) for row in found.mappings()]
