"""PostgreSQL ``LISTEN`` on the change-log channel: one asyncpg connection of its own per process.

Every committed run sends ``NOTIFY modelsync_changes`` in its transaction
(:data:`~modelsync.store.statements.CHANGES_CHANNEL`); each notification wakes the feed. The
connection is checked every ``check_s`` seconds; when it is lost (the server restarted, the
backend was terminated) :attr:`PgListener.connected` turns false, the feed falls back to its short
poll, and the listener reconnects every ``retry_s`` seconds. After each (re)connection the feed is
woken once, so whatever committed while nobody listened is read at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import asyncpg
import structlog
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import URL

from modelsync.observability import FailureStreaks
from modelsync.store.statements import CHANGES_CHANNEL

log = structlog.get_logger("modelsync.bus")

APPLICATION_NAME = "modelsync-feed"
"""The listening connection's ``application_name`` (seen in ``pg_stat_activity``)."""


class PgListener:
    """Calls ``on_notify()`` for every notification on the channel while connected."""

    def __init__(
        self,
        url: URL,
        on_notify: Callable[[], None],
        *,
        check_s: float = 2.0,
        retry_s: float = 1.0,
        timeout_s: float = 5.0,
    ) -> None:
        args, kwargs = PGDialect_asyncpg().create_connect_args(url)  # type: ignore[no-untyped-call]
        for adapter_option in ("prepared_statement_cache_size", "prepared_statement_name_func"):
            kwargs.pop(adapter_option, None)
        self._connect_args: tuple[Any, dict[str, Any]] = (args, kwargs)
        self._on_notify = on_notify
        self._check_s = check_s
        self._retry_s = retry_s
        self._timeout_s = timeout_s
        self._streaks = FailureStreaks(log)
        self.connected = False
        self.connections = 0
        """How many times the listener has connected (1 without losses)."""

    def _notified(self, *_: Any) -> None:
        self._on_notify()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after every loss."""
        while True:
            try:
                await self._listen_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                self._streaks.failed("listen", "feed.listen_lost", exc_info=True)
            self.connected = False
            self._on_notify()  # poll at once: anything that committed meanwhile
            await asyncio.sleep(self._retry_s)

    async def _listen_once(self) -> None:
        args, kwargs = self._connect_args
        connection = await asyncpg.connect(
            *args,
            **kwargs,
            timeout=self._timeout_s,
            server_settings={"application_name": APPLICATION_NAME},
        )
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _: lost.set())
            await connection.add_listener(CHANGES_CHANNEL, self._notified)
            self.connected = True
            self.connections += 1
            self._streaks.recovered("listen", "feed.listen_recovered")
            self._on_notify()
            while not lost.is_set():
                with suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._check_s)
                if not lost.is_set():
                    await connection.fetchval("SELECT 1", timeout=self._timeout_s)
            raise ConnectionError("the listening connection was closed")
        finally:
            self.connected = False
            with suppress(Exception):
                await asyncio.wait_for(connection.close(), self._timeout_s)
