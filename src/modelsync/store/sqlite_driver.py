"""aiosqlite with fewer trips to its thread: the driver connection the SQLite engine is built on.

aiosqlite runs every sqlite3 call on one thread per connection, and each call is a round trip
(queue, thread wake-up, ``call_soon_threadsafe``) of tens of microseconds. SQLAlchemy's adapter
makes four per statement that returns rows: open a cursor, execute, fetch all, close. This
connection makes one: opening and closing a sqlite3 cursor run inline (they touch no database
page; the connection is opened with ``check_same_thread=False``, and sqlite3 is built
thread-safe, ``sqlite3.threadsafety == 3``), and ``execute`` fetches the rows in the same trip
(SQLAlchemy fetches every row of a non-streaming result at once anyway). Safe because a
connection is only ever used by one task at a time: the pool hands it to one holder, and the
store's writer is behind a lock.

Recording an unchanged run thus costs three trips (update, insert, commit) instead of eight.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, cast

import aiosqlite
from aiosqlite.context import contextmanager
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL


def _execute(cursor: sqlite3.Cursor, sql: str, parameters: Any) -> list[Any] | None:
    """On the driver's thread: execute, and fetch every row when the statement returns rows."""
    cursor.execute(sql, parameters)
    return cursor.fetchall() if cursor.description is not None else None


class PrefetchingCursor(aiosqlite.Cursor):
    """An aiosqlite cursor whose ``execute`` brings the rows back with it."""

    def __init__(self, conn: aiosqlite.Connection, cursor: sqlite3.Cursor) -> None:
        super().__init__(conn, cursor)
        self._rows: list[Any] = []

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> PrefetchingCursor:
        """Execute and fetch in one trip to the driver thread."""
        on_thread = cast(Callable[..., Awaitable[list[Any] | None]], self._execute)
        rows = await on_thread(_execute, self._cursor, sql, parameters or ())
        self._rows = rows or []
        return self

    async def fetchall(self) -> list[Any]:
        """The prefetched rows."""
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """The next prefetched rows."""
        count = self._cursor.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Any:
        """The next prefetched row."""
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        """Close inline: resetting a finished statement needs no trip to the thread."""
        self._rows = []
        self._cursor.close()


class PrefetchingConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors open inline and prefetch their rows."""

    @contextmanager
    async def cursor(self) -> aiosqlite.Cursor:
        """A new cursor, made without a trip to the driver thread."""
        return PrefetchingCursor(self, self._conn.cursor())


def sqlite_connect(url: URL, **options: Any) -> Callable[[], sqlite3.Connection]:
    """``sqlite3.connect`` with the URL's arguments and ``options``, usable from any thread (one
    at a time)."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(url)
    kwargs.update(options, check_same_thread=False)
    return partial(sqlite3.connect, *args, **kwargs)


def connector(url: URL, **options: Any) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """SQLAlchemy's ``async_creator`` for the URL: sqlite3.connect with the URL's arguments."""
    connect = sqlite_connect(url, **options)

    async def create() -> aiosqlite.Connection:
        connection = PrefetchingConnection(connect, iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does: never hold the process open
        return await connection

    return create
